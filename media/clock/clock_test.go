package clock

import (
	"slices"
	"sync"
	"testing"
	"time"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeFiresInOrder(t *testing.T) {
	c := NewFake(start)
	var fired []string
	var at []time.Duration
	rec := func(name string) func() {
		return func() { fired = append(fired, name); at = append(at, c.Now().Sub(start)) }
	}
	c.AfterFunc(3*time.Second, rec("c"))
	c.AfterFunc(1*time.Second, rec("a"))
	c.AfterFunc(1*time.Second, rec("b")) // same due time: scheduling order
	stopped := c.AfterFunc(2*time.Second, rec("stopped"))
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once, then false")
	}
	c.Advance(2 * time.Second)
	if !slices.Equal(fired, []string{"a", "b"}) {
		t.Fatalf("fired %q after 2s", fired)
	}
	c.Advance(time.Second)
	if !slices.Equal(fired, []string{"a", "b", "c"}) || !slices.Equal(at, []time.Duration{time.Second, time.Second, 3 * time.Second}) {
		t.Fatalf("fired %q at %v", fired, at)
	}
	if c.Pending() != 0 || c.Now() != start.Add(3*time.Second) {
		t.Fatalf("pending %d now %v", c.Pending(), c.Now())
	}
}

func TestFakeTimerArmedByTimerFiresWithinWindow(t *testing.T) {
	c := NewFake(start)
	n := 0
	var tick func()
	tick = func() {
		n++
		if n < 10 {
			c.AfterFunc(time.Second, tick)
		}
	}
	c.AfterFunc(time.Second, tick)
	c.Advance(5 * time.Second)
	if n != 5 {
		t.Fatalf("ticks %d after 5s, want 5", n)
	}
	fired := c.AfterFunc(0, func() {}).Stop()
	if !fired {
		t.Fatal("a zero-delay timer should still be stoppable before Advance")
	}
}

func TestFakeConcurrentUse(t *testing.T) {
	c := NewFake(start)
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				c.AfterFunc(time.Millisecond, func() { mu.Lock(); count++; mu.Unlock() })
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	c.Advance(time.Millisecond)
	if count != 400 {
		t.Fatalf("fired %d, want 400", count)
	}
}

func TestRealClock(t *testing.T) {
	c := Real()
	done := make(chan struct{})
	c.AfterFunc(0, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("real AfterFunc did not fire")
	}
	if c.AfterFunc(time.Hour, func() {}).Stop() != true {
		t.Fatal("stopping a pending real timer should report true")
	}
}
