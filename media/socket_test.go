package media

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/media/mediatest"
)

func listenLoopback(t *testing.T, cfg SocketConfig) (*Socket, *Counters) {
	t.Helper()
	c := NewCounters(nil)
	s, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestSocketRoundTrip(t *testing.T) {
	leaks := mediatest.Snapshot()
	s, c := listenLoopback(t, SocketConfig{SendBatch: 64})
	got := make(chan *Worker, 200)
	s.Run(func(d *InboundDatagram) bool {
		if string(d.Bytes()) == "ping" && d.From.Addr().String() == "127.0.0.1" {
			got <- d.Via
		} else {
			got <- nil
		}
		return false
	})
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	// Inbound: the handler sees each datagram with its source and the worker that read it.
	if _, err := peer.WriteToUDPAddrPort([]byte("ping"), s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	w := <-got
	if w == nil {
		t.Fatal("the handler got the wrong datagram or no worker")
	}
	// Outbound: a fan-out of 100 datagrams goes out in ceil(100/64) = 2 sendmmsg calls, in order.
	var f Fanout
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := range 100 {
		f.Commit(append(f.Next(), byte(i)), to)
	}
	w.Send(&f)
	if f.Len() != 0 {
		t.Fatal("Send must empty the fan-out")
	}
	buf := make([]byte, 100)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 100 {
		n, _, err := peer.ReadFromUDP(buf)
		if err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("packet %d: %v %d %v", i, buf[:n], n, err)
		}
	}
	if out, calls := CounterValue(c.PacketsOut), CounterValue(c.SendCalls); out != 100 || calls != 2 {
		t.Fatalf("packets out %v in %v calls, want 100 in 2", out, calls)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	leaks.WaitGone(t)
}

// TestSocketWorkersShareThePort: with SO_REUSEPORT every worker binds the one port; the
// kernel spreads client addresses over them and keeps each address on one worker.
func TestSocketWorkersShareThePort(t *testing.T) {
	s, _ := listenLoopback(t, SocketConfig{Workers: 2})
	defer s.Close()
	if s.Workers() != 2 {
		t.Fatalf("%d workers", s.Workers())
	}
	type seen struct {
		from netip.AddrPort
		w    *Worker
	}
	got := make(chan seen, 1000)
	s.Run(func(d *InboundDatagram) bool { got <- seen{d.From, d.Via}; return false })
	workerOf := map[netip.AddrPort]*Worker{}
	workers := map[*Worker]bool{}
	for range 16 {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(s.LocalAddr()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for range 5 {
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 80 {
		g := <-got
		if w, ok := workerOf[g.from]; ok && w != g.w {
			t.Fatalf("%v moved between workers", g.from)
		}
		workerOf[g.from], workers[g.w] = g.w, true
	}
	if len(workers) != 2 {
		t.Fatalf("16 client addresses all landed on %d worker(s)", len(workers)) // 2^-15 by chance
	}
}

// TestSocketReadErrorsBackOff: a read error that does not go away makes the reader pause,
// doubling up to a second, instead of spinning; the errors are counted.
func TestSocketReadErrorsBackOff(t *testing.T) {
	var pauses []time.Duration
	done := make(chan struct{})
	s, c := listenLoopback(t, SocketConfig{sleep: func(d time.Duration) bool {
		pauses = append(pauses, d)
		if len(pauses) == 14 {
			close(done)
			return false // the reader ends as on Close
		}
		return true
	}})
	defer s.Close()
	w := s.workers[0]
	w.rx.readFn = func(uintptr) bool { w.rx.n, w.rx.errno = 0, 12; /* ENOMEM */ return true }
	s.Run(func(*InboundDatagram) bool { t.Error("no datagram expected"); return false })
	<-done
	s.Close()
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000, 1000, 1000}
	for i, p := range pauses {
		if p != want[i]*time.Millisecond {
			t.Fatalf("pauses %v, want %v ms", pauses, want)
		}
	}
	if e := CounterValue(c.ReadErrors); e != 14 {
		t.Fatalf("read errors counted %v, want 14", e)
	}
}

// TestSocketKernelDropsCounted: datagrams the kernel drops because the receive queue is full
// show up as kernel_rx_overflow (SO_RXQ_OVFL), not as silence.
func TestSocketKernelDropsCounted(t *testing.T) {
	s, c := listenLoopback(t, SocketConfig{})
	defer s.Close()
	_ = s.workers[0].conn.SetReadBuffer(2048) // the kernel's minimum: a few datagrams
	cl, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(s.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	payload := make([]byte, 1000)
	for range 200 { // nobody reads yet: most of these overflow the queue
		if _, err := cl.Write(payload); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Fatal(err)
		}
	}
	got := make(chan struct{}, 300)
	s.Run(func(*InboundDatagram) bool { got <- struct{}{}; return false })
	<-got // the queued ones arrive; the next datagram carries the drop count
	if _, err := cl.Write(payload); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for CounterValue(c.Dropped(DropKernelOverflow)) == 0 {
		select {
		case <-got:
		case <-deadline:
			t.Fatal("kernel drops were not counted")
		}
	}
}

func TestSocketSendAfterCloseDoesNotBlock(t *testing.T) {
	s, c := listenLoopback(t, SocketConfig{})
	s.Run(func(*InboundDatagram) bool { return false })
	w := s.workers[0]
	s.Close()
	to := netip.MustParseAddrPort("127.0.0.1:9")
	s.SendTo([]byte{1}, to) // must not block or panic
	var f Fanout
	f.Commit(append(f.Next(), 1), to)
	w.Send(&f)
	if d := CounterValue(c.Dropped(DropWriteError)); d != 2 {
		t.Fatalf("write errors %v, want 2", d)
	}
}
