package server

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media"
)

// Media-side faults (docs/reliability.md): a talker whose process dies mid-burst, and clients
// that go away in the middle of their DTLS handshake.

// joinWithPion identifies name on s and joins CH_0001 with a pion peer; it does not wait for
// the connection.
func joinWithPion(t *testing.T, s *testServer, name string) (*wstest.Client, *peertest.Client, uint32) {
	t.Helper()
	ws := s.client(name, 100)
	pc, ssrc := joinPion(t, ws, name, 111)
	return ws, pc, ssrc
}

// TestTalkerKilledMidBurst: the talker is a separate process, SIGKILLed while it sends. Its
// TCP connection is closed by the kernel, so the others see FLOOR_IDLE as for a holder that
// disconnects (docs/floor-control.md) — within a second, far below the ping timeout — and
// its peer goes away with its membership; the listener heard the burst up to the kill.
func TestTalkerKilledMidBurst(t *testing.T) {
	s, mp, m := startMediaServer(t, nil)
	bws, bpc, bssrc := joinWithPion(t, s, "B")
	cws := s.client("C", 100) // a member without media
	cws.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	bpc.WaitConnected(t, 20*time.Second)

	talker := startHelper(t, "", "talker", "LC_WS="+s.ws)
	bws.Await(opFloorTaken)
	cws.Await(opFloorTaken)
	talker.await("talking", 20*time.Second)
	heard := len(bpc.WaitReceived(25, 10*time.Second))
	if heard < 25 {
		t.Fatalf("B heard %d packets of the talker before the kill", heard)
	}
	killed := time.Now()
	talker.kill()
	for _, c := range []*wstest.Client{bws, cws} {
		c.Await(opFloorIdle)
	}
	freed := time.Since(killed)
	if freed > 2*time.Second {
		t.Fatalf("floor freed %v after the talker was killed", freed)
	}
	actortest.Eventually(t, 5*time.Second, "the talker's peer removed", func() bool { return len(mp.Peers()) == 1 })
	st := analyse(t, "B", bpc.Received(), "T", 1<<20, bssrc)
	revokes := media.CounterValue(m.FloorRevokes.WithLabelValues("disconnect"))
	t.Logf("floor freed %v after SIGKILL; B heard %d packets, longest gap %d; revokes{disconnect} = %v", freed, st.Received, st.MaxGap, revokes)
}

// talkerRole is the talker helper: joins, takes the floor and sends until it is killed.
func talkerRole(t *testing.T) {
	ws := wstest.Dial(t, os.Getenv("LC_WS"))
	ws.Identify("A", mintFor(t, "A", 100), -1)
	pc := peertest.NewClient(t, "A")
	ack := ws.Request(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": pc.Offer(t)})
	var join struct {
		SDPAnswer string `json:"sdp_answer"`
	}
	if err := ack.Decode(&join); err != nil {
		t.Fatal(err)
	}
	pc.Answer(t, join.SDPAnswer)
	pc.WaitConnected(t, 20*time.Second)
	ws.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	ws.Await(opFloorGranted)
	pc.Send(t, 50, 'T', 20*time.Millisecond)
	emit("talking", nil)
	pc.Send(t, 1500, 'T', 20*time.Millisecond) // 30 s: the test kills it long before
}

// TestClientGoneMidDTLS: two clients pass their ICE check and send their first DTLS flight,
// then their network goes (every later DTLS datagram is lost both ways). One keeps its
// WebSocket: its handshake is abandoned after HandshakeTimeout (counted as timeout) and it
// stays a member without media. The other's WebSocket is cut too: its peer goes with its
// membership at once. Peers, the gauge and goroutines return to baseline.
func TestClientGoneMidDTLS(t *testing.T) {
	baseline := goroutines()
	s, mp, m := startMediaServer(t, func(c *peer.Config) { c.HandshakeTimeout = 2 * time.Second })
	udp := mp.Host()
	timeouts := m.DTLSHandshakes.WithLabelValues("timeout")
	type stuck struct {
		ws    *wstest.Client
		pc    *peertest.Client
		relay *impairRelay
	}
	var cs []stuck
	for i, name := range []string{"X", "Y"} {
		relay := newImpairRelay(t, "127.0.0.1", udp, impairment{}, uint64(i))
		first := true
		relay.SetDrop(func(up bool, b []byte) bool { // runs under the relay's lock
			if len(b) == 0 || b[0] < 20 || b[0] > 63 {
				return false // STUN (and anything else) passes
			}
			if up && first {
				first = false
				return false // the ClientHello reaches the server
			}
			return true
		})
		ws := s.client(name, 100)
		pc := peertest.NewClient(t, name)
		ack := ws.Request(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": pc.Offer(t)})
		var join struct {
			SDPAnswer string `json:"sdp_answer"`
		}
		if err := ack.Decode(&join); err != nil {
			t.Fatal(err)
		}
		pc.Answer(t, relayAnswer(t, join.SDPAnswer, udp, relay.Port()))
		cs = append(cs, stuck{ws, pc, relay})
	}
	actortest.Eventually(t, 10*time.Second, "both peers latched (ICE check passed)", func() bool {
		ps := mp.Peers()
		return len(ps) == 2 && ps[0].PacketsIn > 0 && ps[1].PacketsIn > 0
	})
	for _, p := range mp.Peers() {
		if p.SRTPReady {
			t.Fatalf("peer %s finished DTLS through a relay that drops it", p.UserID)
		}
	}
	cs[1].ws.Drop() // Y is gone altogether
	actortest.Eventually(t, 5*time.Second, "Y's peer removed with its session", func() bool { return len(mp.Peers()) <= 1 })
	before := media.CounterValue(timeouts)
	actortest.Eventually(t, 6*time.Second, "X's handshake abandoned", func() bool { return len(mp.Peers()) == 0 })
	if got := media.CounterValue(timeouts) - before; got < 1 {
		t.Fatalf("dtls_handshakes_total{result=timeout} moved by %v, want 1 for X", got)
	}
	info := cs[0].ws.Request(opChannelInfo, d{"channel_id": "CH_0001"}).Map()
	if members, _ := info["members"].([]any); len(members) != 1 {
		t.Fatalf("members after the handshakes failed: %v, want X only", info["members"])
	}
	var g dto.Metric
	if _ = m.Peers.Write(&g); g.GetGauge().GetValue() != 0 {
		t.Fatalf("peers gauge %v, want 0", g.GetGauge().GetValue())
	}
	for _, c := range cs {
		c.pc.Close()
		c.relay.close()
		c.ws.Close()
	}
	actortest.Eventually(t, 10*time.Second, "goroutines back to baseline", func() bool { return goroutines() <= baseline+5 })
}

// relayAnswer replaces the answer's host candidate (the server's UDP address) with the relay's
// loopback port.
func relayAnswer(t *testing.T, answer string, udp netip.AddrPort, port int) string {
	t.Helper()
	host := fmt.Sprintf(" %s %d typ host", udp.Addr(), udp.Port())
	if !strings.Contains(answer, host) {
		t.Fatalf("answer has no candidate%s:\n%s", host, answer)
	}
	return strings.ReplaceAll(answer, host, fmt.Sprintf(" 127.0.0.1 %d typ host", port))
}
