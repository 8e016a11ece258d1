package peer

import (
	"net/netip"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/media"
)

// registry is the single owner of the two look-up snapshots the UDP reader uses
// (server ufrag → endpoint, remote address → endpoint). Peers register, latch addresses and
// unregister by message, so every change is serialised by the registry's mailbox and
// published copy-on-write, one shard per change; the reader never takes a lock or asks an actor.
type registry struct {
	byUfrag  *media.CopyOnWriteMap[string, *endpoint]
	byAddr   *media.CopyOnWriteMap[netip.AddrPort, *endpoint]
	counters *media.Counters
	addrs    map[*endpoint][]netip.AddrPort // addresses latched per endpoint, oldest first
}

// maxAddrs bounds the addresses one peer may hold in the address table: a client switching
// candidate pairs again and again cannot grow it without limit.
const maxAddrs = 8

type register struct{ ep *endpoint }

type latch struct {
	ep   *endpoint
	addr netip.AddrPort
}

type unregister struct{ ep *endpoint }

func (r *registry) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *register:
		r.byUfrag.Put(m.ep.ufrag, m.ep)
		r.addrs[m.ep] = nil
		r.counters.Peers.Inc()
	case *latch:
		list, ok := r.addrs[m.ep]
		if !ok {
			return // already unregistered: a late latch must not resurrect it
		}
		// One shard copy per change (media.CopyOnWriteMap), however many peers there are.
		if prev, ok := r.byAddr.Get(m.addr); ok && prev != m.ep {
			r.addrs[prev] = without(r.addrs[prev], m.addr) // the address moved to another peer
		}
		r.byAddr.Put(m.addr, m.ep)
		list = append(without(list, m.addr), m.addr)
		if len(list) > maxAddrs {
			if cur, _ := r.byAddr.Get(list[0]); cur == m.ep {
				r.byAddr.Delete(list[0])
			}
			list = list[1:]
		}
		r.addrs[m.ep] = list
	case *unregister:
		list, ok := r.addrs[m.ep]
		if !ok {
			return
		}
		delete(r.addrs, m.ep)
		r.byUfrag.Delete(m.ep.ufrag)
		for _, a := range list {
			if cur, _ := r.byAddr.Get(a); cur == m.ep {
				r.byAddr.Delete(a)
			}
		}
		r.counters.Peers.Dec()
	case *actor.Stopping:
		// The media plane is closing. Peers whose unregister is still queued (or that never
		// stopped) leave the gauge and the snapshots now: the mailbox handles this system
		// message before pending user messages, which then go to dead letters.
		r.counters.Peers.Sub(float64(len(r.addrs)))
		clear(r.addrs)
		r.byUfrag.Clear()
		r.byAddr.Clear()
	}
}

func without(list []netip.AddrPort, a netip.AddrPort) []netip.AddrPort {
	out := list[:0:0]
	for _, x := range list {
		if x != a {
			out = append(out, x)
		}
	}
	return out
}
