package channel

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

const wait = 5 * time.Second

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeMedia opens pretend peers: offer "bad" is refused, offer "panic" panics, offers
// "recvonly", "sendonly" and "inactive" get peers of that direction (any other is sendrecv).
type fakeMedia struct {
	opened  int
	spawn   func(user string) *actor.PID // real peers for actor-system tests; nil: fake PIDs
	streams map[string]*fakeStream       // by user, the latest peer's
}

// fakeStream counts what the relay seals into it; with log set it also records the payloads.
type fakeStream struct {
	sealed atomic.Int64
	log    chan string // nil: count only (recording allocates)
}

func (s *fakeStream) Seal(dst, plain []byte) ([]byte, netip.AddrPort, bool) {
	s.sealed.Add(1)
	if s.log != nil {
		s.log <- string(plain)
	}
	return append(dst, plain...), netip.MustParseAddrPort("127.0.0.1:9"), true
}

// offer is a parsed offer whose ICE ufrag tells fakeMedia how to answer: "bad" (2006),
// "panic", "recvonly", "sendonly", "inactive"; anything else is a sendrecv peer.
func offer(kind string) *media.Offer { return &media.Offer{ICEUfrag: kind} }

func (f *fakeMedia) OpenPeer(_ actor.SpawnerContext, req msg.PeerRequest) (msg.Peer, *msg.Error) {
	switch req.Offer.ICEUfrag {
	case "bad":
		return msg.Peer{}, msg.Errorf(msg.CodeBadOffer, "offer has no audio")
	case "panic":
		panic("media exploded")
	}
	f.opened++
	pid := actor.NewPID("nonhost", fmt.Sprintf("p-%s-%d", req.UserID, f.opened))
	if f.spawn != nil {
		pid = f.spawn(req.UserID)
	}
	ufrag := fmt.Sprintf("uf%s%d", req.UserID, f.opened)
	st := &fakeStream{log: make(chan string, 100)}
	if f.streams == nil {
		f.streams = map[string]*fakeStream{}
	}
	f.streams[req.UserID] = st
	return msg.Peer{PID: pid, Ufrag: ufrag, Answer: "answer-" + req.UserID, Stream: st,
		NoSend:    req.Offer.ICEUfrag == "recvonly" || req.Offer.ICEUfrag == "inactive",
		NoReceive: req.Offer.ICEUfrag == "sendonly" || req.Offer.ICEUfrag == "inactive",
		Info: func() msg.PeerDetail {
			return msg.PeerDetail{PeerInfo: msg.PeerInfo{Ufrag: ufrag, UserID: req.UserID, ChannelID: req.ChannelID}}
		}}, nil
}

// fixture drives one channel actor through actortest.Context with a fake clock.
type fixture struct {
	t     *testing.T
	sys   *actor.ActorSystem
	ctx   *actortest.Context
	clk   *clock.Fake
	met   *metrics.Metrics
	media *fakeMedia
	dir   *actor.PID
	a     *Actor
}

func newFixture(t *testing.T, edit ...func(*Config)) *fixture {
	t.Helper()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	f := &fixture{
		t: t, sys: sys, ctx: actortest.NewContext(t, sys), clk: clock.NewFake(t0),
		met: metrics.New(), media: &fakeMedia{}, dir: actor.NewPID("nonhost", "directory"),
	}
	cfg := Config{
		Spec:      msg.ChannelSpec{ChannelID: "CH", Freq: "0001", ChannelName: "Ops", Capacity: 4},
		Creator:   "owner",
		Clock:     f.clk,
		Media:     f.media,
		Metrics:   f.met,
		Directory: f.dir,
		Logger:    slog.New(slog.DiscardHandler),
	}
	for _, e := range edit {
		e(&cfg)
	}
	f.a = New(cfg)
	f.ctx.Deliver(f.a, &actor.Started{}, nil)
	return f
}

func sess(user string) *actor.PID { return actor.NewPID("nonhost", "s-"+user) }

func call(op int, user string) msg.Call { return msg.Call{Op: op, UserID: user, Session: sess(user)} }

func adminCall(op int) msg.Call { return msg.Call{Op: op, Admin: true} }

// do delivers m as a request from the session in its Call (or an admin asker).
func (f *fixture) do(m any) []actortest.Record {
	f.t.Helper()
	sender := actor.NewPID("nonhost", "admin")
	if r, ok := m.(msg.ChannelRequest); ok {
		if _, c := r.Target(); c.Session != nil {
			sender = c.Session
		}
	}
	return f.ctx.Deliver(f.a, m, sender)
}

func (f *fixture) join(users ...string) {
	f.t.Helper()
	for _, u := range users {
		actortest.OK(f.t, f.do(&msg.JoinChannel{Call: call(11, u), ChannelID: "CH", Priority: 100}))
	}
}

func (f *fixture) joinMedia(users ...string) {
	f.t.Helper()
	for _, u := range users {
		actortest.OK(f.t, f.do(&msg.JoinChannel{Call: call(11, u), ChannelID: "CH", Priority: 100, Offer: offer("offer")}))
	}
}

// describe renders a message compactly for comparisons.
func describe(m any) string {
	switch v := m.(type) {
	case *msg.FloorGranted:
		return fmt.Sprintf("GRANTED %d %d", v.Priority, v.MaxDurationMs)
	case *msg.FloorDeny:
		return "DENY " + v.Reason
	case *msg.FloorTaken:
		return fmt.Sprintf("TAKEN %s %d", v.UserID, v.Priority)
	case *msg.FloorIdle:
		return "IDLE"
	case *msg.FloorRevoke:
		return "REVOKE " + v.Reason
	case *msg.FloorQueuePos:
		return fmt.Sprintf("POS %d/%d", v.Position, v.Size)
	case *msg.FloorPong:
		return "PONG"
	case *msg.ChannelEvent:
		return "EVENT " + v.Event + " " + v.UserID
	case *msg.MessageEvent:
		return "MSG " + v.UserID + " " + v.Content
	case *msg.ChannelChanged:
		h := "-"
		if v.Info.Floor.Holder != nil {
			h = *v.Info.Floor.Holder
		}
		return fmt.Sprintf("CHANGED %s n=%d %s %s q=%d", v.Event, v.Info.MemberCount, v.Info.Floor.State, h, v.Info.QueueSize)
	case *msg.ChannelDeleted:
		return "DELETED " + v.ChannelID
	case *msg.Result:
		if v.Err != nil {
			return fmt.Sprintf("ERROR %d", v.Err.Code)
		}
		return fmt.Sprintf("ACK %T", v.Data)
	}
	return fmt.Sprintf("%T", m)
}

func name(pid *actor.PID) string {
	if pid == nil {
		return "<nil>"
	}
	return strings.TrimPrefix(pid.Id, "s-")
}

// sends renders the Send records, excluding the directory, as "to: message", grouped by
// recipient (stable, so each recipient's own order is kept).
func sends(recs []actortest.Record) []string {
	var out []string
	for _, r := range actortest.Filter(recs, actortest.OpSend) {
		if name(r.To) == "directory" {
			continue
		}
		out = append(out, name(r.To)+": "+describe(r.Message))
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.SplitN(out[i], ":", 2)[0] < strings.SplitN(out[j], ":", 2)[0]
	})
	return out
}

// toDirectory renders what the records sent to the directory.
func toDirectory(recs []actortest.Record) []string {
	var out []string
	for _, r := range actortest.Filter(recs, actortest.OpSend) {
		if name(r.To) == "directory" {
			out = append(out, describe(r.Message))
		}
	}
	return out
}

func render(recs []actortest.Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "\n  %s %s %s", r.Op, name(r.To), describe(r.Message))
	}
	return b.String()
}

func wantSends(t *testing.T, recs []actortest.Record, want ...string) {
	t.Helper()
	sortedWant := slices.Clone(want)
	sort.SliceStable(sortedWant, func(i, j int) bool {
		return strings.SplitN(sortedWant[i], ":", 2)[0] < strings.SplitN(sortedWant[j], ":", 2)[0]
	})
	if got := sends(recs); !slices.Equal(got, sortedWant) {
		t.Fatalf("sends:\n got %q\nwant %q", got, sortedWant)
	}
}

// value reads a counter, gauge or histogram count.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("metric %v has no value", c.Desc())
	return 0
}
