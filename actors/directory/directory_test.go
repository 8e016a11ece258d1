package directory

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/channel"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

const wait = 5 * time.Second

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

type fixture struct {
	t   *testing.T
	ctx *actortest.Context
	clk *clock.Fake
	met *metrics.Metrics
	d   *Actor
}

func newFixture(t *testing.T, presets []msg.ChannelSpec) *fixture {
	t.Helper()
	return newFixtureConfig(t, Config{Presets: presets})
}

// newFixtureConfig starts a directory of cfg on a fake clock (at t0), private metrics and a
// silent logger, delivered through a recording context.
func newFixtureConfig(t *testing.T, cfg Config) *fixture {
	t.Helper()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	f := &fixture{t: t, ctx: actortest.NewContext(t, sys), clk: clock.NewFake(t0), met: metrics.New()}
	cfg.Clock, cfg.Metrics, cfg.Logger = f.clk, f.met, slog.New(slog.DiscardHandler)
	f.d = New(cfg)
	f.ctx.Deliver(f.d, &actor.Started{}, nil)
	return f
}

var asker = actor.NewPID("nonhost", "asker")

func sess(user string) *actor.PID { return actor.NewPID("nonhost", "s-"+user) }

func (f *fixture) do(m any) []actortest.Record { return f.ctx.Deliver(f.d, m, asker) }

func (f *fixture) register(user string, session *actor.PID) []actortest.Record {
	return f.ctx.Deliver(f.d, &msg.RegisterSession{UserID: user, Priority: 100, Session: session}, session)
}

func gauge(t *testing.T, g interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func ids(list []msg.ChannelInfo) []string {
	var out []string
	for _, c := range list {
		out = append(out, c.ChannelID)
	}
	return out
}

func TestPresetsSpawnedAtStart(t *testing.T) {
	f := newFixture(t, append(DefaultPresets(), msg.ChannelSpec{ChannelID: "bad id!"}, DefaultPresets()[0]))
	if n := len(actortest.Filter(f.ctx.Records, actortest.OpSpawn)); n != 3 {
		t.Fatalf("%d channel actors spawned, want 3 (invalid and duplicate presets skipped)", n)
	}
	list := actortest.OK(t, f.do(&msg.ListChannels{Call: msg.Call{Op: 15}})).(*msg.ChannelList)
	if got := ids(list.Channels); !slices.Equal(got, []string{"CH_0001", "CH_0002", "CH_0003"}) {
		t.Fatalf("channels %q", got)
	}
	c := list.Channels[1]
	if c.Freq != "0002" || c.ChannelName != "🤝 스스 파트너스" || c.Capacity != 20 || c.Creator != "" ||
		c.Floor.State != msg.FloorStateIdle || !c.CreatedAt.Equal(t0) {
		t.Fatalf("preset %+v", c)
	}
	if gauge(t, f.met.Channels) != 3 {
		t.Fatal("channels gauge")
	}
}

func TestCreateChannel(t *testing.T) {
	f := newFixture(t, nil)
	f.register("alice", sess("alice"))
	f.register("bob", sess("bob"))
	for _, bad := range []msg.ChannelSpec{
		{ChannelID: ""}, {ChannelID: "has space"}, {ChannelID: string(make([]byte, 65))},
		{ChannelID: "ok", Capacity: -1},
	} {
		actortest.FailCode(t, f.do(&msg.CreateChannel{Call: msg.Call{Op: 10, UserID: "alice"}, Spec: bad}), msg.CodeMalformed)
	}
	recs := f.do(&msg.CreateChannel{Call: msg.Call{Op: 10, UserID: "alice", Session: sess("alice")},
		Spec: msg.ChannelSpec{ChannelID: "Team-1", Freq: "0101"}})
	info := actortest.OK(t, recs).(*msg.ChannelInfo)
	if info.ChannelID != "Team-1" || info.Capacity != 20 || info.ChannelName != "Team-1" || info.Creator != "alice" || info.MemberCount != 0 {
		t.Fatalf("created %+v", info)
	}
	if len(actortest.Filter(recs, actortest.OpSpawn)) != 1 {
		t.Fatal("no channel actor spawned")
	}
	for _, u := range []string{"alice", "bob"} {
		evs := actortest.SentTo(recs, sess(u))
		if len(evs) != 1 {
			t.Fatalf("%s got %d events", u, len(evs))
		}
		ev := evs[0].(*msg.ChannelEvent)
		if ev.Event != msg.EventCreate || ev.ChannelID != "Team-1" || ev.Channel == nil || ev.Channel.Creator != "alice" {
			t.Fatalf("%s got %+v", u, ev)
		}
	}
	actortest.FailCode(t, f.do(&msg.CreateChannel{Call: msg.Call{Op: 10, UserID: "bob"}, Spec: msg.ChannelSpec{ChannelID: "Team-1"}}), msg.CodeChannelExists)
}

func TestForwardsChannelRequests(t *testing.T) {
	f := newFixture(t, DefaultPresets())
	chPID := f.d.channels["CH_0001"].pid
	requests := []msg.ChannelRequest{
		&msg.JoinChannel{ChannelID: "CH_0001"}, &msg.LeaveChannel{ChannelID: "CH_0001"},
		&msg.UpdateChannel{ChannelID: "CH_0001"}, &msg.DeleteChannel{ChannelID: "CH_0001"},
		&msg.GetChannel{ChannelID: "CH_0001"}, &msg.PostMessage{ChannelID: "CH_0001"},
		&msg.RequestFloor{ChannelID: "CH_0001"}, &msg.ReleaseFloor{ChannelID: "CH_0001"},
		&msg.PingFloor{ChannelID: "CH_0001"}, &msg.RevokeFloor{ChannelID: "CH_0001"},
	}
	for _, req := range requests {
		recs := f.do(req)
		if len(recs) != 1 || recs[0].Op != actortest.OpForward || !recs[0].To.Equal(chPID) || !recs[0].Sender.Equal(asker) {
			t.Fatalf("%T: %+v", req, recs)
		}
	}
	actortest.FailCode(t, f.do(&msg.JoinChannel{Call: msg.Call{Op: 11}, ChannelID: "nope"}), msg.CodeNoSuchChannel)
	actortest.FailCode(t, f.do(&msg.RequestFloor{Call: msg.Call{Op: 30}, ChannelID: "nope"}), msg.CodeNoSuchChannel)
}

func TestSessionsReplaceAndUnregister(t *testing.T) {
	f := newFixture(t, nil)
	if r := actortest.Result(t, f.register("alice", sess("alice"))); r.Err != nil {
		t.Fatal(r.Err)
	}
	newer := actor.NewPID("nonhost", "s-alice-2")
	recs := f.register("alice", newer)
	if got := actortest.SentTo(recs, sess("alice")); len(got) != 1 {
		t.Fatalf("old session got %v, want Replaced", got)
	} else if _, ok := got[0].(*msg.Replaced); !ok {
		t.Fatalf("old session got %T", got[0])
	}
	// The replaced session unregisters late: ignored.
	f.ctx.Deliver(f.d, &msg.UnregisterSession{UserID: "alice", Session: sess("alice")}, nil)
	users := actortest.OK(t, f.do(&msg.ListUsers{})).(*msg.UserList)
	if len(users.Users) != 1 {
		t.Fatalf("late unregister removed the new session: %+v", users)
	}
	// GetUser is answered by the current session.
	recs = f.do(&msg.GetUser{UserID: "alice"})
	if len(recs) != 1 || recs[0].Op != actortest.OpForward || !recs[0].To.Equal(newer) {
		t.Fatalf("GetUser: %+v", recs)
	}
	f.ctx.Deliver(f.d, &msg.UnregisterSession{UserID: "alice", Session: newer}, nil)
	actortest.FailCode(t, f.do(&msg.GetUser{UserID: "alice"}), msg.CodeNoSuchUser)
	if gauge(t, f.met.Users) != 0 {
		t.Fatal("users gauge not back to 0")
	}
}

func TestListUsersAndStatus(t *testing.T) {
	f := newFixture(t, DefaultPresets())
	seen := t0
	f.ctx.Deliver(f.d, &msg.RegisterSession{UserID: "zoe", Priority: 255, Session: sess("zoe"),
		LastSeen: func() time.Time { return seen }}, nil)
	f.clk.Advance(3 * time.Second)
	f.register("adam", sess("adam"))
	f.clk.Advance(2 * time.Second)
	users := actortest.OK(t, f.do(&msg.ListUsers{})).(*msg.UserList).Users
	if len(users) != 2 || users[0].UserID != "adam" || users[1].UserID != "zoe" {
		t.Fatalf("users %+v", users)
	}
	if users[1].SinceHeartbeatS != 5 || users[1].Priority != 255 || !users[1].ConnectedAt.Equal(t0) {
		t.Fatalf("zoe %+v", users[1])
	}
	holder := "zoe"
	info := f.d.channels["CH_0002"].info
	info.Floor = msg.FloorInfo{State: msg.FloorStateTaken, Holder: &holder}
	f.ctx.Deliver(f.d, &msg.ChannelChanged{Info: info}, nil)
	st := actortest.OK(t, f.do(&msg.GetStatus{})).(*msg.DirectoryStatus)
	if *st != (msg.DirectoryStatus{Users: 2, Channels: 3, FloorActive: 1}) {
		t.Fatalf("status %+v", st)
	}
}

func TestChannelChangedAndDeleted(t *testing.T) {
	f := newFixture(t, DefaultPresets())
	f.register("a", sess("a"))
	info := f.d.channels["CH_0001"].info
	info.MemberCount = 4
	if recs := f.ctx.Deliver(f.d, &msg.ChannelChanged{Info: info}, nil); len(recs) != 0 {
		t.Fatalf("a plain change must not be broadcast: %+v", recs)
	}
	info.ChannelName = "renamed"
	recs := f.ctx.Deliver(f.d, &msg.ChannelChanged{Info: info, Event: msg.EventUpdate}, nil)
	if evs := actortest.SentTo(recs, sess("a")); len(evs) != 1 || evs[0].(*msg.ChannelEvent).Channel.ChannelName != "renamed" {
		t.Fatalf("update broadcast %+v", recs)
	}
	list := actortest.OK(t, f.do(&msg.ListChannels{})).(*msg.ChannelList)
	if list.Channels[0].MemberCount != 4 || list.Channels[0].ChannelName != "renamed" {
		t.Fatalf("cache not updated: %+v", list.Channels[0])
	}

	pid := f.d.channels["CH_0001"].pid
	recs = f.ctx.Deliver(f.d, &msg.ChannelDeleted{ChannelID: "CH_0001"}, nil)
	if p := actortest.Filter(recs, actortest.OpPoison); len(p) != 1 || !p[0].To.Equal(pid) {
		t.Fatalf("deleted channel not ended: %+v", recs)
	}
	if evs := actortest.SentTo(recs, sess("a")); len(evs) != 1 || evs[0].(*msg.ChannelEvent).Event != msg.EventDelete {
		t.Fatalf("delete broadcast %+v", recs)
	}
	actortest.FailCode(t, f.do(&msg.GetChannel{ChannelID: "CH_0001"}), msg.CodeNoSuchChannel)
	// A late change from the deleted channel does not bring it back.
	f.ctx.Deliver(f.d, &msg.ChannelChanged{Info: info}, nil)
	if got := ids(actortest.OK(t, f.do(&msg.ListChannels{})).(*msg.ChannelList).Channels); !slices.Equal(got, []string{"CH_0002", "CH_0003"}) {
		t.Fatalf("channels %q", got)
	}
	// A channel actor that ends on its own is dropped too.
	recs = f.ctx.Deliver(f.d, &actor.Terminated{Who: f.d.channels["CH_0002"].pid}, nil)
	if len(actortest.SentTo(recs, sess("a"))) != 1 || f.d.channels["CH_0002"] != nil {
		t.Fatalf("terminated channel: %+v", recs)
	}
}

func TestPanicRecovered(t *testing.T) {
	f := newFixture(t, nil)
	f.ctx.Deliver(f.d, &msg.RegisterSession{UserID: "a", Session: sess("a"), LastSeen: func() time.Time { panic("clock broke") }}, nil)
	actortest.FailCode(t, f.do(&msg.ListUsers{}), msg.CodeInternal)
	if gauge(t, f.met.ActorPanics.WithLabelValues("directory")) != 1 {
		t.Fatal("panic not counted")
	}
	if st := actortest.OK(t, f.do(&msg.GetStatus{})).(*msg.DirectoryStatus); st.Users != 1 {
		t.Fatalf("state lost: %+v", st)
	}
}

// TestWithRealChannels runs the directory and its channel actors in an actor system: requests
// go through the directory to the channel and are answered to the original asker.
func TestWithRealChannels(t *testing.T) {
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	clk := clock.NewFake(t0)
	dir := sys.Root.Spawn(Props(Config{
		Presets: DefaultPresets(), Clock: clk, Logger: slog.New(slog.DiscardHandler),
		Channel: channel.Config{Media: msg.NoMedia{}},
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(dir).Wait() })
	ask := func(req any) *msg.Result {
		t.Helper()
		res, err := sys.Root.RequestFuture(dir, req, wait).Result()
		if err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		return res.(*msg.Result)
	}
	alice, bob := actortest.NewProbe(t, sys), actortest.NewProbe(t, sys)
	ask(&msg.RegisterSession{UserID: "alice", Priority: 100, Session: alice.PID()})
	ask(&msg.RegisterSession{UserID: "bob", Priority: 100, Session: bob.PID()})
	ac := msg.Call{Op: 11, UserID: "alice", Session: alice.PID()}
	bc := msg.Call{Op: 11, UserID: "bob", Session: bob.PID()}

	if r := ask(&msg.CreateChannel{Call: ac, Spec: msg.ChannelSpec{ChannelID: "room", ChannelName: "Room", Capacity: 2}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	actortest.Expect[*msg.ChannelEvent](t, alice, wait)
	actortest.Expect[*msg.ChannelEvent](t, bob, wait)

	if r := ask(&msg.JoinChannel{Call: ac, ChannelID: "room"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	r := ask(&msg.JoinChannel{Call: bc, ChannelID: "room"})
	if ack := r.Data.(*msg.JoinAck); len(ack.ActiveMembers) != 2 {
		t.Fatalf("ack %+v", ack)
	}
	if ev := actortest.Expect[*msg.ChannelEvent](t, alice, wait); ev.Event != msg.EventJoin || ev.UserID != "bob" {
		t.Fatalf("alice got %+v", ev)
	}
	// The channel told the directory before answering, so the list already counts both.
	list := ask(&msg.ListChannels{}).Data.(*msg.ChannelList)
	if got := ids(list.Channels); !slices.Equal(got, []string{"CH_0001", "CH_0002", "CH_0003", "room"}) || list.Channels[3].MemberCount != 2 {
		t.Fatalf("list %+v", list.Channels)
	}

	// Non-creator cannot delete; the creator can; everyone identified hears of it.
	if r := ask(&msg.DeleteChannel{Call: bc, ChannelID: "room"}); r.Err == nil || r.Err.Code != msg.CodeNotPermitted {
		t.Fatalf("bob deleted: %+v", r)
	}
	if r := ask(&msg.DeleteChannel{Call: ac, ChannelID: "room"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, p := range []*actortest.Probe{alice, bob} {
		if ev := actortest.Expect[*msg.ChannelEvent](t, p, wait); ev.Event != msg.EventDelete || ev.ChannelID != "room" {
			t.Fatalf("got %+v", ev)
		}
	}
	if r := ask(&msg.GetChannel{Call: ac, ChannelID: "room"}); r.Err == nil || r.Err.Code != msg.CodeNoSuchChannel {
		t.Fatalf("deleted channel answered %+v", r)
	}
	if st := ask(&msg.GetStatus{}).Data.(*msg.DirectoryStatus); st.Channels != 3 || st.Users != 2 {
		t.Fatalf("status %+v", st)
	}
	alice.ExpectNone(t, wait)
}

func TestValidateSpec(t *testing.T) {
	long := ""
	for i := 0; i < 65; i++ {
		long += "주"
	}
	cases := []struct {
		in       msg.ChannelSpec
		wantErr  bool
		wantName string
		wantCap  int
	}{
		{in: msg.ChannelSpec{ChannelID: "a_B-9", ChannelName: "x", Capacity: 5}, wantName: "x", wantCap: 5},
		{in: msg.ChannelSpec{ChannelID: "a"}, wantName: "a", wantCap: 20},
		{in: msg.ChannelSpec{ChannelID: "a", ChannelName: "   "}, wantName: "a", wantCap: 20},
		{in: msg.ChannelSpec{ChannelID: "a.b"}, wantErr: true},
		{in: msg.ChannelSpec{ChannelID: "채널"}, wantErr: true},
		{in: msg.ChannelSpec{ChannelID: "a", Capacity: -3}, wantErr: true},
		{in: msg.ChannelSpec{ChannelID: "a", Freq: long}, wantErr: true},
		{in: msg.ChannelSpec{ChannelID: "a", ChannelName: long + long}, wantErr: true},
	}
	for _, c := range cases {
		got, err := ValidateSpec(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("%+v: err %v", c.in, err)
			continue
		}
		if err != nil {
			if err.Code != msg.CodeMalformed {
				t.Errorf("%+v: code %d", c.in, err.Code)
			}
			continue
		}
		if got.ChannelName != c.wantName || got.Capacity != c.wantCap {
			t.Errorf("%+v → %+v", c.in, got)
		}
	}
}
