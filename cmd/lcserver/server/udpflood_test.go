package server

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/media"
)

// UDP floods (docs/reliability.md, "UDP floods"): while A talks to B through the server on
// loopback, a flood of one kind hits the media port. Every flooded datagram is answered by
// nothing, dropped before any per-peer state exists and counted under its reason in /metrics;
// B loses less than 1 % of A's burst. Each flood is bounded: floodRate datagrams a second
// for the length of the burst.

const (
	floodRate  = 5000 // datagrams per second
	floodBurst = 200  // A's packets per flood (4 s at 20 ms)
)

// flood is one kind of hostile input: make builds datagram i, sources is how many source
// ports it comes from, reasons are the drop reasons it must be counted under.
type flood struct {
	name    string
	sources int
	make    func(i int) []byte
	reasons []string // empty: any reason (random bytes)
}

func TestUDPFloods(t *testing.T) {
	s, mp, _ := startMediaServer(t, nil)
	aws, apc, _ := joinWithPion(t, s, "A")
	bws, bpc, bssrc := joinWithPion(t, s, "B")
	apc.WaitConnected(t, 20*time.Second)
	bpc.WaitConnected(t, 20*time.Second)
	actortest.Eventually(t, 15*time.Second, "SRTP ready", func() bool {
		ps := mp.Peers()
		return len(ps) == 2 && ps[0].SRTPReady && ps[1].SRTPReady
	})
	aws.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	aws.Await(opFloorGranted)
	bws.Await(opFloorTaken)
	udp := net.UDPAddrFromAddrPort(mp.Host())
	peers := len(mp.Peers())

	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	floods := []flood{
		{name: "STUN binding requests with unknown ufrags", sources: 4, reasons: []string{"stun_unknown_user"},
			make: func(i int) []byte {
				m, err := stun.Build(stun.TransactionID, stun.BindingRequest,
					stun.NewUsername(fmt.Sprintf("scan%012d:x", i)), stun.NewShortTermIntegrity("guess"), stun.Fingerprint)
				if err != nil {
					t.Error(err)
				}
				return m.Raw
			}},
		{name: "random UDP", sources: 16, make: func(i int) []byte {
			b := random(1 + i%1200)
			return b
		}},
		{name: "SRTP from unlatched addresses", sources: 64, reasons: []string{"unknown_address"},
			make: func(i int) []byte {
				b := random(12 + 160 + 16)
				b[0], b[1] = 0x80, 111
				binary.BigEndian.PutUint16(b[2:], uint16(i))
				return b
			}},
		{name: "DTLS ClientHellos from many source ports", sources: 256, reasons: []string{"unknown_address"},
			make: func(i int) []byte { return clientHello(uint16(i)) }},
	}
	for _, fl := range floods {
		t.Run(fl.name, func(t *testing.T) {
			before := dropCounts(t, s)
			handshakes := s.srv.Metrics().DTLSHandshakes
			hsBefore := handshakeCount(handshakes)
			heardBefore := len(bpc.Received())
			done := make(chan int)
			go func() { done <- sendFlood(t, udp, fl, floodBurst*20*time.Millisecond) }()
			tag := byte('a' + len(fl.name)%26)
			apc.Send(t, floodBurst, tag, 20*time.Millisecond)
			sent := <-done
			got := peertest.CountTagged(bpc.WaitReceived(heardBefore+floodBurst, time.Second)[heardBefore:], tag)
			loss := 1 - float64(got)/floodBurst
			// The flood's datagrams are counted as they are read; wait for the reader to drain.
			var counted float64
			actortest.Eventually(t, 5*time.Second, "the flood counted", func() bool {
				counted = dropDelta(before, dropCounts(t, s), fl.reasons)
				return counted >= float64(sent)
			})
			if loss >= 0.01 {
				t.Fatalf("B lost %.1f %% of A's burst during the flood", 100*loss)
			}
			if n := len(mp.Peers()); n != peers {
				t.Fatalf("%d peers after the flood, want %d", n, peers)
			}
			hs := handshakeCount(handshakes)
			if hs != hsBefore {
				t.Fatalf("the flood started %v DTLS handshakes", hs-hsBefore)
			}
			st := analyse(t, "B", bpc.Received()[heardBefore:], string(tag), floodBurst, bssrc)
			after := dropCounts(t, s)
			by := map[string]float64{}
			for r, v := range after {
				if v > before[r] {
					by[r] = v - before[r]
				}
			}
			t.Logf("%d datagrams in %v from %d ports (%.0f/s): counted %v under %v (%v); B heard %d of %d (loss %.1f %%, longest gap %d)",
				sent, floodBurst*20*time.Millisecond, fl.sources, float64(sent)/(floodBurst*0.02), counted, reasonsOr(fl.reasons), by,
				got, floodBurst, 100*loss, st.MaxGap)
		})
	}
}

// sendFlood sends fl at floodRate for d from fl.sources sockets and returns how many it sent.
func sendFlood(t *testing.T, to *net.UDPAddr, fl flood, d time.Duration) int {
	var conns []*net.UDPConn
	for range fl.sources {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Error(err)
			break
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if len(conns) == 0 {
		return 0
	}
	const perTick = floodRate / 1000
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		for range perTick {
			if _, err := conns[sent%len(conns)].WriteToUDP(fl.make(sent), to); err == nil {
				sent++
			}
		}
	}
	// Nothing is ever answered: every source port's queue is empty (the answers, if any, would
	// have arrived long before the last datagram was sent).
	buf := make([]byte, 1500)
	deadline := time.Now().Add(50 * time.Millisecond) // one short wait for all ports
	for _, c := range conns {
		_ = c.SetReadDeadline(deadline)
		if n, _, err := c.ReadFromUDP(buf); err == nil {
			t.Errorf("a flooded datagram was answered with %d bytes", n)
		}
	}
	return sent
}

// clientHello is a DTLS 1.2 record carrying a ClientHello (RFC 6347 §4.2.2 layout): what a
// scanner sends to start a handshake.
func clientHello(seq uint16) []byte {
	body := []byte{0xfe, 0xfd}                        // client_version
	body = append(body, make([]byte, 32)...)          // random
	body = append(body, 0, 0)                         // session id, cookie
	body = append(body, 0, 4, 0xc0, 0x2b, 0xc0, 0x0a) // cipher suites
	body = append(body, 1, 0)                         // compression: null
	hs := []byte{1, 0, 0, byte(len(body)), byte(seq >> 8), byte(seq), 0, 0, 0, 0, 0, byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, byte(seq >> 8), byte(seq), 0, byte(len(hs))}
	return append(rec, hs...)
}

var dropLine = regexp.MustCompile(`(?m)^livechat_media_packets_dropped_total\{reason="([a-z_]+)"\} ([0-9.e+]+)$`)

// dropCounts reads the drop counters from GET /metrics, as an operator would.
func dropCounts(t *testing.T, s *testServer) map[string]float64 {
	t.Helper()
	code, body := s.get("/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	out := map[string]float64{}
	for _, m := range dropLine.FindAllStringSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = v
	}
	return out
}

// dropDelta sums the growth of reasons (all reasons when empty).
func dropDelta(before, after map[string]float64, reasons []string) float64 {
	sum := 0.0
	for r, v := range after {
		if len(reasons) == 0 || slices.Contains(reasons, r) {
			sum += v - before[r]
		}
	}
	return sum
}

// handshakeCount is every DTLS handshake that ended, whatever its result.
func handshakeCount(v *prometheus.CounterVec) float64 {
	n := 0.0
	for _, r := range []string{"ok", "failed", "timeout"} {
		n += media.CounterValue(v.WithLabelValues(r))
	}
	return n
}

func reasonsOr(rs []string) any {
	if len(rs) == 0 {
		return "any reason"
	}
	return rs
}
