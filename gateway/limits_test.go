package gateway

import (
	"testing"
	"time"
)

func TestTokenBucketRefillsAtRate(t *testing.T) {
	t0 := time.Unix(0, 0)
	b := newTokenBucket(10, 3, t0)
	for i := 0; i < 3; i++ {
		if !b.allow(t0) {
			t.Fatalf("frame %d of the burst refused", i)
		}
	}
	if b.allow(t0) {
		t.Fatal("frame beyond the burst allowed")
	}
	if !b.allow(t0.Add(100 * time.Millisecond)) {
		t.Fatal("no token after 1/rate")
	}
	if b.allow(t0.Add(100 * time.Millisecond)) {
		t.Fatal("two tokens after 1/rate")
	}
}

func TestBadFramesCloseOnlyAboveLimitWithinWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	b := newBadFrames(20, 10*time.Second)
	for i := 0; i < 20; i++ {
		if b.add(t0.Add(time.Duration(i) * time.Millisecond)) {
			t.Fatalf("limit hit at bad frame %d", i+1)
		}
	}
	if !b.add(t0.Add(time.Second)) {
		t.Fatal("21st bad frame within 10 s did not hit the limit")
	}

	slow := newBadFrames(20, 10*time.Second)
	for i := 0; i < 100; i++ { // one bad frame a second: never 21 within 10 s
		if slow.add(t0.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("slow bad frames hit the limit at %d", i+1)
		}
	}
}
