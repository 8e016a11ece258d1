package store

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/msg"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestReopenKeepsEverything: channels, bursts and chat written by one process are read back by
// the next, and a burst left open is marked interrupted.
func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ch := msg.StoredChannel{Spec: msg.ChannelSpec{ChannelID: "CH_9", Freq: "9", ChannelName: "nine", Capacity: 5}, Creator: "alice", CreatedAt: t0}
	if err := s.SaveChannel(ch); err != nil {
		t.Fatal(err)
	}
	ch.Spec.ChannelName = "renamed"
	if err := s.SaveChannel(ch); err != nil {
		t.Fatal(err)
	}
	done, err := s.BeginBurst(msg.BurstBegan{ChannelID: "CH_9", UserID: "alice", Priority: 100, At: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EndBurst(done, msg.BurstEnded{Reason: "release", At: t0.Add(1500 * time.Millisecond), Packets: 75}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginBurst(msg.BurstBegan{ChannelID: "CH_9", UserID: "bob", Priority: 255, At: t0.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	for i, c := range []string{"one", "two", "three"} {
		m := msg.MessageEvent{ChannelID: "CH_9", MessageID: string(rune('1' + i)), UserID: "alice", Content: c,
			Timestamp: formatTime(t0.Add(time.Duration(i) * time.Second))}
		if err := s.AddMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	// No Close: the process dies with the WAL not checkpointed.

	s2 := open(t, dir)
	chans, err := s2.Channels()
	if err != nil || len(chans) != 1 || chans[0].Spec.ChannelName != "renamed" || !chans[0].CreatedAt.Equal(t0) || chans[0].Creator != "alice" {
		t.Fatalf("channels after reopen: %+v, %v", chans, err)
	}
	bs, err := s2.Bursts(msg.ListBursts{ChannelID: "CH_9"})
	if err != nil || len(bs) != 2 {
		t.Fatalf("bursts: %+v, %v", bs, err)
	}
	if b := bs[0]; b.UserID != "bob" || b.EndReason != msg.BurstInterrupted || !b.Emergency || b.EndedAt != nil {
		t.Errorf("open burst after reopen: %+v", b)
	}
	if b := bs[1]; b.EndReason != "release" || b.Packets != 75 || b.DurationS == nil || *b.DurationS != 1.5 || b.Emergency {
		t.Errorf("ended burst: %+v", b)
	}
	recent, err := s2.RecentMessages(2)
	if err != nil || len(recent["CH_9"]) != 2 || recent["CH_9"][0].Content != "two" || recent["CH_9"][1].Content != "three" {
		t.Fatalf("recent messages: %+v, %v", recent, err)
	}
	if v, _ := s2.Version(); v != SchemaVersion() {
		t.Errorf("schema version %d, want %d", v, SchemaVersion())
	}

	if err := s2.ForgetChannel("CH_9"); err != nil {
		t.Fatal(err)
	}
	chans, _ = s2.Channels()
	recent, _ = s2.RecentMessages(10)
	bs, _ = s2.Bursts(msg.ListBursts{})
	if len(chans) != 0 || len(recent) != 0 || len(bs) != 2 {
		t.Errorf("after forgetting: %d channels, %d chats, %d bursts; want 0, 0, 2 (bursts are the audit log)", len(chans), len(recent), len(bs))
	}
}

func TestBurstFilters(t *testing.T) {
	s := open(t, t.TempDir())
	for i := range 5 {
		ch := "A"
		if i%2 == 1 {
			ch = "B"
		}
		if _, err := s.BeginBurst(msg.BurstBegan{ChannelID: ch, UserID: "u", Priority: 100, At: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q msg.ListBursts) int {
		bs, err := s.Bursts(q)
		if err != nil {
			t.Fatal(err)
		}
		return len(bs)
	}
	if n := count(msg.ListBursts{ChannelID: "A"}); n != 3 {
		t.Errorf("channel A: %d bursts, want 3", n)
	}
	if n := count(msg.ListBursts{Since: t0.Add(2 * time.Minute)}); n != 3 {
		t.Errorf("since +2m: %d, want 3", n)
	}
	if n := count(msg.ListBursts{Limit: 2}); n != 2 {
		t.Errorf("limit 2: %d", n)
	}
	bs, _ := s.Bursts(msg.ListBursts{})
	if !bs[0].GrantedAt.After(bs[1].GrantedAt) {
		t.Errorf("not newest first: %v then %v", bs[0].GrantedAt, bs[1].GrantedAt)
	}
}

// TestNewerSchemaRefused: a database written by a newer lcserver is not touched.
func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir).Close()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(dir); err == nil {
		s.Close()
		t.Fatal("opened a schema-99 database")
	}
}

func TestWALMode(t *testing.T) {
	s := open(t, t.TempDir())
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q, %v", mode, err)
	}
}

func TestPrune(t *testing.T) {
	s := open(t, t.TempDir())
	old, _ := s.BeginBurst(msg.BurstBegan{ChannelID: "A", UserID: "u", At: t0})
	_ = s.EndBurst(old, msg.BurstEnded{Reason: "release", At: t0.Add(time.Second)})
	_, _ = s.BeginBurst(msg.BurstBegan{ChannelID: "A", UserID: "u", At: t0.Add(48 * time.Hour)})
	_ = s.AddMessage(msg.MessageEvent{ChannelID: "A", MessageID: "1", UserID: "u", Content: "x", Timestamp: formatTime(t0)})
	n, _, err := s.Prune(t0.Add(24 * time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
}
