package history

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
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
