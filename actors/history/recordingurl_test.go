package history

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/history/store"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media/clock"
)

// TestRecordingURLs: a signed URL verifies for its burst and user until its expiry, and not
// for another burst, another user, another server secret, or after it expired.
func TestRecordingURLs(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewURLSigner([]byte("secret"), time.Minute)
	u, exp := s.Sign(7, "alice", now)
	if !strings.HasPrefix(u, "/recordings/7.ogg?") || !exp.Equal(now.Add(time.Minute)) {
		t.Fatalf("Sign = %q, %v", u, exp)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	if user, err := s.Verify(7, q, now.Add(59*time.Second)); err != nil || user != "alice" {
		t.Fatalf("Verify of a fresh URL = %q, %v", user, err)
	}
	if _, err := s.Verify(7, q, now.Add(time.Minute)); !errors.Is(err, ErrURLExpired) {
		t.Errorf("Verify at the expiry = %v, want ErrURLExpired", err)
	}
	if _, err := s.Verify(8, q, now); !errors.Is(err, ErrURLForged) {
		t.Errorf("Verify for another burst = %v, want ErrURLForged", err)
	}
	other := url.Values{"user": {"bob"}, "exp": q["exp"], "sig": q["sig"]}
	if _, err := s.Verify(7, other, now); !errors.Is(err, ErrURLForged) {
		t.Errorf("Verify for another user = %v, want ErrURLForged", err)
	}
	later := url.Values{"user": q["user"], "exp": {"99999999999"}, "sig": q["sig"]}
	if _, err := s.Verify(7, later, now); !errors.Is(err, ErrURLForged) {
		t.Errorf("Verify with a moved expiry = %v, want ErrURLForged", err)
	}
	if _, err := NewURLSigner([]byte("other secret"), time.Minute).Verify(7, q, now); !errors.Is(err, ErrURLForged) {
		t.Errorf("Verify under another secret = %v, want ErrURLForged", err)
	}
	for _, bad := range []url.Values{{}, {"user": {"alice"}, "exp": {"x"}, "sig": q["sig"]}, {"exp": q["exp"], "sig": q["sig"]}} {
		if _, err := s.Verify(7, bad, now); !errors.Is(err, ErrURLForged) {
			t.Errorf("Verify(%v) = %v, want ErrURLForged", bad, err)
		}
	}
}

// TestChannelBurstsForAMember: HISTORY_LIST's answer holds only the asked channel's bursts,
// newest first and bounded by the limit; an ended recorded burst has a URL signed for the
// asking user, an open one (its file still being written) none yet.
func TestChannelBurstsForAMember(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	urls := NewURLSigner([]byte("secret"), 0)
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	pid := sys.Root.Spawn(Props(Config{Store: st, Dir: dir, URLs: urls, Clock: clock.NewFake(t0), Logger: slog.New(slog.DiscardHandler)}))
	sys.Root.Send(pid, &msg.BurstBegan{ChannelID: "A", UserID: "alice", At: t0})
	sys.Root.Send(pid, &msg.BurstEnded{ChannelID: "A", Reason: "release", At: t0.Add(time.Second)})
	sys.Root.Send(pid, &msg.BurstBegan{ChannelID: "B", UserID: "bob", At: t0.Add(time.Second), Record: true})
	sys.Root.Send(pid, &msg.BurstEnded{ChannelID: "B", Reason: "release", At: t0.Add(2 * time.Second)})
	sys.Root.Send(pid, &msg.BurstBegan{ChannelID: "A", UserID: "alice", At: t0.Add(3 * time.Second), Record: true})
	sys.Root.Send(pid, &msg.BurstEnded{ChannelID: "A", Reason: "preempted", At: t0.Add(4 * time.Second)})
	sys.Root.Send(pid, &msg.BurstBegan{ChannelID: "A", UserID: "carol", Priority: 255, At: t0.Add(4 * time.Second), Record: true})

	ask := func(limit int) []msg.ChannelBurst {
		t.Helper()
		res, err := sys.Root.RequestFuture(pid, &msg.ListChannelBursts{Call: msg.Call{Op: 17, UserID: "dave"}, ChannelID: "A", Limit: limit}, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		r := res.(*msg.Result)
		if r.Err != nil {
			t.Fatalf("HISTORY_LIST: %v", r.Err)
		}
		l := r.Data.(*msg.ChannelBurstList)
		if l.ChannelID != "A" {
			t.Fatalf("answer for channel %q", l.ChannelID)
		}
		return l.Bursts
	}
	bs := ask(0)
	if len(bs) != 3 || bs[0].UserID != "carol" || bs[1].EndReason != "preempted" || bs[2].HasRecording {
		t.Fatalf("channel A's bursts: %+v", bs)
	}
	if !bs[0].HasRecording || bs[0].RecordingURL != "" || !bs[0].Emergency {
		t.Errorf("open recorded burst %+v: want has_recording without a URL yet", bs[0])
	}
	u, err := url.Parse(bs[1].RecordingURL)
	if err != nil || u.Path != RecordingPath(bs[1].ID) {
		t.Fatalf("recording URL %q of %+v", bs[1].RecordingURL, bs[1])
	}
	if user, err := urls.Verify(bs[1].ID, u.Query(), t0); err != nil || user != "dave" {
		t.Errorf("the URL verifies as %q, %v; want signed for the asking user dave", user, err)
	}
	if !bs[1].RecordingExpires.Equal(t0.Add(DefaultURLLifetime)) {
		t.Errorf("expires %v, want %v", bs[1].RecordingExpires, t0.Add(DefaultURLLifetime))
	}
	if bs := ask(1); len(bs) != 1 || bs[0].UserID != "carol" {
		t.Errorf("limit 1: %+v", bs)
	}
}
