package server

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// impairment is what a link does to each datagram, in each direction, as netem would:
// drop with probability Loss; otherwise deliver after Delay ± Jitter (uniform), except a
// fraction Reorder sent at once, overtaking the delayed ones (netem's "reorder").
type impairment struct {
	Loss          float64
	Delay, Jitter time.Duration
	Reorder       float64
}

// impairRelay is one client's path to the server's UDP port: the client (a pion peer on the
// client namespace's loopback) sends to the relay, which forwards over the veth link from its
// own socket and brings the answers back. It impairs both directions, can cut the path (an
// outage) and can move to a new source port mid-call, as a NAT that rebinds does; datagrams
// still arriving at the old port are lost, as they would be at the NAT.
//
// The kernel of the machine the figures in docs/reliability.md come from has no netem qdisc;
// a relay behaves the same on every kernel, and its random source is seeded per test.
type impairRelay struct {
	t      testing.TB
	server *net.UDPAddr
	in     *net.UDPConn // client side, 127.0.0.1
	imp    impairment
	down   atomic.Bool
	wg     sync.WaitGroup

	mu     sync.Mutex
	rng    *rand.Rand
	out    *net.UDPConn // server side, the port the server sees
	client *net.UDPAddr // the pion peer's address, from its first datagram
	closed bool
	drop   func(up bool, b []byte) bool // extra drops (SetDrop), beyond the impairment
}

// SetDrop makes the relay drop every datagram f returns true for (up: client → server).
func (r *impairRelay) SetDrop(f func(up bool, b []byte) bool) {
	r.mu.Lock()
	r.drop = f
	r.mu.Unlock()
}

func newImpairRelay(t testing.TB, bindIP string, server netip.AddrPort, imp impairment, seed uint64) *impairRelay {
	t.Helper()
	in, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &impairRelay{t: t, server: net.UDPAddrFromAddrPort(server), in: in, imp: imp, rng: rand.New(rand.NewPCG(seed, 7))}
	r.rebind(bindIP)
	r.wg.Add(1)
	go r.up()
	t.Cleanup(r.close)
	return r
}

// Port is the relay's client-side port: the candidate the client must use.
func (r *impairRelay) Port() int { return r.in.LocalAddr().(*net.UDPAddr).Port }

// OutsideAddr is the address the server sees the client at.
func (r *impairRelay) OutsideAddr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.LocalAddr().String()
}

// SetDown cuts (true) or restores the path in both directions.
func (r *impairRelay) SetDown(down bool) { r.down.Store(down) }

// rebind moves the server side to a fresh socket (a new source port) and closes the old one.
func (r *impairRelay) rebind(bindIP string) {
	out, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(bindIP)})
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	old := r.out
	r.out = out
	r.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	r.wg.Add(1)
	go r.downlink(out)
}

// up forwards client → server.
func (r *impairRelay) up() {
	defer r.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := r.in.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.client = from
		out := r.out
		r.mu.Unlock()
		r.deliver(true, append([]byte(nil), buf[:n]...), func(b []byte) { _, _ = out.WriteToUDP(b, r.server) })
	}
}

// downlink forwards server → client for one server-side socket, until it is closed.
func (r *impairRelay) downlink(out *net.UDPConn) {
	defer r.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := out.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		client := r.client
		r.mu.Unlock()
		if client == nil {
			continue
		}
		r.deliver(false, append([]byte(nil), buf[:n]...), func(b []byte) { _, _ = r.in.WriteToUDP(b, client) })
	}
}

// deliver applies the impairment to one datagram.
func (r *impairRelay) deliver(up bool, b []byte, send func([]byte)) {
	if r.down.Load() {
		return
	}
	r.mu.Lock()
	lost := r.rng.Float64() < r.imp.Loss || (r.drop != nil && r.drop(up, b))
	now := r.rng.Float64() < r.imp.Reorder
	delay := r.imp.Delay
	if r.imp.Jitter > 0 {
		delay += time.Duration(r.rng.Int64N(int64(2*r.imp.Jitter))) - r.imp.Jitter
	}
	later := !lost && !r.closed && !now && delay > 0
	if later {
		r.wg.Add(1) // under mu, so never after close has started waiting
	}
	r.mu.Unlock()
	switch {
	case later:
		time.AfterFunc(delay, func() {
			defer r.wg.Done()
			if !r.down.Load() {
				send(b)
			}
		})
	case !lost:
		send(b)
	}
}

func (r *impairRelay) close() {
	r.mu.Lock()
	r.closed = true
	out := r.out
	r.mu.Unlock()
	_ = r.in.Close()
	_ = out.Close()
	r.wg.Wait()
}
