package peer

import (
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

// stream is one member's outbound media stream: the rewriter that makes every talker's packets
// one continuous stream for this listener, and the SRTP context that encrypts them. It is the
// msg.Stream the channel's relay path drives (docs/architecture.md, "Run to completion"):
// rw and hdr are touched only there, serialised by the channel actor's mailbox, never by the
// peer actor. The peer actor publishes what the stream needs from the DTLS side — the SRTP
// context once the handshake is done, nil again when the peer stops — through local, and the
// send address through the endpoint's stats.
type stream struct {
	// static after construction
	m  *Media
	ep *endpoint

	local atomic.Pointer[srtp.Context] // written by the peer actor, read by Seal

	// owned by the channel's relay path
	rw     media.Rewriter
	hdr    rtp.Header
	lastTo *net.UDPAddr   // the send address last seen, and
	to     netip.AddrPort // its form for sendmmsg (converted once, not per packet)
}

var _ msg.Stream = (*stream)(nil)

func newStream(m *Media, ep *endpoint, pt uint8) *stream {
	return &stream{m: m, ep: ep, rw: media.Rewriter{SSRC: ep.track.SSRCOut, PT: pt}}
}

// Seal rewrites plain (a decrypted RTP packet, modified in place) into this listener's stream
// and encrypts it into dst. A listener that is not ready (no DTLS-SRTP yet, no nominated
// address, stopped) or whose rewriter refuses the packet is counted and skipped.
func (s *stream) Seal(dst, plain []byte) ([]byte, netip.AddrPort, bool) {
	local, to := s.local.Load(), s.ep.stats.sendAddr.Load()
	if local == nil || to == nil {
		s.m.counters.Drop(media.DropNotForwarded)
		return dst, netip.AddrPort{}, false
	}
	if !s.rw.Rewrite(plain, s.m.cfg.Clock.Now()) {
		s.m.counters.Drop(media.DropRewrite)
		return dst, netip.AddrPort{}, false
	}
	enc, err := local.EncryptRTP(dst[:0], plain, &s.hdr)
	if err != nil || cap(enc) != cap(dst) { // a reallocation would mean a packet too large for the buffer
		s.m.counters.Drop(media.DropEncrypt)
		return dst, netip.AddrPort{}, false
	}
	s.ep.stats.packetsOut.Add(1)
	s.ep.stats.bytesOut.Add(uint64(len(enc)))
	if to != s.lastTo {
		s.lastTo, s.to = to, to.AddrPort()
	}
	return enc, s.to, true
}
