package peer

import (
	"math"
	"net"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// stats are a peer's live figures. The peer actor (and, for lastIn, the UDP reader) writes
// them with atomic stores; the admin API reads them from any goroutine through Info, without
// asking the actor.
type stats struct {
	packetsIn, bytesIn   atomic.Uint64
	packetsOut, bytesOut atomic.Uint64
	lastIn               atomic.Int64 // unix nanoseconds of the last datagram from the peer
	srtpReady            atomic.Bool
	sendAddr             atomic.Pointer[net.UDPAddr] // where media goes (last USE-CANDIDATE)
	sendSeen             atomic.Int64                // unix nanoseconds of the last datagram from sendAddr
	ssrcIn               atomic.Uint32
	fractionLost         atomic.Uint64 // float64 bits
	packetsLost          atomic.Int64
	jitterMs             atomic.Uint64 // float64 bits
}

// endpoint is what the UDP hot path finds in the look-up snapshots: where to send a
// datagram and how to check a STUN request. Immutable after registration except stats.
type endpoint struct {
	pid       *actor.PID
	ufrag     string
	client    string // the a=ice-ufrag of the offer: the second half of every valid USERNAME
	userID    string
	channelID string
	key       []byte // stun.NewShortTermIntegrity(serverPwd)
	track     msg.TrackInfo
	stats     *stats
	now       func() time.Time

	// listenOnly: the answer said the client would not send (its offer was recvonly or
	// inactive); its RTP is dropped and counted (docs/media.md).
	listenOnly bool
}

// info reads the endpoint's figures for the admin API.
func (e *endpoint) info() msg.PeerDetail {
	s := e.stats
	addr := ""
	if a := s.sendAddr.Load(); a != nil {
		addr = a.String()
	}
	idle := 0.0
	if last := s.lastIn.Load(); last != 0 {
		idle = e.now().Sub(time.Unix(0, last)).Seconds()
	}
	track := e.track
	track.SSRCIn = s.ssrcIn.Load()
	return msg.PeerDetail{
		PeerInfo: msg.PeerInfo{
			Ufrag: e.ufrag, UserID: e.userID, ChannelID: e.channelID, Address: addr,
			IdleS: math.Round(idle*1000) / 1000, SRTPReady: s.srtpReady.Load(), ListenOnly: e.listenOnly,
			PacketsIn: s.packetsIn.Load(), PacketsOut: s.packetsOut.Load(),
			BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
			FractionLost: math.Float64frombits(s.fractionLost.Load()),
			PacketsLost:  s.packetsLost.Load(),
			JitterMs:     math.Float64frombits(s.jitterMs.Load()),
		},
		Tracks: []msg.TrackInfo{track},
	}
}
