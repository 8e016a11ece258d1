package media

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
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
	base := runtime.NumGoroutine()
	s, c := listenLoopback(t, SocketConfig{})
	got := make(chan string, 200)
	s.Run(func(d *Datagram) bool {
		got <- string(d.Bytes()) + "@" + d.From.Addr().String()
		return false
	})
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	// Inbound: the handler sees each datagram with its source.
	if _, err := peer.WriteToUDPAddrPort([]byte("ping"), s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "ping@127.0.0.1" {
		t.Fatalf("got %q", g)
	}
	// Outbound: 100 packets through the batching writer all arrive, in order.
	pool := NewOutPool()
	to := peer.LocalAddr().(*net.UDPAddr)
	for i := range 100 {
		s.SendTo([]byte{byte(i)}, to, pool)
	}
	buf := make([]byte, 100)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 100 {
		n, _, err := peer.ReadFromUDP(buf)
		if err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("packet %d: %v %d %v", i, buf[:n], n, err)
		}
	}
	// The writer counts a batch after sendmmsg returns, so the peer may read a packet before
	// it is counted; Close waits for the writer, after which every write is.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out := CounterValue(c.PacketsOut); out != 100 {
		t.Fatalf("packets out %v", out)
	}
	waitGoroutines(t, base)
}

func TestSocketFullQueueDropsOldest(t *testing.T) {
	s, c := listenLoopback(t, SocketConfig{QueueLen: 2})
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pool := NewOutPool()
	to := peer.LocalAddr().(*net.UDPAddr)
	// The writer is not running yet, so the queue fills: the third Send drops packet 1.
	for i := 1; i <= 3; i++ {
		s.SendTo([]byte{byte(i)}, to, pool)
	}
	if d := CounterValue(c.Dropped(DropWriteQueueFull)); d != 1 {
		t.Fatalf("dropped %v, want 1", d)
	}
	s.Run(func(*Datagram) bool { return false })
	defer s.Close()
	buf := make([]byte, 10)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []byte{2, 3} {
		if n, _, err := peer.ReadFromUDP(buf); err != nil || n != 1 || buf[0] != want {
			t.Fatalf("got %v %v, want %d", buf[:n], err, want)
		}
	}
}

func TestSocketSendAfterCloseReleases(t *testing.T) {
	s, _ := listenLoopback(t, SocketConfig{})
	s.Run(func(*Datagram) bool { return false })
	s.Close()
	s.SendTo([]byte{1}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, NewOutPool()) // must not block or panic
}
