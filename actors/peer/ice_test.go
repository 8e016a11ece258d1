package peer

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/clock"
)

// newFakeClock is the clock the test moves by hand: datagram times and the reap timers run on
// it (clock.Fake is safe from any goroutine; the UDP reader reads it).
func newFakeClock() *clock.Fake { return clock.NewFake(time.Unix(1_700_000_000, 0)) }

// rtpLike is an RTP-shaped datagram (no valid SRTP): it shows whether the demux accepts an
// address (srtp_not_ready before DTLS) or not (unknown_address).
func rtpLike() []byte {
	b := make([]byte, 40)
	b[0], b[1] = 0x80, 111
	return b
}

// TestCandidateSwitchingAndRebinding walks the ICE-lite address rules of docs/media.md ("ICE-lite")
// with raw STUN clients: media is accepted from every address that passed a check; it is sent to
// the first such address, then to whichever address last sent USE-CANDIDATE, and to a new address
// without USE-CANDIDATE only once the send address has been silent for RebindAfter.
func TestCandidateSwitchingAndRebinding(t *testing.T) {
	clk := newFakeClock()
	h := newHarness(t, Config{Clock: clk, RebindAfter: 5 * time.Second})
	offer := readOffer(t)
	p, err := h.open(t, "A", offer)
	if err != nil {
		t.Fatal(err)
	}
	addr := func() string { d, _ := h.media.Peer(p.Ufrag); return d.Address }
	waitAddr := func(c *net.UDPConn, what string) {
		t.Helper()
		want := c.LocalAddr().String()
		actortest.Eventually(t, 10*time.Second, what, func() bool { return addr() == want })
	}
	c1, c2, c3, c4 := rawClient(t, h), rawClient(t, h), rawClient(t, h), rawClient(t, h)

	check(t, c1, p, offer, false)
	waitAddr(c1, "first authenticated address used")
	check(t, c2, p, offer, false)
	actortest.Eventually(t, 10*time.Second, "second address latched", func() bool { return h.media.byAddr.Len() == 2 })
	if a := addr(); a != c1.LocalAddr().String() {
		t.Fatalf("an un-nominated check moved media to %s", a)
	}
	c := h.media.counters
	for _, conn := range []*net.UDPConn{c1, c2} {
		conn.Write(rtpLike())
	}
	actortest.Eventually(t, 10*time.Second, "media from both addresses accepted", func() bool {
		return media.CounterValue(c.Dropped(media.DropSRTPNotReady)) == 2
	})
	if n := media.CounterValue(c.Dropped(media.DropUnknownAddress)); n != 0 {
		t.Fatalf("%v datagrams from authenticated addresses dropped as unknown", n)
	}

	check(t, c2, p, offer, true)
	waitAddr(c2, "nominated address used")
	check(t, c1, p, offer, true)
	waitAddr(c1, "re-nominated address used")

	// A new address while the send address is fresh: latched for receiving, not for sending.
	check(t, c3, p, offer, false)
	actortest.Eventually(t, 10*time.Second, "third address latched", func() bool { return h.media.byAddr.Len() == 3 })
	if a := addr(); a != c1.LocalAddr().String() {
		t.Fatalf("a check from a new address moved media from a live address to %s", a)
	}
	// NAT rebinding: the send address goes silent; the next valid check from a new address
	// takes over sending although it carries no USE-CANDIDATE.
	clk.Advance(6 * time.Second)
	check(t, c4, p, offer, false)
	waitAddr(c4, "rebound address used")
}

// TestConsentChecksKeepThePeer: consent checks refresh the peer's last-seen time (idle_s goes
// back to 0), so a peer that only sends checks is not reaped; once silent for ReapAfter it is,
// and all its addresses leave the look-up snapshots.
func TestConsentChecksKeepThePeer(t *testing.T) {
	clk := newFakeClock()
	h := newHarness(t, Config{Clock: clk}) // ReapAfter 30 s, timed by clk
	offer := readOffer(t)
	p, err := h.open(t, "A", offer)
	if err != nil {
		t.Fatal(err)
	}
	idle := func() float64 { d, _ := h.media.Peer(p.Ufrag); return d.IdleS }
	c1, c2 := rawClient(t, h), rawClient(t, h)
	clk.Advance(20 * time.Second)
	if got := idle(); got != 20 {
		t.Fatalf("idle_s %v, want 20", got)
	}
	check(t, c1, p, offer, true)
	if got := idle(); got != 0 {
		t.Fatalf("idle_s %v after a consent check, want 0", got)
	}
	clk.Advance(20 * time.Second) // 40 s since the peer opened, 20 s since the check
	h.system.Root.Send(p.PID, &reapCheck{})
	// The check from a second address reaches the peer after the reap check (one mailbox);
	// its latch proves the peer is still there.
	check(t, c2, p, offer, false)
	actortest.Eventually(t, 10*time.Second, "second address latched", func() bool { return h.media.byAddr.Len() == 2 })

	clk.Advance(31 * time.Second)
	h.system.Root.Send(p.PID, &reapCheck{})
	select {
	case who := <-h.ended:
		if !who.Equal(p.PID) {
			t.Fatalf("ended %v", who)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("peer silent for ReapAfter not reaped")
	}
	actortest.Eventually(t, 10*time.Second, "snapshots empty", func() bool {
		return h.media.byUfrag.Len() == 0 && h.media.byAddr.Len() == 0
	})
}

// TestWrongClientUfragGetsNoAnswer: the USERNAME's second half must be the offer's ufrag.
func TestWrongClientUfragGetsNoAnswer(t *testing.T) {
	h := newHarness(t, Config{})
	offer := readOffer(t)
	p, err := h.open(t, "A", offer)
	if err != nil {
		t.Fatal(err)
	}
	conn := rawClient(t, h)
	req, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(p.Ufrag+":someone-else"),
		stun.RawAttribute{Type: stun.AttrUseCandidate}, stun.NewShortTermIntegrity(answerPwd(t, p.Answer)), stun.Fingerprint)
	conn.Write(req.Raw)
	actortest.Eventually(t, 10*time.Second, "drop counted", func() bool {
		return media.CounterValue(h.media.counters.Dropped(media.DropSTUNUnknownUser)) == 1
	})
	check(t, conn, p, offer, true) // the same socket with the right USERNAME is answered first
	if h.media.byAddr.Len() > 1 {
		t.Fatal("more than one address latched")
	}
}

// TestEvictedAddressIsLatchedAgain: a peer holds at most maxAddrs addresses; an evicted one
// that passes a check again is latched again.
func TestEvictedAddressIsLatchedAgain(t *testing.T) {
	h := newHarness(t, Config{})
	offer := readOffer(t)
	p, err := h.open(t, "A", offer)
	if err != nil {
		t.Fatal(err)
	}
	var conns []*net.UDPConn
	for i := range maxAddrs + 1 {
		c := rawClient(t, h)
		conns = append(conns, c)
		check(t, c, p, offer, false)
		actortest.Eventually(t, 10*time.Second, "address latched", func() bool { return h.media.byAddr.Len() == min(i+1, maxAddrs) })
	}
	first := netipOf(t, conns[0])
	actortest.Eventually(t, 10*time.Second, "oldest address evicted", func() bool { _, ok := h.media.byAddr.Get(first); return !ok })
	check(t, conns[0], p, offer, false)
	actortest.Eventually(t, 10*time.Second, "evicted address latched again", func() bool { _, ok := h.media.byAddr.Get(first); return ok })
	if n := h.media.byAddr.Len(); n != maxAddrs {
		t.Fatalf("%d addresses latched, want %d", n, maxAddrs)
	}
}

// TestConnectivityChecksOnTwoWorkers: with two UDP workers, checks from many source ports
// arrive on both readers at once (the kernel spreads them by address hash); every one is
// answered with a response whose MESSAGE-INTEGRITY verifies with the peer's password, so
// neither reader sees the other's request.
func TestConnectivityChecksOnTwoWorkers(t *testing.T) {
	h := newHarness(t, Config{Socket: media.SocketConfig{Workers: 2}})
	offer := readOffer(t)
	p, err := h.open(t, "A", offer)
	if err != nil {
		t.Fatal(err)
	}
	key := stun.NewShortTermIntegrity(answerPwd(t, p.Answer))
	user := stun.NewUsername(p.Ufrag + ":" + iceUfrag(t, offer))
	const clients, checks = 16, 25
	conns := make([]*net.UDPConn, clients)
	for i := range conns {
		conns[i] = rawClient(t, h)
	}
	errs := make(chan error, clients)
	for _, c := range conns {
		go func() {
			buf := make([]byte, 1500)
			for range checks {
				req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, user, key, stun.Fingerprint)
				if _, err := c.Write(req.Raw); err != nil {
					errs <- err
					return
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					errs <- fmt.Errorf("no answer from %s: %w", c.LocalAddr(), err)
					return
				}
				resp := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
				if err := resp.Decode(); err != nil {
					errs <- err
					return
				}
				if resp.Type != stun.BindingSuccess || resp.TransactionID != req.TransactionID {
					errs <- fmt.Errorf("answer %v for another transaction", resp.Type)
					return
				}
				if err := key.Check(resp); err != nil {
					errs <- fmt.Errorf("answer integrity: %w", err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := media.CounterValue(h.media.counters.Dropped(media.DropSTUNIntegrity)); n != 0 {
		t.Fatalf("%v valid checks dropped for integrity", n)
	}
}
