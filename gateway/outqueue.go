package gateway

import "sync"

// outQueue is a connection's bounded outbound queue: frames and events for the writer, in
// order, at most max of them. Its ring is allocated on the first push and grows by doubling
// up to max, so an idle connection holds a few slots instead of max of them; the bound and
// what a full queue means are those of docs/protocol.md ("Close codes", slow clients).
type outQueue struct {
	mu   sync.Mutex
	buf  []any // ring of len(buf) slots, grown when full
	head int   // index of the oldest item
	n    int   // items queued
	max  int
}

// outQueueFirstSlots is the ring's size at its first push: room for a reply and a few events.
const outQueueFirstSlots = 8

func newOutQueue(max int) *outQueue {
	return &outQueue{max: max}
}

// push queues v; false means the queue holds max items already (v is not queued).
func (q *outQueue) push(v any) bool {
	q.mu.Lock()
	if q.n == q.max {
		q.mu.Unlock()
		return false
	}
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
	q.mu.Unlock()
	return true
}

// grow doubles the ring (up to max), oldest item first. Called with mu held and the ring full.
func (q *outQueue) grow() {
	size := min(max(2*len(q.buf), outQueueFirstSlots), q.max)
	buf := make([]any, size)
	n := copy(buf, q.buf[q.head:])
	copy(buf[n:], q.buf[:q.head])
	q.buf, q.head = buf, 0
}

// pop takes the oldest item; ok is false when the queue is empty.
func (q *outQueue) pop() (v any, ok bool) {
	q.mu.Lock()
	if q.n == 0 {
		q.mu.Unlock()
		return nil, false
	}
	v, q.buf[q.head] = q.buf[q.head], nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.mu.Unlock()
	return v, true
}

// len is the number of items queued now.
func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
