package peer

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// check sends a Binding request for peer p opened with offer (USERNAME "<server ufrag>:<offer
// ufrag>", integrity with the server pwd from its answer) from conn and waits for the success response.
func check(t *testing.T, conn *net.UDPConn, p msg.Peer, offer string, useCandidate bool) {
	t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest, stun.NewUsername(p.Ufrag + ":" + iceUfrag(t, offer))}
	if useCandidate {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrUseCandidate})
	}
	setters = append(setters, stun.NewShortTermIntegrity(answerPwd(t, p.Answer)), stun.Fingerprint)
	req, err := stun.Build(setters...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(req.Raw); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer to a valid check: %v", err)
	}
	resp := &stun.Message{Raw: buf[:n]}
	if err := resp.Decode(); err != nil || resp.Type != stun.BindingSuccess || resp.TransactionID != req.TransactionID {
		t.Fatalf("answer %v %v", resp.Type, err)
	}
}

// TestPeerSurvivesAPanic: a panic inside the peer actor's Receive is logged and counted, and
// the peer keeps its state (latched address, registration) and goes on serving.
func TestPeerSurvivesAPanic(t *testing.T) {
	h := newHarness(t, Config{})
	offer := readOffer(t)
	p, err := h.open(t, "A", offer)
	if err != nil {
		t.Fatal(err)
	}
	first := rawClient(t, h)
	check(t, first, p, offer, false)
	want := first.LocalAddr().String()
	actortest.Eventually(t, 10*time.Second, "first address latched", func() bool { d, _ := h.media.Peer(p.Ufrag); return d.Address == want })

	h.system.Root.Send(p.PID, (*stunChecked)(nil)) // dereferencing it panics inside Receive
	actortest.Eventually(t, 10*time.Second, "panic counted", func() bool { return media.CounterValue(h.media.counters.PeerPanics) == 1 })
	if d, ok := h.media.Peer(p.Ufrag); !ok || d.Address != want {
		t.Fatalf("peer lost its state in the panic: %+v %v", d, ok)
	}
	// Still serving: a nomination from another address moves its media there.
	second := rawClient(t, h)
	check(t, second, p, offer, true)
	want = second.LocalAddr().String()
	actortest.Eventually(t, 10*time.Second, "nominated address used", func() bool { d, _ := h.media.Peer(p.Ufrag); return d.Address == want })
	select {
	case who := <-h.ended:
		t.Fatalf("peer %v ended after a recovered panic", who)
	default:
	}
}

// TestCloseWithPeersEmptiesGaugeAndSnapshots: closing the media plane while peers are still
// registered brings the peers gauge and the look-up snapshots to zero; peers that stop later
// do not drive the gauge below zero, and new offers are refused.
func TestCloseWithPeersEmptiesGaugeAndSnapshots(t *testing.T) {
	h := newHarness(t, Config{})
	offer := readOffer(t)
	var peers []msg.Peer
	for _, u := range []string{"A", "B"} {
		p, err := h.open(t, u, offer)
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
	}
	check(t, rawClient(t, h), peers[0], offer, true)
	actortest.Eventually(t, 10*time.Second, "peers registered", func() bool {
		return gaugeValue(t, h.media.counters.Peers) == 2 && h.media.byAddr.Len() == 1
	})
	if err := h.media.Close(); err != nil {
		t.Fatal(err)
	}
	if g := gaugeValue(t, h.media.counters.Peers); g != 0 {
		t.Fatalf("peers gauge %v after Close", g)
	}
	if h.media.byUfrag.Len() != 0 || h.media.byAddr.Len() != 0 || len(h.media.Peers()) != 0 {
		t.Fatal("snapshots not empty after Close")
	}
	if _, err := h.open(t, "C", offer); err == nil || err.Code != msg.CodeBadOffer {
		t.Fatalf("offer after Close: %v, want 2006", err)
	}
	for _, u := range []string{"A", "B"} {
		h.ask(t, &stopPeer{user: u})
	}
	for range 2 {
		select {
		case <-h.ended:
		case <-time.After(10 * time.Second):
			t.Fatal("peer did not stop")
		}
	}
	if g := gaugeValue(t, h.media.counters.Peers); g != 0 {
		t.Fatalf("peers gauge %v after the peers stopped", g)
	}
}

func netipOf(t *testing.T, c *net.UDPConn) netip.AddrPort {
	t.Helper()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}
