package media

import (
	"hash/maphash"
	"sync/atomic"
)

// CopyOnWriteMap is a look-up map read by the UDP hot path without locks. It is split into shards by a
// hash of the key; every change copies one shard and publishes the copy with one atomic store
// (copy-on-write), so a reader always sees complete, immutable shards, and a change costs
// about len/numShards copies, not the whole table: latching a new source address stays
// cheap with thousands of peers.
//
// Only one goroutine may change a CopyOnWriteMap (in the server: the peer registry actor); any number
// may read it. The zero CopyOnWriteMap is empty and ready to use.
type CopyOnWriteMap[K comparable, V any] struct {
	p atomic.Pointer[tableShards[K, V]] // allocated by the first change
}

const numShards = 64

type tableShards[K comparable, V any] struct {
	seed maphash.Seed
	m    [numShards]atomic.Pointer[map[K]V]
	n    atomic.Int64 // entries in all shards
}

func (s *tableShards[K, V]) shard(k K) *atomic.Pointer[map[K]V] {
	return &s.m[maphash.Comparable(s.seed, k)%numShards]
}

// Get returns the value of k.
func (t *CopyOnWriteMap[K, V]) Get(k K) (V, bool) {
	var zero V
	s := t.p.Load()
	if s == nil {
		return zero, false
	}
	m := s.shard(k).Load()
	if m == nil {
		return zero, false
	}
	v, ok := (*m)[k]
	return v, ok
}

// Len is the number of entries.
func (t *CopyOnWriteMap[K, V]) Len() int {
	if s := t.p.Load(); s != nil {
		return int(s.n.Load())
	}
	return 0
}

// Snapshot returns a copy of the whole table (for status pages, not the hot path).
func (t *CopyOnWriteMap[K, V]) Snapshot() map[K]V {
	out := map[K]V{}
	if s := t.p.Load(); s != nil {
		for i := range s.m {
			if m := s.m[i].Load(); m != nil {
				for k, v := range *m {
					out[k] = v
				}
			}
		}
	}
	return out
}

func (t *CopyOnWriteMap[K, V]) shards() *tableShards[K, V] {
	s := t.p.Load()
	if s == nil {
		s = &tableShards[K, V]{seed: maphash.MakeSeed()}
		t.p.Store(s)
	}
	return s
}

// edit copies k's shard, lets change edit the copy and publishes it. Owner only.
func (t *CopyOnWriteMap[K, V]) edit(k K, change func(m map[K]V)) {
	s := t.shards()
	sh := s.shard(k)
	var old map[K]V
	if p := sh.Load(); p != nil {
		old = *p
	}
	m := make(map[K]V, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	change(m)
	s.n.Add(int64(len(m) - len(old)))
	sh.Store(&m)
}

// Put publishes k set to v. Owner only.
func (t *CopyOnWriteMap[K, V]) Put(k K, v V) { t.edit(k, func(m map[K]V) { m[k] = v }) }

// Delete publishes the table without k. Owner only.
func (t *CopyOnWriteMap[K, V]) Delete(k K) {
	if _, ok := t.Get(k); ok {
		t.edit(k, func(m map[K]V) { delete(m, k) })
	}
}

// Clear publishes an empty table. Owner only.
func (t *CopyOnWriteMap[K, V]) Clear() {
	if s := t.p.Load(); s != nil {
		for i := range s.m {
			s.m[i].Store(nil)
		}
		s.n.Store(0)
	}
}
