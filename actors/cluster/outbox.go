package cluster

import (
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/minilivechat/minilivechat/media"
)

// The outbox is how a channel actor publishes without waiting for NATS. nats.Conn.Publish
// can block: it appends to the connection's write buffer under the connection's lock, and
// writes the buffer to the socket itself, still under that lock, once it holds
// WriteBufferSize bytes (natsWriter.appendBufs → natsWriter.flush); nats.go's flusher
// goroutine also holds the lock while it writes (Conn.flusher). On a connection whose peer
// stopped reading (a stalled NATS server, a leaf link's TCP stuck in a full window) such a
// write waits for the socket up to FlusherTimeout — a minute by default — and every Publish
// behind it waits for the lock. The channel actor's Receive runs on the UDP reader's goroutine
// (docs/architecture.md, "Run to completion"), so a Publish there would stall all media of
// that worker. Instead each node has one outbox: a bounded FIFO that Receive fills without
// waiting and one goroutine drains into Publish, in order (docs/cluster.md, "A channel never
// waits for NATS", has what the hand-off costs).

// outboxFrames is how many media frames wait for the outbox at most: about 5 s of one talker
// at 50 packets per second. A connection that does not take them in that time has stalled,
// and audio older than that is of no use to a listener: the newest frames are dropped and
// counted as trunk_queue_full (docs/cluster.md).
const outboxFrames = 256

// outboxLen bounds the queue itself; the media frames take at most outboxFrames places of it,
// the rest is for the channels' control messages (announcements, floor operations, chat).
const outboxLen = 1024

// outItem is one queued publish: a media frame in one of the outbox's buffers (pooled), or a
// control message.
type outItem struct {
	subj   string
	data   []byte
	pooled bool
}

type outbox struct {
	conn *nats.Conn
	q    chan outItem
	free chan []byte // the media frame buffers not queued
	quit chan struct{}
	done chan struct{}
	once sync.Once // Node.Stop may be called more than once
	// Media subscriptions to bring in line with their Link (trunk.sync), and the wake-up of
	// the goroutine for them. The lock is held only to add or take the set, never around NATS.
	mu    sync.Mutex
	dirty map[*trunk]struct{}
	wake  chan struct{}
	// Counters obtained once: counting a packet is an atomic add.
	out, full prometheus.Counter
	log       *slog.Logger
}

func newOutbox(n *Node) *outbox {
	m := n.cfg.Metrics
	o := &outbox{conn: n.cfg.Conn, q: make(chan outItem, outboxLen), free: make(chan []byte, outboxFrames),
		quit: make(chan struct{}), done: make(chan struct{}),
		dirty: map[*trunk]struct{}{}, wake: make(chan struct{}, 1),
		out:  m.ClusterTrunkPackets.WithLabelValues("out"),
		full: m.PacketsDropped.WithLabelValues(media.DropTrunkQueueFull.String()),
		log:  n.cfg.Logger,
	}
	for range outboxFrames {
		o.free <- make([]byte, 0, maxFrame)
	}
	go o.run()
	return o
}

// maxFrame is the largest trunk frame: two ids of at most 255 bytes, each after its length
// byte, and the RTP packet.
const maxFrame = 2*256 + media.MaxPacket

// media queues a local talker's packet for subj, or drops and counts it when outboxFrames
// frames wait already. It never blocks and allocates nothing.
func (o *outbox) media(subj, node, user string, rtp []byte) {
	var buf []byte
	select {
	case buf = <-o.free:
	default:
		o.full.Inc()
		return
	}
	select {
	case o.q <- outItem{subj: subj, data: AppendFrame(buf, node, user, rtp), pooled: true}:
	default: // control messages fill the rest of the queue
		o.free <- buf
		o.full.Inc()
	}
}

// control queues a control message; a full queue drops it (logged), as a publish to a
// connection that is away loses it.
func (o *outbox) control(subj string, data []byte) {
	select {
	case o.q <- outItem{subj: subj, data: data}:
	default:
		o.log.Warn("cluster publish dropped: the outbox is full", "subject", subj)
	}
}

// resync has the goroutine subscribe or unsubscribe t's media as its Link now wants. Unlike
// a publish it is never dropped: a full queue does not hold it up.
func (o *outbox) resync(t *trunk) {
	o.mu.Lock()
	o.dirty[t] = struct{}{}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func (o *outbox) run() {
	defer close(o.done)
	for {
		select {
		case <-o.quit:
			return
		case <-o.wake:
			o.mu.Lock()
			dirty := o.dirty
			o.dirty = map[*trunk]struct{}{}
			o.mu.Unlock()
			for t := range dirty {
				t.sync()
			}
		case it := <-o.q:
			err := o.conn.Publish(it.subj, it.data)
			switch {
			case it.pooled: // media is lost like a UDP datagram when NATS is away
				if err == nil {
					o.out.Inc()
				}
				o.free <- it.data[:0]
			case err != nil:
				o.log.Warn("cluster publish", "subject", it.subj, "err", err)
			}
		}
	}
}

// stop ends the goroutine once a publish in progress returned; what is still queued is
// dropped. On a stalled connection that publish returns when nats.go's write times out or the
// connection is closed.
func (o *outbox) stop() {
	o.once.Do(func() { close(o.quit) })
	<-o.done
}
