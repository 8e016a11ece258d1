// Package mediatest holds the test helpers that the media plane's tests share (package media
// and actors/peer). It does not import testing, so linking it by mistake into a binary adds
// nothing of the test framework.
package mediatest

import (
	"time"

	"go.uber.org/goleak"
)

// T is the part of testing.TB the helpers use.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Goroutines is the set of goroutines that ran when it was taken: a test takes it before it
// starts anything and calls WaitGone once it has stopped everything it started.
type Goroutines struct{ before goleak.Option }

// Snapshot records the goroutines running now.
func Snapshot() Goroutines { return Goroutines{before: goleak.IgnoreCurrent()} }

// WaitGone waits until every goroutine started since the snapshot has ended and fails the test
// with their stacks if any still runs after 30 s. Generous: under -race on two shared cores
// pion's DTLS and ICE goroutines can take seconds to notice a close; only a leak waits the
// whole time. Each goleak.Find polls (backing off up to 100 ms) for about half a second.
func (g Goroutines) WaitGone(t T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := goleak.Find(g.before)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines still running after the test stopped everything: %v", err)
		}
	}
}
