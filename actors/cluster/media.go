package cluster

import (
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/minilivechat/minilivechat/media"
)

// Media across nodes: the talker's node publishes each decrypted RTP packet once on the
// channel's media subject; NATS hands a copy to every node subscribed to it, and a node
// subscribes while it has listeners in the channel. Each receiving node fans the packet out
// to its own listeners through its relay, sealed per listener as for a local talker, so the
// listener's stream (SSRC, sequence numbers, timestamps) is the same whichever node the
// talker is on. docs/cluster.md, "Media between nodes: NATS subject or UDP trunk", says why
// a subject (the UDP trunk it was measured against is test code of actors/channel).

func mediaSubject(channel string) string { return "lc.media." + channel }

// AppendFrame appends a trunk frame (the media subject's and the benchmarks' UDP trunk's):
// node id length, node id, user id length, user id, RTP packet. One length byte
// suffices: node and user ids are at most 64 bytes (msg.MaxIDLen; --node-id and IDENTIFY check).
func AppendFrame(dst []byte, node, user string, rtp []byte) []byte {
	dst = append(dst, byte(len(node)))
	dst = append(dst, node...)
	dst = append(dst, byte(len(user)))
	dst = append(dst, user...)
	return append(dst, rtp...)
}

// ParseFrame splits a trunk frame; the parts alias b (no copy per packet).
func ParseFrame(b []byte) (node, user, rtp []byte, ok bool) {
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

// trunk is a Link's media state. The channel actor sets want and closed; the subscription is
// made and dropped by the node's outbox goroutine (sync), so that Receive never waits for
// nats.go's connection lock (outbox.go); the handler runs on the subscription's goroutine.
type trunk struct {
	cfg    MediaConfig
	link   *Link
	subj   string // the channel's media subject, built once
	pool   *media.RelayPacketPool
	want   atomic.Bool // this node has listeners in the channel
	closed atomic.Bool // the Link was closed: unsubscribe, deliver nothing more
	sub    *nats.Subscription
	// Counters obtained once: incrementing one per packet is an atomic add.
	in, malformed prometheus.Counter
}

// SetMedia sets how trunked packets reach the channel; before it, none are received.
func (l *Link) SetMedia(cfg MediaConfig) {
	m := l.node.cfg.Metrics
	l.trunk = &trunk{cfg: cfg, link: l, subj: mediaSubject(l.channel), pool: media.NewRelayPacketPool(),
		in:        m.ClusterTrunkPackets.WithLabelValues("in"),
		malformed: m.PacketsDropped.WithLabelValues(media.DropTrunkMalformed.String())}
}

// Listen subscribes to the channel's media (on: this node has listeners) or unsubscribes,
// soon after on the outbox's goroutine: it never waits for NATS.
func (l *Link) Listen(on bool) {
	t := l.trunk
	if t == nil || t.want.Swap(on) == on {
		return
	}
	l.node.out.resync(t)
}

// sync brings the subscription in line with want and closed; outbox goroutine only.
func (t *trunk) sync() {
	l := t.link
	on := t.want.Load() && !t.closed.Load()
	if (t.sub != nil) == on {
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
	// The handler runs on nats.go's goroutine of this subscription and must not block: Deliver
	// posts to the channel actor, whose bounded media queue drops rather than waits
	// (channel_queue_full), and the pool and counters never wait either.
	sub, err := l.node.cfg.Conn.Subscribe(t.subj, func(m *nats.Msg) {
		if t.closed.Load() {
			return
		}
		node, user, rtp, ok := ParseFrame(m.Data)
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

// SendMedia publishes a local talker's decrypted packet to the other nodes, once. It runs in
// the channel actor's Receive, on the UDP reader's goroutine, and nats.Conn.Publish can block
// on a stalled connection (outbox.go says where): so the packet is copied into the node's
// outbox, which publishes it from its own goroutine, or dropped and counted as
// trunk_queue_full when the outbox is full. It never waits and allocates nothing.
func (l *Link) SendMedia(user string, rtp []byte) {
	if l.trunk == nil {
		return
	}
	l.node.out.media(l.trunk.subj, l.node.cfg.ID, user, rtp)
}
