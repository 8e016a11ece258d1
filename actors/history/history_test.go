package history

import (
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/actors/clock"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/admin/metrics"
	"github.com/minilivechat/minilivechat/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func spawn(t *testing.T, st *store.Store, m *metrics.Metrics) (*actor.ActorSystem, *actor.PID) {
	t.Helper()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	pid := sys.Root.Spawn(Props(Config{Store: st, Clock: clock.NewFake(t0), Metrics: m, Logger: slog.New(slog.DiscardHandler)}))
	return sys, pid
}

func list(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, q *msg.ListBursts) *msg.Result {
	t.Helper()
	res, err := sys.Root.RequestFuture(pid, q, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	return res.(*msg.Result)
}

// TestBurstsWrittenInOrder: a channel's grant and end become one row, an answer to ListBursts
// includes everything sent before it, and the actor closes the database when it stops.
func TestBurstsWrittenInOrder(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	sys, pid := spawn(t, st, m)
	sys.Root.Send(pid, &msg.BurstBegan{ChannelID: "A", UserID: "alice", Priority: 100, At: t0})
	sys.Root.Send(pid, &msg.BurstEnded{ChannelID: "A", Reason: "release", At: t0.Add(time.Second), Packets: 50})
	sys.Root.Send(pid, &msg.BurstBegan{ChannelID: "A", UserID: "bob", Priority: 100, At: t0.Add(2 * time.Second)})
	r := list(t, sys, pid, &msg.ListBursts{ChannelID: "A"})
	bs := r.Data.(*msg.BurstList).Bursts
	if len(bs) != 2 || bs[0].UserID != "bob" || bs[0].EndReason != "" || bs[1].Packets != 50 {
		t.Fatalf("bursts %+v", bs)
	}
	if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Channels(); err == nil {
		t.Error("the database is still open after the actor stopped")
	}
}

// TestWriteErrorsAreCountedNotFatal: with the database gone every write fails, is counted by
// kind, and the actor still answers.
func TestWriteErrorsAreCountedNotFatal(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	m := metrics.New()
	sys, pid := spawn(t, st, m)
	sys.Root.Send(pid, &msg.ChatPosted{Message: msg.MessageEvent{ChannelID: "A", MessageID: "1", Content: "x"}})
	sys.Root.Send(pid, &msg.BurstBegan{ChannelID: "A", UserID: "alice", At: t0})
	sys.Root.Send(pid, &msg.BurstEnded{ChannelID: "A", Reason: "release", At: t0})
	if r := list(t, sys, pid, &msg.ListBursts{}); r.Err == nil || r.Err.Code != msg.CodeInternal {
		t.Fatalf("listing from a closed database: %+v", r)
	}
	for kind, want := range map[string]float64{"chat": 1, "burst": 1} {
		var d dto.Metric
		if err := m.HistoryErrors.WithLabelValues(kind).Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetCounter().GetValue(); got != want {
			t.Errorf("history errors{kind=%s} = %v, want %v", kind, got, want)
		}
	}
}
