package peer

import (
	"encoding/binary"
	"net"
	"net/netip"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/media"
)

// relayRig is a talker and n listeners behind the fake channel, with SRTP contexts and
// nominated addresses handed to the peer actors as their DTLS goroutine and STUN checks would,
// so that a test can push talker datagrams through the real path: the UDP reader's handler
// (route) → the talker's peer actor (decrypt) → the channel (gate, N × seal) → one sendmmsg
// batch to a sink socket.
type relayRig struct {
	h      *harness
	sink   *net.UDPConn
	talker netip.AddrPort // the talker's source address
	client *srtp.Context  // the talker's client side
	hdr    rtp.Header
	seq    uint16
	plain  []byte
	enc    []byte
}

func newRelayRig(t testing.TB, n int) *relayRig {
	h := newHarness(t, Config{})
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = sink.SetReadBuffer(8 << 20)
	t.Cleanup(func() { sink.Close() })
	ctx := func() *srtp.Context {
		c, err := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm,
			srtp.SRTPReplayProtection(media.ReplayWindow))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r := &relayRig{h: h, sink: sink, client: ctx(), plain: make([]byte, 12+160), enc: make([]byte, 0, 1500)}
	sinkAddr := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := -1; i < n; i++ {
		user := "T"
		if i >= 0 {
			user = "L" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		}
		p, perr := h.open(t, user, readOffer(t))
		if perr != nil {
			t.Fatal(perr)
		}
		// Listeners' "addresses" are ports that nobody listens on, except that the sink
		// receives them all: every stream sends to the sink's address.
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(20000+i+1))
		to := from
		if i >= 0 {
			to = sinkAddr
		} else {
			r.talker = from
		}
		h.system.Root.Send(p.PID, &stunChecked{from: to, useCandidate: true})
		if i < 0 {
			h.system.Root.Send(p.PID, &stunChecked{from: from, useCandidate: true})
		}
		h.system.Root.Send(p.PID, &handshakeDone{session: &media.SRTPSession{Local: ctx(), Remote: ctx()}})
	}
	actortest.Eventually(t, 10*time.Second, "talker address latched", func() bool { _, ok := h.media.byAddr.Get(r.talker); return ok })
	h.ask(t, &setHolder{user: "T"})
	r.plain[0], r.plain[1] = 0x80, 111
	binary.BigEndian.PutUint32(r.plain[8:], 4242)
	return r
}

// datagram is the talker's next SRTP packet as the UDP reader hands it on.
func (r *relayRig) datagram(t testing.TB) *media.InboundDatagram {
	r.seq++
	binary.BigEndian.PutUint16(r.plain[2:], r.seq)
	binary.BigEndian.PutUint32(r.plain[4:], uint32(r.seq)*960)
	enc, err := r.client.EncryptRTP(r.enc[:0], r.plain, &r.hdr)
	if err != nil {
		t.Fatal(err)
	}
	d := r.h.media.sock.Worker(0).NewDatagram()
	d.N, d.From, d.Via = copy(d.Buf[:], enc), r.talker, r.h.media.sock.Worker(0)
	return d
}

// relay pushes one talker datagram through the path, as the reader does.
func (r *relayRig) relay(d *media.InboundDatagram) {
	if !r.h.media.route(d) {
		d.Release()
	}
}

// TestRelayThroughActorsAllocatesNothing: one talker packet through the actors — route,
// the talker's peer, the channel's gate, 20 listener streams and one sendmmsg — allocates
// nothing once warm, starts no goroutine, and goes out in one system call.
func TestRelayThroughActorsAllocatesNothing(t *testing.T) {
	r := newRelayRig(t, 20)
	c := r.h.media.counters
	for range 50 {
		r.relay(r.datagram(t)) // warm the pools and the fan-out
	}
	out0, calls0 := media.CounterValue(c.PacketsOut), media.CounterValue(c.SendCalls)
	if out0 != 50*20 || calls0 != 50 {
		t.Fatalf("warm-up: %v packets out in %v sendmmsg calls, want 1000 in 50", out0, calls0)
	}
	ds := make([]*media.InboundDatagram, 600)
	for i := range ds {
		ds[i] = r.datagram(t) // the client's encryption is not the server's cost
	}
	i := 0
	created := goroutinesCreated()
	allocs := testing.AllocsPerRun(500, func() { r.relay(ds[i]); i++ })
	if n := goroutinesCreated() - created; n > 2 { // slack for the runtime's own (GC workers, timers)
		t.Errorf("relaying 501 packets created %d goroutines", n)
	}
	if allocs != 0 && !raceEnabled {
		t.Errorf("relaying one packet through the actors allocates %v times", allocs)
	}
	out, calls := media.CounterValue(c.PacketsOut)-out0, media.CounterValue(c.SendCalls)-calls0
	if out != 501*20 || calls != 501 {
		t.Fatalf("%v packets out in %v sendmmsg calls, want %d in 501", out, calls, 501*20)
	}
}

func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkRelayThroughActors is one talker packet relayed to N listeners through the actors
// (docs/performance.md): route → talker peer (SRTP decrypt) → channel gate → N × (rewrite,
// SRTP encrypt) → sendmmsg to a loopback socket.
func BenchmarkRelayThroughActors(b *testing.B) {
	for _, n := range []int{1, 20, 100} {
		b.Run(itoa(n), func(b *testing.B) {
			r := newRelayRig(b, n)
			ds := make([]*media.InboundDatagram, 0, 1024)
			refill := func() {
				b.StopTimer()
				ds = ds[:0]
				for range cap(ds) {
					ds = append(ds, r.datagram(b))
				}
				b.StartTimer()
			}
			refill()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%cap(ds) == 0 && i > 0 {
					refill()
				}
				r.relay(ds[i%cap(ds)])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/out-packet")
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
