package peer

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/pion/stun/v3"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

// OpenPeer takes the offer as parsed before the join (msg.JoinChannel.Offer), spawns the peer
// actor as a child of parent, registers it with the look-up snapshots and returns its answer.
// It never blocks: the DTLS handshake starts when the client's first DTLS record arrives.
func (m *Media) OpenPeer(parent actor.SpawnerContext, req msg.PeerRequest) (msg.Peer, *msg.Error) {
	if !m.started.Load() {
		return msg.Peer{}, msg.Errorf(msg.CodeBadOffer, "media plane not running")
	}
	offer := req.Offer
	if offer == nil {
		return msg.Peer{}, msg.Errorf(msg.CodeBadOffer, "no SDP offer")
	}
	m.attach(parent.ActorSystem())
	if m.system != parent.ActorSystem() {
		return msg.Peer{}, msg.Errorf(msg.CodeInternal, "media plane belongs to another actor system")
	}
	ufrag, pwd := media.NewICECredentials()
	ssrc := randomSSRC()
	answer, err := media.BuildAnswer(offer, media.AnswerParams{
		Ufrag: ufrag, Pwd: pwd, Fingerprint: m.cert.Fingerprint, Host: m.host, SSRC: ssrc,
		CName: "livechat", StreamID: "livechat-" + req.ChannelID, TrackID: "ptt",
	})
	if err != nil {
		return msg.Peer{}, msg.Errorf(msg.CodeInternal, "answer: %v", err)
	}
	// Copies of the offer's strings: they point into the whole SDP text, which the peer
	// would otherwise keep (with the parsed offer) for as long as it lives.
	ep := &endpoint{
		ufrag: ufrag, client: strings.Clone(offer.ICEUfrag), userID: req.UserID, channelID: req.ChannelID,
		key:   stun.NewShortTermIntegrity(pwd),
		track: msg.TrackInfo{Kind: "audio", Mid: strings.Clone(offer.Mid), PayloadType: offer.OpusPT, SSRCOut: ssrc},
		stats: &stats{}, now: m.cfg.Clock.Now,
	}
	ep.track.Direction = offer.Direction.String()
	ep.listenOnly = !offer.ServerReceives()
	ep.stats.lastIn.Store(m.cfg.Clock.Now().UnixNano())
	a := newPeerActor(m, ep, offer, req.Channel)
	pid, err := parent.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return a }, m.props...), "peer-"+ufrag)
	if err != nil {
		return msg.Peer{}, msg.Errorf(msg.CodeInternal, "spawn peer: %v", err)
	}
	ep.pid = pid
	m.system.Root.Send(m.registry, &register{ep: ep})
	return msg.Peer{PID: pid, Ufrag: ufrag, Answer: answer, Info: ep.info, Stream: a.stream,
		NoSend: !offer.ServerReceives(), NoReceive: !offer.ServerSends()}, nil
}

func randomSSRC() uint32 {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}
