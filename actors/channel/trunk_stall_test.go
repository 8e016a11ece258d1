package channel

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

// TestStalledNATSDoesNotStopLocalRelay: a node's connection to NATS stops carrying anything
// (a loopback proxy between it and the server stops forwarding, so nats.go's writes wait for
// a full socket). The node's talker goes on reaching the listener on the same node, packet
// after packet, and the packets for other nodes that no longer fit the outbox are counted
// as trunk_queue_full.
func TestStalledNATSDoesNotStopLocalRelay(t *testing.T) {
	ns := startNATS(t)
	o := startClusterNode(t, ns, "o", "CH")
	o.node.Want("CH")
	actortest.Eventually(t, wait, "o owns CH", func() bool { return o.node.Status().Owners["CH"] == "o" })
	px := startStallProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	a := startClusterNodeAt(t, "nats://"+px.addr(), "", "a", "CH")
	t.Cleanup(px.close) // runs before a's cleanups: closing the proxy ends the stalled writes
	talker := a.member(t, "talker")
	a.member(t, "listener")
	actortest.Eventually(t, wait, "o knows a's members", func() bool { return len(o.detail(t).Members) == 2 })
	a.sys.Root.Send(a.ch, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "talker", Session: talker.PID()}, ChannelID: "CH"})
	await[*msg.FloorGranted](t, talker, "talker granted by the owner node", nil)
	actortest.Eventually(t, wait, "a's mirror says the talker holds", func() bool {
		f := a.detail(t).Floor
		return f.Holder != nil && *f.Holder == "talker"
	})

	px.stall()
	log := a.fm.streams["listener"].log
	full := a.m.PacketsDropped.WithLabelValues(media.DropTrunkQueueFull.String())
	pool := media.NewRelayPacketPool()
	relay := func(i int) {
		p := pool.Get()
		p.From, p.N = "talker", len(p.Buf) // full-size packets fill the socket buffers sooner
		t0 := time.Now()
		a.sys.Root.Send(a.ch, p) // an idle channel runs on this goroutine: a wait for NATS shows here
		select {
		case <-log:
		case <-time.After(wait):
			t.Fatalf("packet %d after the stall did not reach the local listener", i)
		}
		if d := time.Since(t0); d > wait {
			t.Fatalf("packet %d after the stall took %v to reach the local listener: the channel waited for NATS", i, d)
		}
	}
	// The kernel's socket buffers and nats.go's take some hundred packets before a write
	// waits; then the outbox fills.
	const most = 50_000
	i := 0
	for ; testutil.ToFloat64(full) == 0; i++ {
		if i == most {
			t.Fatalf("%d packets sent while NATS stalled, none dropped as trunk_queue_full", most)
		}
		relay(i)
	}
	t.Logf("%d packets after the stall before the first trunk_queue_full", i)
	for j := range 100 {
		relay(i + j)
	}
	if n := testutil.ToFloat64(full); n < 100 {
		t.Fatalf("%v packets counted as trunk_queue_full, want every one sent after the outbox filled", n)
	}
}

// stallProxy forwards TCP connections to a server until stall; then it reads nothing more
// from the clients, whose writes wait once the socket buffers are full.
type stallProxy struct {
	t      testing.TB
	ln     net.Listener
	to     string
	once   sync.Once
	paused chan struct{} // closed by stall
	closed chan struct{} // closed by close
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startStallProxy(t testing.TB, to string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{t: t, ln: ln, to: to, paused: make(chan struct{}), closed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }
func (p *stallProxy) stall()       { close(p.paused) }

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.to)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, u) }() // the server's side stays open
		go p.forward(u, c)
	}
}

// forward copies the client's bytes to the server until the stall, then holds what it read.
func (p *stallProxy) forward(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-p.paused:
			<-p.closed
			return
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// close drops every connection (the stalled client's writes fail) and waits for the copies.
func (p *stallProxy) close() {
	p.once.Do(func() {
		close(p.closed)
		_ = p.ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}
