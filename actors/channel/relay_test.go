package channel

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

func packet(pool *media.RelayPacketPool, from string) *media.RelayPacket {
	p := pool.Get()
	p.From = from
	p.N = copy(p.Buf[:], "rtp-payload")
	return p
}

// returned reports whether a packet went back to its pool (Release of the last reference
// clears it).
func returned(p *media.RelayPacket) bool { return p.N == 0 && p.From == "" }

func TestRelayOnlyFromHolderToOtherPeers(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("a", "b", "c")
	f.join("d") // signaling-only: never receives media
	pool := media.NewRelayPacketPool()
	drops := f.met.PacketsDropped.WithLabelValues("not_floor_holder")
	sealed := func() (n [3]int64) {
		for i, u := range []string{"a", "b", "c"} {
			n[i] = f.media.streams[u].sealed.Load()
		}
		return n
	}

	// Idle floor: dropped, counted, back in the pool at once.
	p := packet(pool, "a")
	recs := f.ctx.Deliver(f.a, p, nil)
	if len(recs) != 0 || !returned(p) || value(t, drops) != 1 || sealed() != [3]int64{} {
		t.Fatalf("idle relay: records %s returned %v drops %v sealed %v", render(recs), returned(p), value(t, drops), sealed())
	}

	// The holder's packet is sealed into every other member's stream, from a fresh copy each
	// (a stream rewrites its copy in place), within the channel's Receive: no message goes to
	// the peers, and the packet is back in the pool when Receive returns.
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	p = packet(pool, "a")
	recs = f.ctx.Deliver(f.a, p, nil)
	if sent := actortest.Filter(recs, actortest.OpSend); len(sent) != 0 {
		t.Fatalf("relay sent messages: %s", render(recs))
	}
	if got := sealed(); got != [3]int64{0, 1, 1} {
		t.Fatalf("sealed into a, b, c: %v, want 0 1 1", got)
	}
	for _, u := range []string{"b", "c"} {
		if got := <-f.media.streams[u].log; got != "rtp-payload" {
			t.Fatalf("%s's stream got %q", u, got)
		}
	}
	if !returned(p) {
		t.Fatal("packet not back in the pool after the fan-out")
	}

	// A non-holder's packet while the floor is taken is dropped.
	p = packet(pool, "b")
	if recs := f.ctx.Deliver(f.a, p, nil); len(recs) != 0 || !returned(p) || value(t, drops) != 2 || sealed() != [3]int64{0, 1, 1} {
		t.Fatalf("non-holder relay: %s, sealed %v", render(recs), sealed())
	}
}

func TestRelayAfterPeerEnded(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("a", "b")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	f.ctx.Deliver(f.a, &actor.Terminated{Who: actor.NewPID("nonhost", "p-b-2")}, nil)
	pool := media.NewRelayPacketPool()
	p := packet(pool, "a")
	if recs := f.ctx.Deliver(f.a, p, nil); len(recs) != 0 || !returned(p) || f.media.streams["b"].sealed.Load() != 0 {
		t.Fatalf("relay to an ended peer: %s", render(recs))
	}
	if f.a.members["b"] == nil {
		t.Fatal("a member whose peer ended must stay a member")
	}
}

func TestRelayAllocatesNothing(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("a", "b", "c")
	for _, s := range f.media.streams {
		s.log = nil
	}
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	pool := media.NewRelayPacketPool()
	ctx := &countingContext{Context: f.ctx}
	allocs := testing.AllocsPerRun(100, func() {
		ctx.msg = packet(pool, "a")
		f.a.Receive(ctx)
	})
	if allocs != 0 {
		t.Fatalf("relay allocates %.1f times per packet", allocs)
	}
	if n := f.media.streams["b"].sealed.Load(); n != 101 {
		t.Fatalf("b's stream sealed %d packets, want 101", n)
	}
}

// countingContext counts sends without recording them (recording allocates).
type countingContext struct {
	*actortest.Context
	msg  any
	sent int
}

func (c *countingContext) Message() any               { return c.msg }
func (c *countingContext) Send(pid *actor.PID, m any) { c.sent++ }

// TestActorSystemEndToEnd runs a real channel actor: sessions and peers are probes, timers run
// on the fake clock and reach the actor through its mailbox.
func TestActorSystemEndToEnd(t *testing.T) {
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	clk := clock.NewFake(t0)
	dir := actortest.NewProbe(t, sys)
	peers := map[string]*actortest.Probe{}
	fm := &fakeMedia{spawn: func(user string) *actor.PID {
		p := actortest.NewProbe(t, sys)
		peers[user] = p
		return p.PID()
	}}
	met := metrics.New()
	pid := sys.Root.Spawn(Props(Config{
		Spec:  msg.ChannelSpec{ChannelID: "CH", Freq: "1", ChannelName: "n", Capacity: 5},
		Clock: clk, Media: fm, Metrics: met, Directory: dir.PID(), Logger: slog.New(slog.DiscardHandler),
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	sessions := map[string]*actortest.Probe{}
	ask := func(req any) *msg.Result {
		t.Helper()
		res, err := sys.Root.RequestFuture(pid, req, wait).Result()
		if err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		return res.(*msg.Result)
	}
	for _, u := range []string{"a", "b"} {
		sessions[u] = actortest.NewProbe(t, sys)
		r := ask(&msg.JoinChannel{Call: msg.Call{Op: 11, UserID: u, Session: sessions[u].PID()}, ChannelID: "CH", Offer: offer("o")})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	actortest.Expect[*msg.ChannelEvent](t, sessions["a"], wait) // b joined

	sys.Root.Send(pid, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "a", Session: sessions["a"].PID()}, ChannelID: "CH"})
	actortest.Expect[*msg.FloorGranted](t, sessions["a"], wait)
	actortest.Expect[*msg.FloorTaken](t, sessions["b"], wait)

	pool := media.NewRelayPacketPool()
	p := packet(pool, "a")
	sys.Root.Send(pid, p)
	if got := <-fm.streams["b"].log; got != "rtp-payload" {
		t.Fatalf("b's stream got %q", got)
	}
	// The channel releases the packet after the fan-out; a request answered from its mailbox
	// afterwards proves that it has (and orders its writes before the check).
	if r := ask(&msg.GetChannel{Call: msg.Call{Op: 16}, ChannelID: "CH"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if !returned(p) || fm.streams["a"].sealed.Load() != 0 {
		t.Fatal("relayed packet not returned to the pool, or sealed for its own talker")
	}

	// No ping for 6 s: the timer posts to the mailbox and the floor is revoked.
	clk.Advance(6 * time.Second)
	if r := actortest.Expect[*msg.FloorRevoke](t, sessions["a"], wait); r.Reason != msg.RevokePingTimeout {
		t.Fatalf("revoke %+v", r)
	}
	actortest.Expect[*msg.FloorIdle](t, sessions["a"], wait)
	actortest.Expect[*msg.FloorIdle](t, sessions["b"], wait)

	r := ask(&msg.LeaveChannel{Call: msg.Call{Op: 12, UserID: "b", Session: sessions["b"].PID()}, ChannelID: "CH"})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	actortest.Expect[*msg.ChannelEvent](t, sessions["a"], wait)
	sessions["a"].ExpectNone(t, wait)
	sessions["b"].ExpectNone(t, wait)
	if got := value(t, met.Members); got != 1 {
		t.Fatalf("members gauge %v", got)
	}
	changes := dir.Sync(t, wait)
	last := changes[len(changes)-1].Message.(*msg.ChannelChanged)
	if last.Info.MemberCount != 1 || last.Info.Floor.State != msg.FloorStateIdle {
		t.Fatalf("directory's last view %+v", last.Info)
	}
}

// BenchmarkRelayGate measures the channel actor's own per-packet work (floor check, one copy
// and one Seal per listener into the fan-out) with N listeners; Seal itself is a counting
// stub here (the peer's real Seal is in actors/peer's BenchmarkRelayThroughActors).
func BenchmarkRelayGate(b *testing.B) {
	for _, n := range []int{1, 20, 100} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			a := New(Config{Spec: msg.ChannelSpec{ChannelID: "CH", Capacity: n + 1}, Media: &fakeMedia{},
				Logger: slog.New(slog.DiscardHandler)})
			sys := actor.NewActorSystem()
			defer sys.Shutdown()
			ctx := &countingContext{Context: actortest.NewContext(b, sys)}
			ctx.Context.Deliver(a, &actor.Started{}, nil)
			for i := 0; i <= n; i++ {
				u := fmt.Sprintf("u%d", i)
				ctx.Context.Deliver(a, &msg.JoinChannel{Call: call(11, u), ChannelID: "CH", Offer: offer("o")}, sess(u))
			}
			ctx.Context.Deliver(a, &msg.RequestFloor{Call: call(30, "u0"), ChannelID: "CH"}, sess("u0"))
			for _, mem := range a.members {
				mem.peer.Stream.(*fakeStream).log = nil
			}
			pool := media.NewRelayPacketPool()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx.msg = packet(pool, "u0")
				a.Receive(ctx)
			}
		})
	}
}
