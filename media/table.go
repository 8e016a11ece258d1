package media

import "sync/atomic"

// Table is a look-up map read by the UDP hot path without locks. Every change copies the map
// and publishes the copy with one atomic store (copy-on-write), so a reader always sees a
// complete, immutable snapshot.
//
// Only one goroutine may change a Table (in the server: the peer registry actor); any number
// may read it. Changes are rare (a peer joins, leaves or latches an address) while reads
// happen for every datagram, which is the trade this structure makes.
type Table[K comparable, V any] struct {
	p atomic.Pointer[map[K]V]
}

// Get returns the value of k in the current snapshot.
func (t *Table[K, V]) Get(k K) (V, bool) {
	m := t.p.Load()
	if m == nil {
		var zero V
		return zero, false
	}
	v, ok := (*m)[k]
	return v, ok
}

// Len is the number of entries in the current snapshot.
func (t *Table[K, V]) Len() int {
	if m := t.p.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// Snapshot returns the current map. Callers must not modify it.
func (t *Table[K, V]) Snapshot() map[K]V {
	if m := t.p.Load(); m != nil {
		return *m
	}
	return nil
}

// Update copies the current map, lets change edit the copy and publishes it. Owner only.
func (t *Table[K, V]) Update(change func(m map[K]V)) {
	old := t.Snapshot()
	m := make(map[K]V, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	change(m)
	t.p.Store(&m)
}

// Put publishes a snapshot with k set to v. Owner only.
func (t *Table[K, V]) Put(k K, v V) { t.Update(func(m map[K]V) { m[k] = v }) }

// Delete publishes a snapshot without k. Owner only.
func (t *Table[K, V]) Delete(k K) {
	if _, ok := t.Get(k); ok {
		t.Update(func(m map[K]V) { delete(m, k) })
	}
}
