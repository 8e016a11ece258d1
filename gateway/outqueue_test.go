package gateway

import "testing"

// TestOutQueueKeepsOrderUpToItsBound: the queue grows as it fills, keeps FIFO order across
// growth and wrap-around and refuses the item beyond its bound (the 4006 case).
func TestOutQueueKeepsOrderUpToItsBound(t *testing.T) {
	q := newOutQueue(20)
	next, want := 0, 0
	pop := func() {
		t.Helper()
		v, ok := q.pop()
		if !ok || v != want {
			t.Fatalf("pop = %v, %v; want %d", v, ok, want)
		}
		want++
	}
	// Wrap the ring before it grows: push 5, take 3, then fill to the bound.
	for ; next < 5; next++ {
		q.push(next)
	}
	pop()
	pop()
	pop()
	for ; q.len() < 20; next++ {
		if !q.push(next) {
			t.Fatalf("push %d refused with %d queued", next, q.len())
		}
	}
	if q.push(next) {
		t.Fatal("push beyond the bound accepted")
	}
	if len(q.buf) != 20 {
		t.Fatalf("ring of %d slots, want the bound (20)", len(q.buf))
	}
	for q.len() > 0 {
		pop()
	}
	if v, ok := q.pop(); ok {
		t.Fatalf("pop on empty = %v", v)
	}
}

func TestOutQueueStartsEmpty(t *testing.T) {
	q := newOutQueue(DefaultOutboundQueue)
	if q.buf != nil {
		t.Fatalf("ring allocated before the first push: %d slots", len(q.buf))
	}
	q.push(1)
	if len(q.buf) != outQueueFirstSlots {
		t.Fatalf("first ring of %d slots, want %d", len(q.buf), outQueueFirstSlots)
	}
}
