package cluster

import (
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/minilivechat/minilivechat/media"
)

// Media across nodes: the talker's node publishes each decrypted RTP packet once on the
// channel's media subject; NATS hands a copy to every node subscribed to it, and a node
// subscribes while it has listeners in the channel. Each receiving node fans the packet out
// to its own listeners through its relay, sealed per listener as for a local talker, so the
// listener's stream (SSRC, sequence numbers, timestamps) is the same whichever node the
// talker is on. docs/cluster.md, "Media", says why a subject and not a UDP trunk.

func mediaSubject(channel string) string { return "lc.media." + channel }

// trunk frame: node id length, node id, user id length, user id, RTP packet.
func appendFrame(dst []byte, node, user string, rtp []byte) []byte {
	dst = append(dst, byte(len(node)))
	dst = append(dst, node...)
	dst = append(dst, byte(len(user)))
	dst = append(dst, user...)
	return append(dst, rtp...)
}

// parseFrame splits a trunk frame; the parts alias b (no copy per packet).
func parseFrame(b []byte) (node, user, rtp []byte, ok bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return nil, nil, nil, false
	}
	node, b = b[1:1+int(b[0])], b[1+int(b[0]):]
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return nil, nil, nil, false
	}
	user, b = b[1:1+int(b[0])], b[1+int(b[0]):]
	if len(b) == 0 || len(b) > media.MaxPacket {
		return nil, nil, nil, false
	}
	return node, user, b, true
}

// MediaConfig is how a Link hands trunked packets to its channel.
type MediaConfig struct {
	// Deliver posts a packet from another node to the channel actor (which releases it).
	Deliver func(*media.RelayPacket)
	// Via is the UDP worker whose socket sends the local fan-out of trunked packets.
	Via func() *media.Worker
}

// trunk is a Link's media state, used from its channel actor's Receive only.
type trunk struct {
	cfg  MediaConfig
	pool *media.RelayPacketPool
	sub  *nats.Subscription
	buf  []byte
	// Counters obtained once: incrementing one per packet is an atomic add.
	out, in, malformed prometheus.Counter
}

// SetMedia sets how trunked packets reach the channel; before it, none are received.
func (l *Link) SetMedia(cfg MediaConfig) {
	m := l.node.cfg.Metrics
	l.trunk = &trunk{cfg: cfg, pool: media.NewRelayPacketPool(), buf: make([]byte, 0, media.MaxPacket+2*256),
		out: m.ClusterTrunkPackets.WithLabelValues("out"), in: m.ClusterTrunkPackets.WithLabelValues("in"),
		malformed: m.PacketsDropped.WithLabelValues(media.DropTrunkMalformed.String())}
}

// Listen subscribes to the channel's media (on: this node has listeners) or unsubscribes.
func (l *Link) Listen(on bool) {
	t := l.trunk
	if t == nil || (t.sub != nil) == on {
		return
	}
	if !on {
		_ = t.sub.Unsubscribe()
		t.sub = nil
		return
	}
	// talker is the last packet's sender, kept so that a talk spurt's packets share one string
	// instead of allocating one each; each subscription's handler has its own.
	var talker string
	sub, err := l.node.cfg.Conn.Subscribe(mediaSubject(l.channel), func(m *nats.Msg) {
		node, user, rtp, ok := parseFrame(m.Data)
		if !ok {
			t.malformed.Inc()
			return
		}
		if string(node) == l.node.cfg.ID {
			return
		}
		t.in.Inc()
		if string(user) != talker {
			talker = string(user)
		}
		p := t.pool.Get()
		p.From, p.N = talker, copy(p.Buf[:], rtp)
		if t.cfg.Via != nil {
			p.Via = t.cfg.Via()
		}
		t.cfg.Deliver(p)
	})
	if err != nil {
		l.node.cfg.Logger.Warn("subscribe to channel media", "channel", l.channel, "err", err)
		return
	}
	t.sub = sub
}

// SendMedia publishes a local talker's decrypted packet to the other nodes, once.
func (l *Link) SendMedia(user string, rtp []byte) {
	t := l.trunk
	if t == nil {
		return
	}
	t.buf = appendFrame(t.buf[:0], l.node.cfg.ID, user, rtp)
	if l.node.cfg.Conn.Publish(mediaSubject(l.channel), t.buf) == nil { // lost like a UDP datagram when NATS is away
		t.out.Inc()
	}
}
