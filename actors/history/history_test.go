package history

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/actors/history/store"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
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

// rtpPacket is a relayed packet as a channel hands it over: a valid RTP packet with a 20 ms
// Opus frame.
type rtpPacket struct{ b []byte }

func (p rtpPacket) Bytes() []byte { return p.b }
func (rtpPacket) Release()        {}

func opusRTP(seq uint16) rtpPacket {
	b := make([]byte, 12+40)
	b[0], b[1] = 0x80, 111
	b[2], b[3] = byte(seq>>8), byte(seq)
	b[12] = 0x78 // TOC: CELT FB 20 ms, one frame
	return rtpPacket{b}
}

func recordBurst(sys *actor.ActorSystem, pid *actor.PID, at time.Time) {
	sys.Root.Send(pid, &msg.BurstBegan{ChannelID: "A", UserID: "alice", Priority: 100, At: at, Record: true})
	for i := range 20 {
		sys.Root.Send(pid, &msg.RecordedPacket{ChannelID: "A", Packet: opusRTP(uint16(i))})
	}
	sys.Root.Send(pid, &msg.BurstEnded{ChannelID: "A", Reason: "release", At: at.Add(400 * time.Millisecond), Packets: 20})
}

// TestRecordingSizeCap: past MaxRecordingBytes the oldest recordings go, file and link.
func TestRecordingSizeCap(t *testing.T) {
	measure := t.TempDir()
	st, err := store.Open(measure)
	if err != nil {
		t.Fatal(err)
	}
	sys, pid := spawnWith(t, Config{Store: st, Dir: measure})
	recordBurst(sys, pid, t0)
	list(t, sys, pid, &msg.ListBursts{})
	fi, err := os.Stat(filepath.Join(measure, RecordingsDir, "1.ogg"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	st2, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	sys2, pid2 := spawnWith(t, Config{Store: st2, Dir: dir, MaxRecordingBytes: fi.Size() * 3 / 2})
	for i := range 3 {
		recordBurst(sys2, pid2, t0.Add(time.Duration(i)*time.Second))
	}
	bs := list(t, sys2, pid2, &msg.ListBursts{}).Data.(*msg.BurstList).Bursts
	if len(bs) != 3 || bs[0].Recording == "" || bs[1].Recording != "" || bs[2].Recording != "" {
		t.Fatalf("bursts after the cap: %+v, want only the newest recorded", bs)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, RecordingsDir))
	if len(entries) != 1 || entries[0].Name() != "3.ogg" {
		t.Fatalf("recordings left: %v, want 3.ogg", entries)
	}
}

func spawnWith(t *testing.T, cfg Config) (*actor.ActorSystem, *actor.PID) {
	t.Helper()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	cfg.Clock, cfg.Metrics, cfg.Logger = clock.NewFake(t0), metrics.New(), slog.New(slog.DiscardHandler)
	return sys, sys.Root.Spawn(Props(cfg))
}
