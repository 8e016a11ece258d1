package peer

import (
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/media"
)

// TestRelayWithPionClients connects three real pion/webrtc clients to peer actors behind a
// fake channel and checks the floor-gated relay end to end. B offers Opus on payload type 109
// (as Firefox does), A and C on 111: each listener must get its own.
func TestRelayWithPionClients(t *testing.T) {
	h := newHarness(t, Config{})
	names := []string{"A", "B", "C"}
	pts := map[string]uint8{"A": 111, "B": 109, "C": 111}
	clients := map[string]*peertest.Client{}
	ssrcs := map[string]uint32{}
	ufrags := map[string]string{}
	for _, n := range names {
		c := peertest.NewClientPT(t, n, pts[n])
		p, err := h.open(t, n, c.Offer(t))
		if err != nil {
			t.Fatal(err)
		}
		c.Answer(t, p.Answer)
		ssrc, serr := peertest.AnswerSSRC(p.Answer)
		if serr != nil {
			t.Fatal(serr)
		}
		clients[n], ssrcs[n], ufrags[n] = c, ssrc, p.Ufrag
	}
	for _, n := range names {
		clients[n].WaitConnected(t, 10*time.Second)
	}
	for _, n := range names {
		actortest.Eventually(t, 15*time.Second, n+" srtp ready", func() bool { d, _ := h.media.Peer(ufrags[n]); return d.SRTPReady })
	}

	// A holds the floor and sends 200 packets: B and C get ≥ 99 % on their announced SSRC.
	h.ask(t, &setHolder{user: "A"})
	clients["A"].Send(t, 200, 'A', time.Millisecond)
	for _, n := range []string{"B", "C"} {
		clients[n].ExpectStream(t, 200, 198, 'A', ssrcs[n], pts[n], 15*time.Second)
	}
	if got := clients["A"].Received(); len(got) != 0 {
		t.Fatalf("the holder heard itself: %d packets", len(got))
	}

	// B talks without the floor: its packets reach nobody.
	outBefore := map[string]uint64{}
	for _, n := range []string{"A", "C"} {
		d, _ := h.media.Peer(ufrags[n])
		outBefore[n] = d.PacketsOut
	}
	gatedBefore := h.gated.Load()
	clients["B"].Send(t, 50, 'X', time.Millisecond)
	actortest.Eventually(t, 15*time.Second, "B's 50 packets gated", func() bool { return h.gated.Load()-gatedBefore >= 50 })
	for _, n := range []string{"A", "C"} {
		d, _ := h.media.Peer(ufrags[n])
		if d.PacketsOut != outBefore[n] {
			t.Fatalf("%s was sent %d packets while B talked without the floor", n, d.PacketsOut-outBefore[n])
		}
	}

	// The floor moves to B: C's stream keeps its SSRC, sequence continues, timestamps grow;
	// A now hears B.
	cBefore := clients["C"].Received()
	last := cBefore[len(cBefore)-1]
	h.ask(t, &setHolder{user: "B"})
	clients["B"].Send(t, 100, 'B', time.Millisecond)
	gotC := clients["C"].WaitReceived(len(cBefore)+100, 15*time.Second)
	fromB := gotC[len(cBefore):]
	if peertest.CountTagged(fromB, 'B') < 99 {
		t.Fatalf("C received %d of B's 100", peertest.CountTagged(fromB, 'B'))
	}
	if fromB[0].SSRC != ssrcs["C"] {
		t.Fatalf("C's SSRC changed at the speaker change: %d", fromB[0].SSRC)
	}
	if fromB[0].Seq != last.Seq+1 {
		t.Fatalf("C's sequence jumped at the speaker change: %d after %d", fromB[0].Seq, last.Seq)
	}
	if int32(fromB[0].Timestamp-last.Timestamp) <= 0 {
		t.Fatalf("C's timestamp did not increase: %d after %d", fromB[0].Timestamp, last.Timestamp)
	}
	gotA := clients["A"].WaitReceived(99, 115*time.Second)
	if c := peertest.CountTagged(gotA, 'B'); c < 99 {
		t.Fatalf("A received %d of B's 100", c)
	}
	for _, r := range gotA {
		if r.PT != 111 {
			t.Fatalf("A got B's 109 packets on PT %d, want its own 111", r.PT)
		}
	}
	for _, n := range names {
		if x, own := peertest.CountTagged(clients[n].Received(), 'X'), peertest.CountTagged(clients[n].Received(), n[0]); x+own != 0 {
			t.Fatalf("%s heard %d packets sent without the floor and %d of its own", n, x, own)
		}
	}
	// C's receiver report about the server's stream to it (SRTCP) is decrypted and kept for
	// the admin API; nothing goes on to the others.
	outBefore = map[string]uint64{}
	for _, n := range names {
		d, _ := h.media.Peer(ufrags[n])
		outBefore[n] = d.PacketsOut
	}
	rr := &rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{
		{SSRC: 12345, FractionLost: 128, TotalLost: 99, Jitter: 4800}, // about another stream: ignored
		{SSRC: ssrcs["C"], FractionLost: 64, TotalLost: 7, Jitter: 480},
	}}
	if err := clients["C"].PC.WriteRTCP([]rtcp.Packet{rr}); err != nil {
		t.Fatal(err)
	}
	actortest.Eventually(t, 15*time.Second, "C's report kept", func() bool { d, _ := h.media.Peer(ufrags["C"]); return d.PacketsLost == 7 })
	d, _ := h.media.Peer(ufrags["C"])
	if d.FractionLost != 0.25 || d.JitterMs != 10 {
		t.Fatalf("C's report: fraction lost %v jitter %v ms, want 0.25 and 10", d.FractionLost, d.JitterMs)
	}
	for _, n := range names {
		if d, _ := h.media.Peer(ufrags[n]); d.PacketsOut != outBefore[n] {
			t.Fatalf("C's RTCP made the server send %d packets to %s", d.PacketsOut-outBefore[n], n)
		}
	}

	if d := media.CounterValue(h.media.counters.HandshakeOK); d != 3 {
		t.Fatalf("handshakes ok = %v", d)
	}
}
