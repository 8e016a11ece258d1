package peer

import (
	"io"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/mailbox"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

// fakeChannel is the smallest channel that drives peers: it opens them through Media, gates
// relayed packets on a holder set by the test, and reports peers that end.
type fakeChannel struct {
	media     msg.MediaPlane
	holder    string
	listeners map[string]msg.Peer
	gated     *atomic.Int64
	ended     chan *actor.PID
	fanout    media.Fanout
	scratch   [media.MaxPacket]byte
}

type (
	openPeer  struct{ user, offer string }
	setHolder struct{ user string }
	stopPeer  struct{ user string }
	openReply struct {
		peer msg.Peer
		err  *msg.Error
	}
)

func (f *fakeChannel) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *openPeer:
		// The gateway parses the offer before a join reaches a channel; so does this one.
		o, perr := media.ParseOffer(m.offer)
		if perr != nil {
			ctx.Respond(&openReply{err: msg.BadOffer(perr)})
			return
		}
		p, err := f.media.OpenPeer(ctx, msg.PeerRequest{ChannelID: "CH", UserID: m.user, Offer: o,
			Channel: ctx.Self()})
		if err == nil {
			f.listeners[m.user] = p
			ctx.Watch(p.PID)
		}
		ctx.Respond(&openReply{peer: p, err: err})
	case *setHolder:
		f.holder = m.user
		ctx.Respond(true)
	case *stopPeer:
		if p, ok := f.listeners[m.user]; ok {
			delete(f.listeners, m.user)
			ctx.Stop(p.PID)
		}
		ctx.Respond(true)
	case *actor.Terminated:
		for u, p := range f.listeners {
			if p.PID.Equal(m.Who) {
				delete(f.listeners, u)
			}
		}
		select {
		case f.ended <- m.Who:
		default:
		}
	case *media.RelayPacket:
		// What the channel actor's relay does: gate, seal into every other stream, one batch.
		defer m.Release()
		if m.From != f.holder {
			f.gated.Add(1)
			return
		}
		for u, p := range f.listeners {
			if u != m.From {
				n := copy(f.scratch[:], m.Bytes())
				if out, to, ok := p.Stream.Seal(f.fanout.Next(), f.scratch[:n]); ok {
					f.fanout.Commit(out, to)
				}
			}
		}
		if m.Via != nil {
			m.Via.Send(&f.fanout)
		}
		f.fanout.Reset()
	}
}

type harness struct {
	system *actor.ActorSystem
	media  *Media
	ch     *actor.PID
	gated  atomic.Int64
	ended  chan *actor.PID
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{system: actor.NewActorSystem(), ended: make(chan *actor.PID, 16)}
	if !cfg.Bind.IsValid() {
		cfg.Bind = netip.MustParseAddrPort("127.0.0.1:0")
	}
	cfg.AdvertiseIP = netip.MustParseAddr("127.0.0.1")
	if cfg.Logger == nil && !testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // panics and reaps are logged on purpose
	}
	cfg.System = h.system
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	h.media = m
	fc := &fakeChannel{media: m, listeners: map[string]msg.Peer{}, gated: &h.gated, ended: h.ended}
	h.ch = h.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return fc }, mailbox.Options(mailbox.Config{
		IsMedia: func(m any) bool { _, ok := m.(*media.RelayPacket); return ok },
	})...))
	t.Cleanup(func() {
		_ = h.system.Root.StopFuture(h.ch).Wait()
		m.Close()
		h.system.Shutdown()
	})
	return h
}

func (h *harness) ask(t testing.TB, m any) any {
	t.Helper()
	r, err := h.system.Root.RequestFuture(h.ch, m, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (h *harness) open(t testing.TB, user, offer string) (msg.Peer, *msg.Error) {
	t.Helper()
	r := h.ask(t, &openPeer{user: user, offer: offer}).(*openReply)
	if r.err == nil && h.media.started.Load() {
		// The registry publishes the ufrag asynchronously; a real client learns it from the
		// JOIN ACK long after, a test writing STUN at once must wait for it.
		actortest.Eventually(t, 10*time.Second, "ufrag published", func() bool { _, ok := h.media.byUfrag.Get(r.peer.Ufrag); return ok })
	}
	return r.peer, r.err
}
