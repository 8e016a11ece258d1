package peer

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/mediatest"
)

func readOffer(t testing.TB) string {
	t.Helper()
	c := peertest.NewClient(t, "offerer")
	offer := c.Offer(t)
	c.Close()
	return offer
}

func TestOpenPeerBadOfferIs2006(t *testing.T) {
	h := newHarness(t, Config{})
	for name, offer := range map[string]string{"empty": "", "garbage": "v=0\r\nnonsense"} {
		if _, err := h.open(t, "u", offer); err == nil || err.Code != msg.CodeBadOffer {
			t.Fatalf("%s: err = %v, want 2006", name, err)
		}
	}
	if n := h.media.byUfrag.Len(); n != 0 {
		t.Fatalf("a refused offer left %d peers", n)
	}
}

// TestPeerLifecycleReturnsToBaseline connects a pion client, stops the peer and checks that
// peers, snapshot entries, the gauge and goroutines return to where they were.
func TestPeerLifecycleReturnsToBaseline(t *testing.T) {
	h := newHarness(t, Config{})
	leaks := mediatest.Snapshot()
	c := peertest.NewClient(t, "A")
	p, err := h.open(t, "A", c.Offer(t))
	if err != nil {
		t.Fatal(err)
	}
	c.Answer(t, p.Answer)
	c.WaitConnected(t, 10*time.Second)
	actortest.Eventually(t, 5*time.Second, "peer registered with an address", func() bool {
		return h.media.byUfrag.Len() == 1 && h.media.byAddr.Len() >= 1
	})
	// The client is connected when its side of DTLS finishes; the server's handshake
	// goroutine reports to the peer actor a moment later.
	actortest.Eventually(t, 10*time.Second, "handshake counted", func() bool { return media.CounterValue(h.media.counters.HandshakeOK) == 1 })
	d, ok := h.media.Peer(p.Ufrag)
	if !ok || !d.SRTPReady || d.UserID != "A" || d.ChannelID != "CH" || d.Address == "" || d.Tracks[0].SSRCOut == 0 {
		t.Fatalf("peer info %+v", d)
	}
	if g := gaugeValue(t, h.media.counters.Peers); g != 1 {
		t.Fatalf("peers gauge %v with one peer, want 1", g)
	}
	c.Close()
	h.ask(t, &stopPeer{user: "A"})
	select {
	case <-h.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("peer did not stop")
	}
	actortest.Eventually(t, 5*time.Second, "snapshots empty", func() bool {
		return h.media.byUfrag.Len() == 0 && h.media.byAddr.Len() == 0
	})
	if len(h.media.Peers()) != 0 {
		t.Fatal("admin list still has the peer")
	}
	// The registry publishes the snapshots before it lowers the gauge: wait for both.
	actortest.Eventually(t, 5*time.Second, "peers gauge back to 0", func() bool { return gaugeValue(t, h.media.counters.Peers) == 0 })
	leaks.WaitGone(t)
}

// TestSilentPeerIsReaped: a peer that never hears from its client is removed after ReapAfter.
func TestSilentPeerIsReaped(t *testing.T) {
	clk := newFakeClock()
	h := newHarness(t, Config{Clock: clk}) // ReapAfter 30 s
	p, err := h.open(t, "A", readOffer(t))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	select {
	case who := <-h.ended:
		if !who.Equal(p.PID) {
			t.Fatalf("ended %v, want %v", who, p.PID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("silent peer not reaped")
	}
	actortest.Eventually(t, 5*time.Second, "snapshot empty", func() bool { return h.media.byUfrag.Len() == 0 })
}

// rawClient is a UDP socket speaking to the media port by hand.
func rawClient(t *testing.T, h *harness) *net.UDPConn {
	t.Helper()
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(h.media.Host()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestWrongSTUNIntegrityGetsNoAnswerAndLatchesNothing(t *testing.T) {
	h := newHarness(t, Config{})
	offer := readOffer(t)
	user := ":" + iceUfrag(t, offer)
	p, err := h.open(t, "A", offer)
	if err != nil {
		t.Fatal(err)
	}
	conn := rawClient(t, h)
	req, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(p.Ufrag+user),
		stun.NewShortTermIntegrity("this-is-not-the-server-pwd"), stun.Fingerprint)
	if _, err := conn.Write(req.Raw); err != nil {
		t.Fatal(err)
	}
	drops := h.media.counters.Dropped(media.DropSTUNIntegrity)
	actortest.Eventually(t, 5*time.Second, "integrity drop counted", func() bool { return media.CounterValue(drops) == 1 })
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := conn.Read(make([]byte, 1500)); err == nil {
		t.Fatalf("got a %d-byte answer to a bad request", n)
	}
	if h.media.byAddr.Len() != 0 {
		t.Fatal("a failed check latched an address")
	}
	// The same request with the right password (learned from the answer) is answered.
	pwd := answerPwd(t, p.Answer)
	good, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(p.Ufrag+user),
		stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	conn.Write(good.Raw)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, rerr := conn.Read(buf)
	if rerr != nil {
		t.Fatal(rerr)
	}
	resp := &stun.Message{Raw: buf[:n]}
	if derr := resp.Decode(); derr != nil || resp.Type != stun.BindingSuccess {
		t.Fatalf("answer %v %v", resp.Type, derr)
	}
	actortest.Eventually(t, 5*time.Second, "address latched", func() bool { return h.media.byAddr.Len() == 1 })
}

func TestUnauthenticatedAndOutOfRangeDatagramsAreDropped(t *testing.T) {
	h := newHarness(t, Config{})
	conn := rawClient(t, h)
	srtpLike := make([]byte, 60)
	srtpLike[0], srtpLike[1] = 0x80, 111
	dtlsLike := make([]byte, 60)
	dtlsLike[0] = 22
	garbage := make([]byte, 60)
	garbage[0] = 100
	for _, b := range [][]byte{srtpLike, dtlsLike, garbage} {
		conn.Write(b)
	}
	c := h.media.counters
	actortest.Eventually(t, 5*time.Second, "drops counted", func() bool {
		return media.CounterValue(c.Dropped(media.DropUnknownAddress)) == 2 && media.CounterValue(c.Dropped(media.DropDemux)) == 1
	})
}

func TestPeerWhoseCertificateMismatchesIsDropped(t *testing.T) {
	h := newHarness(t, Config{})
	c := peertest.NewClient(t, "A")
	offer := c.Offer(t)
	// Another client's offer carries another certificate fingerprint.
	other := peertest.NewClient(t, "other")
	otherOffer := other.Offer(t)
	forged := replaceFingerprint(t, offer, otherOffer)
	p, err := h.open(t, "A", forged)
	if err != nil {
		t.Fatal(err)
	}
	c.Answer(t, p.Answer)
	select {
	case who := <-h.ended:
		if !who.Equal(p.PID) {
			t.Fatalf("ended %v", who)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("peer with a mismatched certificate was not dropped")
	}
	if media.CounterValue(h.media.counters.HandshakeFailed) != 1 || media.CounterValue(h.media.counters.HandshakeOK) != 0 {
		t.Fatal("handshake not counted as failed")
	}
	actortest.Eventually(t, 5*time.Second, "snapshots empty", func() bool {
		return h.media.byUfrag.Len() == 0 && h.media.byAddr.Len() == 0
	})
}

// TestStalledHandshakeIsAbandoned: a client that starts DTLS and goes quiet is cut off after
// HandshakeTimeout and its peer removed.
func TestStalledHandshakeIsAbandoned(t *testing.T) {
	h := newHarness(t, Config{HandshakeTimeout: 200 * time.Millisecond})
	offer := readOffer(t)
	p, err := h.open(t, "A", offer)
	if err != nil {
		t.Fatal(err)
	}
	conn := rawClient(t, h)
	req, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(p.Ufrag+":"+iceUfrag(t, offer)),
		stun.RawAttribute{Type: stun.AttrUseCandidate}, stun.NewShortTermIntegrity(answerPwd(t, p.Answer)), stun.Fingerprint)
	conn.Write(req.Raw)
	actortest.Eventually(t, 5*time.Second, "address latched", func() bool { return h.media.byAddr.Len() == 1 })
	hello := make([]byte, 60) // a DTLS-looking record that never becomes a handshake
	hello[0], hello[1], hello[2] = 22, 0xfe, 0xfd
	conn.Write(hello)
	select {
	case <-h.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("stalled handshake not abandoned")
	}
	// A stall is a timeout, not a failure: operators tell slow clients from bad ones by it.
	if to, failed := media.CounterValue(h.media.counters.HandshakeTimeout), media.CounterValue(h.media.counters.HandshakeFailed); to != 1 || failed != 0 {
		t.Fatalf("abandoned handshake counted as %v timeouts and %v failures, want 1 and 0", to, failed)
	}
	actortest.Eventually(t, 5*time.Second, "snapshots empty", func() bool {
		return h.media.byUfrag.Len() == 0 && h.media.byAddr.Len() == 0
	})
}

// TestAnswersShareOneHostCandidate: every answer names the same host candidate (advertise IP,
// the media port), and each peer gets its own server credentials of the required shape.
func TestAnswersShareOneHostCandidate(t *testing.T) {
	h := newHarness(t, Config{})
	offer := readOffer(t)
	want := fmt.Sprintf("127.0.0.1 %d typ host", h.media.Host().Port())
	ufrags := map[string]bool{}
	for _, u := range []string{"A", "B", "C"} {
		p, err := h.open(t, u, offer)
		if err != nil {
			t.Fatal(err)
		}
		var cands []string
		for _, l := range strings.Split(p.Answer, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=candidate:"); ok {
				cands = append(cands, v)
			}
		}
		if len(cands) != 1 || !strings.HasSuffix(cands[0], want) {
			t.Fatalf("%s: candidates %q, want one ending %q", u, cands, want)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9]{16}$`).MatchString(p.Ufrag) || len(answerPwd(t, p.Answer)) < 24 || ufrags[p.Ufrag] {
			t.Fatalf("%s: ufrag %q pwd %q", u, p.Ufrag, answerPwd(t, p.Answer))
		}
		ufrags[p.Ufrag] = true
	}
}
