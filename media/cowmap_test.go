package media

import (
	"net/netip"
	"sync"
	"testing"
)

func TestTableCopyOnWrite(t *testing.T) {
	var tab CopyOnWriteMap[netip.AddrPort, int]
	a := netip.MustParseAddrPort("127.0.0.1:5000")
	b := netip.MustParseAddrPort("127.0.0.1:5001")
	if _, ok := tab.Get(a); ok || tab.Len() != 0 {
		t.Fatal("empty table has entries")
	}
	tab.Put(a, 1)
	before := tab.Snapshot()
	tab.Put(b, 2)
	if len(before) != 1 {
		t.Fatalf("an old snapshot changed after Put: %v", before)
	}
	if v, ok := tab.Get(b); !ok || v != 2 {
		t.Fatalf("Get(b) = %v, %v", v, ok)
	}
	tab.Delete(a)
	tab.Delete(a) // absent: no-op
	if _, ok := tab.Get(a); ok || tab.Len() != 1 {
		t.Fatalf("after Delete: len %d", tab.Len())
	}
}

// TestTableReadersDuringWrites runs lock-free readers against one writer under -race.
func TestTableReadersDuringWrites(t *testing.T) {
	var tab CopyOnWriteMap[string, int]
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					if v, ok := tab.Get("k"); ok && v < 0 {
						t.Error("negative value")
					}
				}
			}
		}()
	}
	for i := range 1000 {
		tab.Put("k", i)
	}
	close(stop)
	wg.Wait()
	if v, _ := tab.Get("k"); v != 999 {
		t.Fatalf("last value %d", v)
	}
}

func TestTableGetAllocatesNothing(t *testing.T) {
	var tab CopyOnWriteMap[netip.AddrPort, *int]
	a := netip.MustParseAddrPort("127.0.0.1:5000")
	tab.Put(a, new(int))
	if n := testing.AllocsPerRun(100, func() { tab.Get(a) }); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
}

// TestTableChangeCopiesOneShard: a change publishes a new copy of one shard only, so latching
// one more address with thousands in the table copies about len/64 entries, and every other
// shard a reader holds stays the very same map.
func TestTableChangeCopiesOneShard(t *testing.T) {
	var tab CopyOnWriteMap[netip.AddrPort, int]
	for i := range 6400 {
		tab.Put(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 5000), i)
	}
	s := tab.p.Load()
	before := make([]*map[netip.AddrPort]int, numShards)
	for i := range s.m {
		before[i] = s.m[i].Load()
	}
	k := netip.MustParseAddrPort("127.0.0.1:9")
	tab.Put(k, -1)
	changed := 0
	for i := range s.m {
		if s.m[i].Load() != before[i] {
			changed++
			if n := len(*s.m[i].Load()); n > 2*6400/numShards {
				t.Fatalf("the changed shard holds %d entries: shards are unbalanced", n)
			}
		}
	}
	if changed != 1 || tab.Len() != 6401 {
		t.Fatalf("%d shards changed (want 1), len %d", changed, tab.Len())
	}
	if v, ok := tab.Get(k); !ok || v != -1 {
		t.Fatalf("Get = %v %v", v, ok)
	}
	tab.Clear()
	if _, ok := tab.Get(k); ok || tab.Len() != 0 || len(tab.Snapshot()) != 0 {
		t.Fatal("Clear left entries")
	}
}
