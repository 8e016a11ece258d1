package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/msg"
)

const wait = 3 * time.Second

// received is one message the probe directory got, with the PID to answer.
type received struct {
	msg    any
	sender *actor.PID
}

// probe stands in for the directory: it records every user message.
type probe struct{ got chan received }

func (p *probe) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		return
	}
	p.got <- received{ctx.Message(), ctx.Sender()}
}

// fakeOut records what the session hands its connection.
type fakeOut struct {
	delivered chan any
	replaced  chan struct{}
}

func (o *fakeOut) Deliver(v any) { o.delivered <- v }
func (o *fakeOut) Replaced()     { o.replaced <- struct{}{} }

type fixture struct {
	t       *testing.T
	sys     *actor.ActorSystem
	dir     chan received
	out     *fakeOut
	session *actor.PID
	stopped chan struct{}
}

func newFixture(t *testing.T, leaveTimeout time.Duration) *fixture {
	t.Helper()
	sys := actor.NewActorSystem()
	f := &fixture{t: t, sys: sys, dir: make(chan received, 64),
		out: &fakeOut{delivered: make(chan any, 64), replaced: make(chan struct{}, 4)}, stopped: make(chan struct{})}
	dirPID := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &probe{got: f.dir} }))
	seen := time.Unix(1000, 0)
	f.session = sys.Root.Spawn(Props(Config{
		UserID: "alice", Priority: 100, Directory: dirPID, Out: f.out,
		ConnectedAt: seen, LastSeen: func() time.Time { return seen },
		Now:          func() time.Time { return seen.Add(1500 * time.Millisecond) },
		OnStopped:    func() { close(f.stopped) },
		LeaveTimeout: leaveTimeout,
	}))
	t.Cleanup(sys.Shutdown)
	reg := f.next()
	r, ok := reg.msg.(*msg.RegisterSession)
	if !ok || r.UserID != "alice" || r.Priority != 100 || !r.Session.Equal(f.session) {
		t.Fatalf("first message to the directory = %#v, want RegisterSession for alice", reg.msg)
	}
	return f
}

func (f *fixture) next() received {
	f.t.Helper()
	select {
	case r := <-f.dir:
		return r
	case <-time.After(wait):
		f.t.Fatal("directory got nothing")
		return received{}
	}
}

func (f *fixture) delivered() any {
	f.t.Helper()
	select {
	case v := <-f.out.delivered:
		return v
	case <-time.After(wait):
		f.t.Fatal("connection got nothing")
		return nil
	}
}

func (f *fixture) awaitStopped() {
	f.t.Helper()
	select {
	case <-f.stopped:
	case <-time.After(wait):
		f.t.Fatal("session did not stop")
	}
}

// join makes the session a member of ch as a real directory would.
func (f *fixture) join(ch string) {
	f.t.Helper()
	call := msg.Call{Op: 11, Nonce: "j-" + ch, UserID: "alice", Session: f.session}
	f.sys.Root.Send(f.session, &msg.JoinChannel{Call: call, ChannelID: ch, Priority: 100})
	r := f.next()
	req, ok := r.msg.(*msg.JoinChannel)
	if !ok || req.ChannelID != ch {
		f.t.Fatalf("directory got %#v, want the JoinChannel", r.msg)
	}
	if !r.sender.Equal(f.session) {
		f.t.Fatalf("join forwarded with sender %v, want the session (replies must come back to it)", r.sender)
	}
	f.sys.Root.Send(r.sender, req.Call.OK(&msg.JoinAck{ChannelID: ch}))
	res, ok := f.delivered().(*msg.Result)
	if !ok || res.Call.Nonce != "j-"+ch {
		f.t.Fatalf("connection got %#v, want the join result", res)
	}
}

func (f *fixture) channels() []string {
	f.t.Helper()
	res, err := f.sys.Root.RequestFuture(f.session, &msg.GetUser{UserID: "alice"}, wait).Result()
	if err != nil {
		f.t.Fatalf("GetUser: %v", err)
	}
	d, ok := res.(*msg.Result).Data.(*msg.UserDetail)
	if !ok {
		f.t.Fatalf("GetUser answered %#v", res)
	}
	return d.Channels
}

func TestSessionTracksJoinedChannelsAndLeavesThemOnDisconnect(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.join("B")
	f.join("A")
	if got := f.channels(); len(got) != 2 || got[0] != "A" || got[1] != "B" {
		t.Fatalf("user detail channels = %v, want [A B]", got)
	}

	f.sys.Root.Send(f.session, &Disconnected{})
	leaves := map[string]*actor.PID{}
	unregistered := false
	for len(leaves) < 2 || !unregistered {
		r := f.next()
		switch m := r.msg.(type) {
		case *msg.LeaveChannel:
			if !m.Disconnect || m.Call.UserID != "alice" || !m.Call.Session.Equal(f.session) {
				t.Fatalf("leave = %#v, want a disconnect leave by alice's session", m)
			}
			leaves[m.ChannelID] = r.sender
		case *msg.UnregisterSession:
			unregistered = m.UserID == "alice" && m.Session.Equal(f.session)
		default:
			t.Fatalf("directory got %#v during disconnect", m)
		}
	}
	if leaves["A"] == nil || leaves["B"] == nil {
		t.Fatalf("left %v, want A and B", leaves)
	}
	select {
	case <-f.stopped:
		t.Fatal("session stopped before its leaves were answered")
	default:
	}
	for ch, pid := range leaves {
		f.sys.Root.Send(pid, (msg.Call{Op: ownLeaveOp, Nonce: ch}).OK(&msg.LeaveAck{ChannelID: ch}))
	}
	f.awaitStopped()
	select {
	case v := <-f.out.delivered:
		t.Fatalf("leave results of a closed connection reached it: %#v", v)
	default:
	}
}

func TestSessionForgetsLeftAndDeletedChannels(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.join("A")
	f.join("B")
	f.join("C")

	call := msg.Call{Op: 12, UserID: "alice", Session: f.session}
	f.sys.Root.Send(f.session, &msg.LeaveChannel{Call: call, ChannelID: "A"})
	r := f.next()
	f.sys.Root.Send(r.sender, call.OK(&msg.LeaveAck{ChannelID: "A"}))
	f.delivered()

	// A failed leave changes nothing.
	f.sys.Root.Send(f.session, &msg.LeaveChannel{Call: call, ChannelID: "C"})
	r = f.next()
	f.sys.Root.Send(r.sender, call.Fail(msg.Errorf(msg.CodeNotJoined, "not joined")))
	f.delivered()

	f.sys.Root.Send(f.session, &msg.ChannelEvent{ChannelID: "B", Event: msg.EventDelete})
	if ev, ok := f.delivered().(*msg.ChannelEvent); !ok || ev.ChannelID != "B" {
		t.Fatalf("delete event not passed to the client: %#v", ev)
	}
	if got := f.channels(); len(got) != 1 || got[0] != "C" {
		t.Fatalf("channels = %v, want [C]", got)
	}
}

func TestSessionStopsAtOnceWithoutChannels(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.sys.Root.Send(f.session, &Disconnected{})
	if _, ok := f.next().msg.(*msg.UnregisterSession); !ok {
		t.Fatal("no UnregisterSession")
	}
	f.awaitStopped()
}

// The close code (4002) is the gateway's: cmd/lcserver/server's lifecycle test checks it.
func TestSessionReplacedClosesItsConnectionAndLeaves(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.join("A")
	f.sys.Root.Send(f.session, &msg.Replaced{})
	select {
	case <-f.out.replaced:
	case <-time.After(wait):
		t.Fatal("connection not closed")
	}
	r := f.next()
	leave, ok := r.msg.(*msg.LeaveChannel)
	if !ok || leave.ChannelID != "A" || !leave.Disconnect {
		t.Fatalf("directory got %#v, want a disconnect leave of A", r.msg)
	}
	f.sys.Root.Send(r.sender, leave.Call.OK(&msg.LeaveAck{ChannelID: "A"}))
	if _, ok := f.next().msg.(*msg.UnregisterSession); !ok {
		t.Fatal("no UnregisterSession")
	}
	f.awaitStopped()
}

func TestSessionLeavesAJoinThatWasInFlightAtDisconnect(t *testing.T) {
	leaveJoinInFlight(t, "")
}

// leaveJoinInFlight joins A with nonce, disconnects before the join is answered, answers it
// with success and checks that the session leaves A again before it stops.
func leaveJoinInFlight(t *testing.T, nonce string) {
	t.Helper()
	f := newFixture(t, time.Minute)
	call := msg.Call{Op: 11, Nonce: nonce, UserID: "alice", Session: f.session}
	f.sys.Root.Send(f.session, &msg.JoinChannel{Call: call, ChannelID: "A"})
	r := f.next()
	f.sys.Root.Send(f.session, &Disconnected{})
	if _, ok := f.next().msg.(*msg.UnregisterSession); !ok {
		t.Fatal("no UnregisterSession")
	}
	// The join succeeds after the connection ended: the session must leave A again.
	f.sys.Root.Send(r.sender, call.OK(&msg.JoinAck{ChannelID: "A"}))
	r = f.next()
	leave, ok := r.msg.(*msg.LeaveChannel)
	if !ok || leave.ChannelID != "A" || !leave.Disconnect {
		t.Fatalf("directory got %#v, want a disconnect leave of A", r.msg)
	}
	f.sys.Root.Send(r.sender, leave.Call.OK(&msg.LeaveAck{ChannelID: "A"}))
	f.awaitStopped()
}

func TestSessionStopsAfterLeaveTimeout(t *testing.T) {
	f := newFixture(t, 50*time.Millisecond)
	f.join("A")
	f.sys.Root.Send(f.session, &Disconnected{})
	f.awaitStopped() // nobody answers the leave
}

func TestSessionPassesEventsAndAnswersUserDetail(t *testing.T) {
	f := newFixture(t, time.Minute)
	f.sys.Root.Send(f.session, &msg.FloorGranted{ChannelID: "A", Priority: 100})
	if g, ok := f.delivered().(*msg.FloorGranted); !ok || g.ChannelID != "A" {
		t.Fatalf("delivered %#v, want the FloorGranted", g)
	}
	// A reply to the session's own RegisterSession is not a client's business.
	f.sys.Root.Send(f.session, (msg.Call{}).OK(nil))
	f.sys.Root.Send(f.session, msg.FloorIdle{ChannelID: "A"})
	if v, ok := f.delivered().(msg.FloorIdle); !ok {
		t.Fatalf("delivered %#v, want the FloorIdle (the internal result must be dropped)", v)
	}

	res, err := f.sys.Root.RequestFuture(f.session, &msg.GetUser{UserID: "alice"}, wait).Result()
	if err != nil {
		t.Fatal(err)
	}
	d := res.(*msg.Result).Data.(*msg.UserDetail)
	if d.UserID != "alice" || d.Priority != 100 || d.SinceHeartbeatS != 1.5 || d.Channels == nil {
		t.Fatalf("user detail = %+v", d)
	}
}

func TestSessionDeliversReadyOnceRegistered(t *testing.T) {
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	dir := make(chan received, 8)
	out := &fakeOut{delivered: make(chan any, 8), replaced: make(chan struct{}, 1)}
	dirPID := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &probe{got: dir} }))
	pid := sys.Root.Spawn(Props(Config{UserID: "alice", Directory: dirPID, Out: out, Ready: "READY"}))
	var reg received
	select {
	case reg = <-dir:
	case <-time.After(wait):
		t.Fatal("no RegisterSession")
	}
	select {
	case v := <-out.delivered:
		t.Fatalf("delivered %v before the registration was acknowledged", v)
	default:
	}
	sys.Root.Send(reg.sender, &msg.Result{})
	sys.Root.Send(pid, &msg.FloorIdle{ChannelID: "A"})
	for i, want := range []string{"READY", "*msg.FloorIdle"} {
		select {
		case v := <-out.delivered:
			if got := fmt.Sprintf("%T", v); i == 0 && v != "READY" || i == 1 && got != want {
				t.Fatalf("delivery %d is %#v, want %s", i+1, v, want)
			}
		case <-time.After(wait):
			t.Fatalf("no %s", want)
		}
	}
}

// panickyOut panics on strings, like a broken connection would.
type panickyOut struct{ fakeOut }

func (o *panickyOut) Deliver(v any) {
	if _, ok := v.(string); ok {
		panic("broken connection")
	}
	o.fakeOut.Deliver(v)
}

func TestSessionSurvivesAPanicWithItsState(t *testing.T) {
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	out := &panickyOut{fakeOut{delivered: make(chan any, 8), replaced: make(chan struct{}, 1)}}
	dir := make(chan received, 8)
	panics := make(chan struct{}, 1)
	dirPID := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &probe{got: dir} }))
	pid := sys.Root.Spawn(Props(Config{UserID: "bob", Directory: dirPID, Out: out, OnPanic: func() { panics <- struct{}{} }}))
	<-dir // RegisterSession
	call := msg.Call{Op: 11, UserID: "bob", Session: pid}
	sys.Root.Send(pid, &msg.JoinChannel{Call: call, ChannelID: "B"})
	r := <-dir
	sys.Root.Send(r.sender, call.OK(&msg.JoinAck{ChannelID: "B"}))
	<-out.delivered
	sys.Root.Send(pid, "poison for the connection")
	select {
	case <-panics:
	case <-time.After(wait):
		t.Fatal("panic not reported")
	}
	// The session still knows it joined B and leaves it on disconnect.
	sys.Root.Send(pid, &Disconnected{})
	select {
	case r := <-dir:
		if l, ok := r.msg.(*msg.LeaveChannel); !ok || l.ChannelID != "B" {
			t.Fatalf("after the panic the directory got %#v, want the leave of B", r.msg)
		}
	case <-time.After(wait):
		t.Fatal("no leave after the panic: the session lost its channels")
	}
}

// A client's nonce is any string, NUL bytes included: one that looks like the session's own
// leave marker must not make the session mistake the client's JOIN result for its own leave
// (it would forget to leave a join that succeeded after the disconnect: a ghost member).
func TestSessionIsNotFooledByAClientNonceLikeItsOwnLeave(t *testing.T) {
	leaveJoinInFlight(t, "\x00session-leave:A")
}
