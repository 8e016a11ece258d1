package channel

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/floor"
	"github.com/minilivechat/minilivechat/actors/msg"
)

func TestJoinAcksAndTellsOthers(t *testing.T) {
	f := newFixture(t)
	f.join("alice")
	recs := f.do(&msg.JoinChannel{Call: call(11, "bob"), ChannelID: "CH", Priority: 200})
	ack := actortest.OK(t, recs).(*msg.JoinAck)
	if ack.ChannelID != "CH" || ack.SDPAnswer != "" || ack.Floor.State != "idle" || ack.Floor.Holder != nil {
		t.Fatalf("ack %+v", ack)
	}
	want := []msg.MemberInfo{{UserID: "alice", Priority: 100}, {UserID: "bob", Priority: 200}}
	if !slices.Equal(ack.ActiveMembers, want) {
		t.Fatalf("active members %+v, want %+v", ack.ActiveMembers, want)
	}
	wantSends(t, recs, "alice: EVENT join bob")
	if got := toDirectory(recs); !slices.Equal(got, []string{"CHANGED  n=2 idle - q=0"}) {
		t.Fatalf("directory got %q", got)
	}
	if got := value(t, f.met.Members); got != 2 {
		t.Fatalf("members gauge %v", got)
	}
}

func TestJoinErrors(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b", "c", "d")
	actortest.FailCode(t, f.do(&msg.JoinChannel{Call: call(11, "e"), ChannelID: "CH"}), msg.CodeChannelFull)
	actortest.FailCode(t, f.do(&msg.JoinChannel{Call: call(11, "a"), ChannelID: "CH"}), msg.CodeAlreadyJoined)
	f.do(&msg.LeaveChannel{Call: call(12, "d"), ChannelID: "CH"})
	actortest.FailCode(t, f.do(&msg.JoinChannel{Call: call(11, "e"), ChannelID: "CH", Offer: offer("bad")}), msg.CodeBadOffer)
	actortest.FailCode(t, f.do(&msg.JoinChannel{Call: msg.Call{Op: 11, Session: sess("x")}, ChannelID: "CH"}), msg.CodeMalformed)
	if len(f.a.members) != 3 {
		t.Fatalf("failed joins changed membership: %d members", len(f.a.members))
	}
}

func TestJoinWithOfferOpensPeer(t *testing.T) {
	f := newFixture(t)
	recs := f.do(&msg.JoinChannel{Call: call(11, "alice"), ChannelID: "CH", Offer: offer("offer")})
	ack := actortest.OK(t, recs).(*msg.JoinAck)
	if ack.SDPAnswer != "answer-alice" {
		t.Fatalf("answer %q", ack.SDPAnswer)
	}
	if w := actortest.Filter(recs, actortest.OpWatch); len(w) != 1 || w[0].To.Id != "p-alice-1" {
		t.Fatalf("peer not watched: %s", render(recs))
	}
	recs = f.do(&msg.LeaveChannel{Call: call(12, "alice"), ChannelID: "CH"})
	if s := actortest.Filter(recs, actortest.OpStop); len(s) != 1 || s[0].To.Id != "p-alice-1" {
		t.Fatalf("peer not stopped on leave: %s", render(recs))
	}
}

func TestTakeoverFromNewSession(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("alice")
	f.join("bob")
	f.do(&msg.RequestFloor{Call: call(30, "alice"), ChannelID: "CH", Priority: 100})
	f.do(&msg.RequestFloor{Call: call(30, "bob"), ChannelID: "CH"})

	newSession := actor.NewPID("nonhost", "s-alice2")
	recs := f.ctx.Deliver(f.a, &msg.JoinChannel{
		Call: msg.Call{Op: 11, UserID: "alice", Session: newSession}, ChannelID: "CH", Offer: offer("offer")}, newSession)
	ack := actortest.OK(t, recs).(*msg.JoinAck)
	if h := ack.Floor.Holder; h == nil || *h != "bob" {
		t.Fatalf("the old membership's floor should have passed to bob, got %+v", ack.Floor)
	}
	// bob sees alice leave (and her floor pass to him) and join again; the old session nothing.
	wantSends(t, recs, "bob: EVENT leave alice", "bob: GRANTED 100 30000", "bob: EVENT join alice")
	if s := actortest.Filter(recs, actortest.OpStop); len(s) != 1 || s[0].To.Id != "p-alice-1" {
		t.Fatalf("old peer not stopped: %s", render(recs))
	}
	// The replaced session's leave arrives late: it is acknowledged and changes nothing.
	recs = f.do(&msg.LeaveChannel{Call: call(12, "alice"), ChannelID: "CH", Disconnect: true})
	actortest.OK(t, recs)
	wantSends(t, recs)
	if m := f.a.members["alice"]; m == nil || !m.session.Equal(newSession) {
		t.Fatal("late leave of the replaced session removed the new membership")
	}
	// Floor events now reach the new session.
	recs = f.ctx.Deliver(f.a, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "alice", Session: newSession}, ChannelID: "CH"}, newSession)
	wantSends(t, recs, "alice2: POS 1/1")
}

func TestLeave(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b", "c")
	actortest.FailCode(t, f.do(&msg.LeaveChannel{Call: call(12, "zed"), ChannelID: "CH"}), msg.CodeNotJoined)
	recs := f.do(&msg.LeaveChannel{Call: call(12, "b"), ChannelID: "CH"})
	if d := actortest.OK(t, recs).(*msg.LeaveAck); d.ChannelID != "CH" {
		t.Fatalf("ack %+v", d)
	}
	wantSends(t, recs, "a: EVENT leave b", "c: EVENT leave b")
	if got := toDirectory(recs); !slices.Equal(got, []string{"CHANGED  n=2 idle - q=0"}) {
		t.Fatalf("directory got %q", got)
	}
	actortest.FailCode(t, f.do(&msg.LeaveChannel{Call: call(12, "b"), ChannelID: "CH"}), msg.CodeNotJoined)
}

func TestDisconnectWithoutSenderIsHandled(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b")
	recs := f.ctx.Deliver(f.a, &msg.LeaveChannel{Call: call(12, "a"), ChannelID: "CH", Disconnect: true}, nil)
	if len(actortest.Responses(recs)) != 0 {
		t.Fatal("a plain Send must not be answered (it would go to dead letters)")
	}
	wantSends(t, recs, "b: EVENT leave a")
}

func TestHolderLeavesWhileOthersQueued(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b", "c", "d")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "c"), ChannelID: "CH"})
	recs := f.do(&msg.LeaveChannel{Call: call(12, "a"), ChannelID: "CH", Disconnect: true})
	wantSends(t, recs,
		"b: EVENT leave a", "b: GRANTED 100 30000",
		"c: EVENT leave a", "c: TAKEN b 100", "c: POS 1/1",
		"d: EVENT leave a", "d: TAKEN b 100")
	if got := value(t, f.met.FloorRevokes.WithLabelValues("disconnect")); got != 1 {
		t.Fatalf("disconnect revokes %v", got)
	}
}

func TestFloorThroughActor(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b", "c")

	recs := f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH", Priority: 100})
	if len(actortest.Responses(recs)) != 0 {
		t.Fatal("floor requests are answered with floor events, not Results")
	}
	wantSends(t, recs, "a: GRANTED 100 30000", "b: TAKEN a 100", "c: TAKEN a 100")
	if got := toDirectory(recs); !slices.Equal(got, []string{"CHANGED  n=3 taken a q=0"}) {
		t.Fatalf("directory got %q", got)
	}

	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"}), "a: DENY already_granted")
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "zed"), ChannelID: "CH"}), "zed: DENY not_member")
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"}), "b: POS 1/1")
	wantSends(t, f.do(&msg.PingFloor{Call: call(32, "a"), ChannelID: "CH"}), "a: PONG")
	wantSends(t, f.do(&msg.PingFloor{Call: call(32, "b"), ChannelID: "CH"}), "b: DENY not_holder")
	wantSends(t, f.do(&msg.ReleaseFloor{Call: call(31, "c"), ChannelID: "CH"}), "c: DENY not_holder")

	// Emergency preempts: REVOKE then TAKEN to the old holder; b stays queued.
	recs = f.do(&msg.RequestFloor{Call: call(30, "c"), ChannelID: "CH", Priority: 255})
	wantSends(t, recs, "a: REVOKE preempted", "a: TAKEN c 255", "b: TAKEN c 255", "c: GRANTED 255 30000")

	// Release by the holder: b (queued) is granted.
	recs = f.do(&msg.ReleaseFloor{Call: call(31, "c"), ChannelID: "CH"})
	wantSends(t, recs, "a: TAKEN b 100", "b: GRANTED 100 30000", "c: TAKEN b 100")

	recs = f.do(&msg.ReleaseFloor{Call: call(31, "b"), ChannelID: "CH"})
	wantSends(t, recs, "a: IDLE", "b: IDLE", "c: IDLE")

	for reason, want := range map[string]float64{"already_granted": 1, "not_member": 1, "not_holder": 2} {
		if got := value(t, f.met.FloorDenials.WithLabelValues(reason)); got != want {
			t.Errorf("denials %s = %v, want %v", reason, got, want)
		}
	}
	if got := value(t, f.met.FloorGrants); got != 3 {
		t.Errorf("grants %v", got)
	}
	if got := value(t, f.met.FloorRevokes.WithLabelValues("preempted")); got != 1 {
		t.Errorf("preempted revokes %v", got)
	}
	if got := value(t, f.met.FloorHoldSeconds); got != 3 {
		t.Errorf("hold observations %v", got)
	}
	if got := value(t, f.met.FloorGrantLatency); got != 2 { // immediate grants only
		t.Errorf("latency observations %v", got)
	}
}

func TestFloorRequestDefaultsToMemberPriority(t *testing.T) {
	f := newFixture(t)
	actortest.OK(t, f.do(&msg.JoinChannel{Call: call(11, "a"), ChannelID: "CH", Priority: 200}))
	f.join("b")
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"}), "a: GRANTED 200 30000", "b: TAKEN a 200")
}

func TestQueueFullFollowsCapacity(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.QueueLimit = 1 })
	f.join("a", "b", "c")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"})
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "c"), ChannelID: "CH"}), "c: DENY queue_full")
}

func TestPingTimeoutRevokes(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	// Pinging every 2 s keeps the floor past 6 s.
	for i := 0; i < 5; i++ {
		f.clk.Advance(2 * time.Second)
		wantSends(t, f.do(&msg.PingFloor{Call: call(32, "a"), ChannelID: "CH"}), "a: PONG")
	}
	f.ctx.SelfProbe.ExpectNone(t, wait)
	f.clk.Advance(6 * time.Second)
	recs := f.ctx.DeliverSelf(t, f.a, wait)
	wantSends(t, recs, "a: REVOKE ping_timeout", "a: IDLE", "b: IDLE")
	if got := value(t, f.met.FloorRevokes.WithLabelValues("ping_timeout")); got != 1 {
		t.Fatalf("ping_timeout revokes %v", got)
	}
	if f.clk.Pending() != 0 {
		t.Fatalf("%d timers left armed after the revoke", f.clk.Pending())
	}
}

func TestMaxDurationRevokesThenNextIsGranted(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"})
	for i := 0; i < 14; i++ { // 28 s of pings
		f.clk.Advance(2 * time.Second)
		f.do(&msg.PingFloor{Call: call(32, "a"), ChannelID: "CH"})
	}
	f.ctx.SelfProbe.ExpectNone(t, wait)
	f.clk.Advance(2 * time.Second)
	recs := f.ctx.DeliverSelf(t, f.a, wait)
	wantSends(t, recs, "a: REVOKE max_duration", "a: TAKEN b 100", "b: GRANTED 100 30000")
	// The new holder's timers run from its own grant.
	f.clk.Advance(6 * time.Second)
	wantSends(t, f.ctx.DeliverSelf(t, f.a, wait), "a: IDLE", "b: REVOKE ping_timeout", "b: IDLE")
}

func TestStaleTimerIgnored(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	f.do(&msg.ReleaseFloor{Call: call(31, "a"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"})
	// Generations 1 and 2 belonged to a's grant.
	for gen := uint64(1); gen <= 2; gen++ {
		for _, kind := range []floor.TimerKind{floor.TimerPing, floor.TimerMaxDuration} {
			recs := f.ctx.Deliver(f.a, &floorTimer{kind: kind, gen: gen}, nil)
			if len(recs) != 0 {
				t.Fatalf("stale timer %s #%d acted: %s", kind, gen, render(recs))
			}
		}
	}
	if !f.a.floor.IsHolder("b") {
		t.Fatal("b lost the floor to a stale timer")
	}
}

func TestAdminRevoke(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b", "c")
	res := actortest.OK(t, f.do(&msg.RevokeFloor{Call: adminCall(0), ChannelID: "CH"})).(*msg.RevokeResult)
	if res.RevokedFrom != nil || res.ChannelID != "CH" {
		t.Fatalf("idle revoke answered %+v", res)
	}
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"})
	actortest.FailCode(t, f.do(&msg.RevokeFloor{Call: call(0, "c"), ChannelID: "CH"}), msg.CodeNotPermitted)
	recs := f.do(&msg.RevokeFloor{Call: adminCall(0), ChannelID: "CH"})
	res = actortest.OK(t, recs).(*msg.RevokeResult)
	if res.RevokedFrom == nil || *res.RevokedFrom != "a" {
		t.Fatalf("revoke answered %+v", res)
	}
	wantSends(t, recs, "a: REVOKE admin", "a: IDLE", "b: IDLE", "c: IDLE")
	d := actortest.OK(t, f.do(&msg.GetChannel{Call: call(16, "c"), ChannelID: "CH"})).(*msg.ChannelDetail)
	if len(d.Queue) != 0 || d.Floor.State != "idle" {
		t.Fatalf("after revoke: %+v", d)
	}
}

func TestUpdatePermissionsAndCapacity(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b", "c")
	name := "New name"
	actortest.FailCode(t, f.do(&msg.UpdateChannel{Call: call(13, "a"), ChannelID: "CH", ChannelName: &name}), msg.CodeNotPermitted)
	two, zero := 2, 0
	actortest.FailCode(t, f.do(&msg.UpdateChannel{Call: call(13, "owner"), ChannelID: "CH", Capacity: &two}), msg.CodeMalformed)
	actortest.FailCode(t, f.do(&msg.UpdateChannel{Call: call(13, "owner"), ChannelID: "CH", Capacity: &zero}), msg.CodeMalformed)
	empty := ""
	actortest.FailCode(t, f.do(&msg.UpdateChannel{Call: call(13, "owner"), ChannelID: "CH", ChannelName: &empty}), msg.CodeMalformed)
	long := strings.Repeat("가", MaxNameLength+1)
	actortest.FailCode(t, f.do(&msg.UpdateChannel{Call: call(13, "owner"), ChannelID: "CH", ChannelName: &long}), msg.CodeMalformed)

	three := 3
	recs := f.do(&msg.UpdateChannel{Call: call(13, "owner"), ChannelID: "CH", ChannelName: &name, Capacity: &three})
	info := actortest.OK(t, recs).(*msg.ChannelInfo)
	if info.ChannelName != name || info.Capacity != 3 || info.MemberCount != 3 {
		t.Fatalf("info %+v", info)
	}
	if got := toDirectory(recs); !slices.Equal(got, []string{"CHANGED update n=3 idle - q=0"}) {
		t.Fatalf("directory got %q", got)
	}
	actortest.FailCode(t, f.do(&msg.JoinChannel{Call: call(11, "d"), ChannelID: "CH"}), msg.CodeChannelFull)
	actortest.OK(t, f.do(&msg.UpdateChannel{Call: adminCall(0), ChannelID: "CH", Capacity: &three}))
}

func TestPresetChannelOnlyAdminMayChange(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Creator = "" })
	name := "x"
	actortest.FailCode(t, f.do(&msg.UpdateChannel{Call: call(13, ""), ChannelID: "CH", ChannelName: &name}), msg.CodeNotPermitted)
	actortest.FailCode(t, f.do(&msg.DeleteChannel{Call: call(14, "owner"), ChannelID: "CH"}), msg.CodeNotPermitted)
	actortest.OK(t, f.do(&msg.DeleteChannel{Call: adminCall(0), ChannelID: "CH"}))
}

func TestDelete(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("a", "b")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	actortest.FailCode(t, f.do(&msg.DeleteChannel{Call: call(14, "a"), ChannelID: "CH"}), msg.CodeNotPermitted)
	recs := f.do(&msg.DeleteChannel{Call: call(14, "owner"), ChannelID: "CH"})
	info := actortest.OK(t, recs).(*msg.ChannelInfo)
	if info.MemberCount != 2 {
		t.Fatalf("delete should answer the channel as it was: %+v", info)
	}
	if got := toDirectory(recs); !slices.Equal(got, []string{"DELETED CH"}) {
		t.Fatalf("directory got %q", got)
	}
	if s := actortest.Filter(recs, actortest.OpStop); len(s) != 2 {
		t.Fatalf("peers not stopped: %s", render(recs))
	}
	if f.clk.Pending() != 0 {
		t.Fatalf("%d floor timers still armed", f.clk.Pending())
	}
	if got := value(t, f.met.Members); got != 0 {
		t.Fatalf("members gauge %v after delete", got)
	}
	name := "x"
	for _, req := range []any{
		&msg.JoinChannel{Call: call(11, "c"), ChannelID: "CH"},
		&msg.LeaveChannel{Call: call(12, "a"), ChannelID: "CH"},
		&msg.UpdateChannel{Call: call(13, "owner"), ChannelID: "CH", ChannelName: &name},
		&msg.DeleteChannel{Call: call(14, "owner"), ChannelID: "CH"},
		&msg.GetChannel{Call: call(16, "a"), ChannelID: "CH"},
		&msg.PostMessage{Call: call(20, "a"), ChannelID: "CH", Content: "hi"},
		&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"},
		&msg.ReleaseFloor{Call: call(31, "a"), ChannelID: "CH"},
		&msg.PingFloor{Call: call(32, "a"), ChannelID: "CH"},
		&msg.RevokeFloor{Call: adminCall(0), ChannelID: "CH"},
	} {
		actortest.FailCode(t, f.do(req), msg.CodeNoSuchChannel)
	}
}

func TestGetChannel(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("a")
	f.join("b", "c")
	f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "c"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH", Priority: 50})
	d := actortest.OK(t, f.do(&msg.GetChannel{Call: call(16, "zed"), ChannelID: "CH"})).(*msg.ChannelDetail)
	if d.MemberCount != 3 || d.QueueSize != 2 || d.Floor.State != "taken" || *d.Floor.Holder != "b" ||
		d.Floor.Since == nil || !d.Floor.Since.Equal(t0) || d.Creator != "owner" || !d.CreatedAt.Equal(t0) {
		t.Fatalf("detail %+v", d)
	}
	if want := []msg.MemberInfo{{UserID: "c", Priority: 100}, {UserID: "a", Priority: 50}}; !slices.Equal(d.Queue, want) {
		t.Fatalf("queue %+v, want %+v", d.Queue, want)
	}
	ad := actortest.OK(t, f.do(&msg.GetChannel{Call: adminCall(0), ChannelID: "CH"})).(*msg.AdminChannelDetail)
	if len(ad.Peers) != 1 || ad.Peers[0].UserID != "a" || len(ad.Members) != 3 {
		t.Fatalf("admin detail %+v", ad)
	}
}

func TestMessages(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b")
	actortest.FailCode(t, f.do(&msg.PostMessage{Call: call(20, "zed"), ChannelID: "CH", Content: "hi"}), msg.CodeNotMember)
	actortest.FailCode(t, f.do(&msg.PostMessage{Call: call(20, "a"), ChannelID: "CH", Content: ""}), msg.CodeEmptyMessage)
	actortest.FailCode(t, f.do(&msg.PostMessage{Call: call(20, "a"), ChannelID: "CH", Content: " \t\n"}), msg.CodeEmptyMessage)
	actortest.FailCode(t, f.do(&msg.PostMessage{Call: call(20, "a"), ChannelID: "CH", Content: strings.Repeat("말", 2001)}), msg.CodeMessageTooLong)
	f.clk.Advance(1234 * time.Millisecond)
	recs := f.do(&msg.PostMessage{Call: call(20, "a"), ChannelID: "CH", Content: strings.Repeat("말", 2000)})
	if ack := actortest.OK(t, recs).(*msg.MessageAck); ack.MessageID != "1" {
		t.Fatalf("ack %+v", ack)
	}
	sent := actortest.Filter(recs, actortest.OpSend)
	var to []string
	for _, r := range sent {
		to = append(to, r.To.Id)
		ev, ok := r.Message.(*msg.MessageEvent)
		if !ok || ev.MessageID != "1" || ev.UserID != "a" || ev.ChannelID != "CH" ||
			ev.Content != strings.Repeat("말", 2000) || ev.Timestamp != "2026-03-04T05:06:08.234Z" {
			t.Fatalf("event to %s: %+v", r.To.Id, r.Message)
		}
	}
	slices.Sort(to)
	if want := []string{sess("a").Id, sess("b").Id}; !slices.Equal(to, want) {
		t.Fatalf("message went to %q, want both members incl. the sender %q", to, want)
	}
	recs = f.do(&msg.PostMessage{Call: call(20, "b"), ChannelID: "CH", Content: "two"})
	if ack := actortest.OK(t, recs).(*msg.MessageAck); ack.MessageID != "2" {
		t.Fatalf("second message id %q", ack.MessageID)
	}
}

func TestPanicRecoveredStateKept(t *testing.T) {
	f := newFixture(t)
	f.join("a")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	actortest.FailCode(t, f.do(&msg.JoinChannel{Call: call(11, "b"), ChannelID: "CH", Offer: offer("panic")}), msg.CodeInternal)
	if got := value(t, f.met.ActorPanics.WithLabelValues("channel")); got != 1 {
		t.Fatalf("panics counted %v", got)
	}
	d := actortest.OK(t, f.do(&msg.GetChannel{Call: call(16, "a"), ChannelID: "CH"})).(*msg.ChannelDetail)
	if d.MemberCount != 1 || d.Floor.Holder == nil || *d.Floor.Holder != "a" {
		t.Fatalf("state lost after panic: %+v", d)
	}
	f.join("b")
}

func TestQueueThroughActor(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b", "c", "d")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH", Priority: 200})
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"}), "b: POS 1/1")
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "c"), ChannelID: "CH"}), "c: POS 2/2")
	// d jumps ahead of both; both are told their new place.
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "d"), ChannelID: "CH", Priority: 150}), "d: POS 1/3", "b: POS 2/3", "c: POS 3/3")
	// b withdraws: it gets position 0, c moves up.
	wantSends(t, f.do(&msg.ReleaseFloor{Call: call(31, "b"), ChannelID: "CH"}), "b: POS 0/2", "c: POS 2/2")
	// d leaves: c moves up; everyone else sees the leave.
	recs := f.do(&msg.LeaveChannel{Call: call(12, "d"), ChannelID: "CH"})
	wantSends(t, recs, "a: EVENT leave d", "b: EVENT leave d", "c: EVENT leave d", "c: POS 1/1")
	if got := toDirectory(recs); !slices.Equal(got, []string{"CHANGED  n=3 taken a q=1"}) {
		t.Fatalf("directory got %q", got)
	}
}

func TestBaselineAfterEveryoneLeaves(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("a", "b")
	f.join("c")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	f.do(&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"})
	for _, u := range []string{"a", "b", "c"} {
		actortest.OK(t, f.do(&msg.LeaveChannel{Call: call(12, u), ChannelID: "CH", Disconnect: true}))
	}
	if len(f.a.members) != 0 || len(f.a.listeners) != 0 || f.a.floor.State() != floor.Idle || f.a.floor.QueueLen() != 0 {
		t.Fatalf("state left behind: members %d listeners %d floor %s queue %d",
			len(f.a.members), len(f.a.listeners), f.a.floor.State(), f.a.floor.QueueLen())
	}
	if f.clk.Pending() != 0 || value(t, f.met.Members) != 0 {
		t.Fatalf("timers %d, members gauge %v", f.clk.Pending(), value(t, f.met.Members))
	}
	if n := len(actortest.Filter(f.ctx.Records, actortest.OpStop)); n != 2 {
		t.Fatalf("%d peers stopped, want 2", n)
	}
}

func TestStoppingReleasesGaugeAndTimers(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b")
	f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"})
	f.ctx.Deliver(f.a, &actor.Stopping{}, nil)
	if f.clk.Pending() != 0 || value(t, f.met.Members) != 0 {
		t.Fatalf("after stop: timers %d, members gauge %v", f.clk.Pending(), value(t, f.met.Members))
	}
}

func TestTakeoverWithBadOfferKeepsOldMembership(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("alice")
	newSession := actor.NewPID("nonhost", "s-alice2")
	recs := f.ctx.Deliver(f.a, &msg.JoinChannel{
		Call: msg.Call{Op: 11, UserID: "alice", Session: newSession}, ChannelID: "CH", Offer: offer("bad")}, newSession)
	actortest.FailCode(t, recs, msg.CodeBadOffer)
	if len(actortest.Filter(recs, actortest.OpStop)) != 0 || !f.a.members["alice"].session.Equal(sess("alice")) {
		t.Fatalf("a refused takeover changed the membership: %s", render(recs))
	}
}

// The directory hears of every change of the channel object before any session hears of it,
// so that a client that saw GRANTED, IDLE or a leave finds it in CHANNEL_LIST and the admin
// API at once.
func TestDirectoryHearsBeforeTheMembers(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b")
	for _, m := range []any{
		&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"},
		&msg.RequestFloor{Call: call(30, "b"), ChannelID: "CH"},
		&msg.ReleaseFloor{Call: call(31, "a"), ChannelID: "CH"},
		&msg.LeaveChannel{Call: call(12, "b"), ChannelID: "CH"},
	} {
		recs := f.do(m)
		first := -1
		for i, r := range recs {
			if r.To != nil && r.To.Equal(f.dir) {
				if _, ok := r.Message.(*msg.ChannelChanged); ok && first < 0 {
					first = i
				}
			}
		}
		if first < 0 {
			t.Fatalf("%T: the directory heard nothing", m)
		}
		for i, r := range recs[:first] {
			if r.Op == actortest.OpSend || r.Op == actortest.OpRespond {
				t.Fatalf("%T: record %d (%T) went out before the directory heard", m, i, r.Message)
			}
		}
	}
}

func TestMessageLengthLimitIsConfigurable(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxMessageLength = 3 })
	f.join("a")
	actortest.OK(t, f.do(&msg.PostMessage{Call: call(20, "a"), ChannelID: "CH", Content: "말말말"}))
	actortest.FailCode(t, f.do(&msg.PostMessage{Call: call(20, "a"), ChannelID: "CH", Content: "말말말말"}), msg.CodeMessageTooLong)
}

// A user's second session that has not joined is no member, even while the first session
// still holds the membership: its floor requests and messages are refused, and nothing is
// sent to the session that holds the membership on its behalf.
func TestOnlyTheMemberSessionActsForTheUser(t *testing.T) {
	f := newFixture(t)
	f.join("a", "b")
	other := actor.NewPID("nonhost", "s-a-2")
	c := msg.Call{Op: 30, UserID: "a", Session: other}
	recs := f.ctx.Deliver(f.a, &msg.RequestFloor{Call: c, ChannelID: "CH"}, other)
	var sent []string
	for _, r := range recs {
		if r.Op == actortest.OpSend && (r.To.Equal(sess("a")) || r.To.Equal(sess("b")) || r.To.Equal(other)) {
			sent = append(sent, r.To.Id+": "+describe(r.Message))
		}
	}
	if len(sent) != 1 || sent[0] != "s-a-2: DENY not_member" {
		t.Fatalf("sent %v, want only DENY not_member to the second session", sent)
	}
	c.Op = 20
	recs = f.ctx.Deliver(f.a, &msg.PostMessage{Call: c, ChannelID: "CH", Content: "hi"}, other)
	actortest.FailCode(t, recs, msg.CodeNotMember)
}
