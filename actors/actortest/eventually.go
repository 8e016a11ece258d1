package actortest

import (
	"testing"
	"time"
)

// Eventually polls cond every few milliseconds until it holds and returns how long that took;
// t fails when within passes first. It is for states with no event to wait on — a snapshot
// another goroutine publishes, a count another process reports — and is bounded by within,
// never a stand-in for synchronising on an event.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	return time.Since(start)
}
