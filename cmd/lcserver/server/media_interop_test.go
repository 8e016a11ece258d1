package server

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// startWithMedia runs a test server with a real media plane on a free loopback UDP port.
func startWithMedia(t *testing.T, tweaks ...func(*Config)) (*testServer, *peer.Media, *metrics.Metrics) {
	t.Helper()
	return startMediaServer(t, nil, tweaks...)
}

// joinPion joins CH_0001 on the identified client ws with a pion peer that offers Opus on
// payload type pt and applies the answer; it returns the peer and the SSRC the answer
// announces, and does not wait for the connection.
func joinPion(t *testing.T, ws *wstest.Client, name string, pt uint8) (*peertest.Client, uint32) {
	t.Helper()
	pc := peertest.NewClientPT(t, name, pt)
	ack := ws.Request(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": pc.Offer(t)})
	var join struct {
		SDPAnswer string `json:"sdp_answer"`
	}
	if err := ack.Decode(&join); err != nil || join.SDPAnswer == "" {
		t.Fatalf("%s: join ACK without sdp_answer: %v %v", name, ack, err)
	}
	pc.Answer(t, join.SDPAnswer)
	ssrc, err := peertest.AnswerSSRC(join.SDPAnswer)
	if err != nil {
		t.Fatal(err)
	}
	return pc, ssrc
}

// startMediaServer is startWithMedia with the media plane's config changed by mediaTweak.
func startMediaServer(t *testing.T, mediaTweak func(*peer.Config), tweaks ...func(*Config)) (*testServer, *peer.Media, *metrics.Metrics) {
	t.Helper()
	m := metrics.New()
	cfg := peer.Config{
		Bind:        netip.MustParseAddrPort("127.0.0.1:0"),
		AdvertiseIP: netip.MustParseAddr("127.0.0.1"),
		Metrics:     m,
		Logger:      testLogger(),
	}
	if mediaTweak != nil {
		mediaTweak(&cfg)
	}
	mp, err := peer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mp.Close() }) // registered first: runs after the server has stopped
	s := start(t, func(c *Config) {
		c.Media = mp
		c.Metrics = m
		c.FloorPingTimeout = time.Minute
		for _, tw := range tweaks {
			tw(c)
		}
	})
	return s, mp, m
}

// TestMediaInteropPion: three pion/webrtc clients join one channel over the WebSocket
// protocol with real SDP offers and talk through the floor-gated relay (docs/media.md). B offers
// Opus on payload type 109 (as Firefox does), A and C on 111.
func TestMediaInteropPion(t *testing.T) {
	s, mp, m := startWithMedia(t)
	names := []string{"A", "B", "C"}
	pts := map[string]uint8{"A": 111, "B": 109, "C": 111}
	rtc := map[string]*peertest.Client{}
	ssrc := map[string]uint32{}
	ufrag := map[string]string{}
	clients := map[string]*wstest.Client{}
	for _, n := range names {
		c := s.client(n, 100)
		rtc[n], ssrc[n] = joinPion(t, c, n, pts[n])
		clients[n] = c
	}
	for _, n := range names {
		rtc[n].WaitConnected(t, 20*time.Second)
	}
	for _, p := range mp.Peers() {
		ufrag[p.UserID] = p.Ufrag
	}
	for _, n := range names {
		actortest.Eventually(t, 15*time.Second, n+" SRTP ready", func() bool { d, _ := mp.Peer(ufrag[n]); return d.SRTPReady })
	}

	// sent counts the packets the server sent to each client so far.
	sent := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, n := range names {
			d, _ := mp.Peer(ufrag[n])
			out[n] = d.PacketsOut
		}
		return out
	}
	gated := m.PacketsDropped.WithLabelValues("not_floor_holder")

	// The floor is idle: A's packets reach nobody.
	before, gatedBefore := sent(), media.CounterValue(gated)
	rtc["A"].Send(t, 50, 'I', time.Millisecond)
	// All 50 must be gated before the floor is requested: a straggler would rightly be
	// relayed once A holds the floor (loopback loses none).
	actortest.Eventually(t, 15*time.Second, "A's 50 packets gated while idle", func() bool { return media.CounterValue(gated)-gatedBefore >= 50 })
	if now := sent(); fmt.Sprint(now) != fmt.Sprint(before) {
		t.Fatalf("packets sent while the floor was idle: %v -> %v", before, now)
	}

	// A takes the floor and sends 200 Opus-sized packets.
	clients["A"].Send(opFloorRequest, d{"channel_id": "CH_0001"})
	clients["A"].Await(opFloorGranted)
	clients["B"].Await(opFloorTaken)
	clients["C"].Await(opFloorTaken)
	rtc["A"].Send(t, 200, 'A', time.Millisecond)
	for _, n := range []string{"B", "C"} {
		rtc[n].ExpectStream(t, 200, 198, 'A', ssrc[n], pts[n], 15*time.Second)
	}
	lastA := time.Now() // C has every packet of A's spurt: its last one was relayed before now

	// B sends while A holds the floor: nobody hears it.
	before, gatedBefore = sent(), media.CounterValue(gated)
	rtc["B"].Send(t, 50, 'X', time.Millisecond)
	actortest.Eventually(t, 15*time.Second, "B's 50 packets gated", func() bool { return media.CounterValue(gated)-gatedBefore >= 50 })
	if now := sent(); fmt.Sprint(now) != fmt.Sprint(before) {
		t.Fatalf("packets sent while B talked without the floor: %v -> %v", before, now)
	}

	// The floor moves to B.
	heard := rtc["C"].Received()
	last := heard[len(heard)-1]
	clients["A"].Send(opFloorRelease, d{"channel_id": "CH_0001"})
	clients["B"].Send(opFloorRequest, d{"channel_id": "CH_0001"})
	clients["B"].Await(opFloorGranted)
	clients["C"].Await(opFloorTaken)
	firstB := time.Now() // B's first packet is relayed after now
	rtc["B"].Send(t, 100, 'B', time.Millisecond)
	got := rtc["C"].WaitReceived(len(heard)+100, 15*time.Second)
	fromB := got[len(heard):]
	if c := peertest.CountTagged(fromB, 'B'); c < 99 {
		t.Fatalf("C decrypted %d of B's 100 packets", c)
	}
	if fromB[0].SSRC != ssrc["C"] {
		t.Fatalf("C's SSRC changed at the speaker change")
	}
	if fromB[0].Seq != last.Seq+1 {
		t.Fatalf("C's sequence jumped at the speaker change: %d after %d", fromB[0].Seq, last.Seq)
	}
	for i := 1; i < len(fromB); i++ {
		if int32(fromB[i].Timestamp-fromB[i-1].Timestamp) <= 0 && fromB[i].Seq == fromB[i-1].Seq+1 {
			t.Fatalf("C's timestamps did not increase at packet %d", i)
		}
	}
	// The timestamp advances by the wall-clock gap between the spurts × 48 kHz, which is at
	// least the time between A's last packet and B's first as the test saw it.
	if adv, min := int64(int32(fromB[0].Timestamp-last.Timestamp)), firstB.Sub(lastA).Milliseconds()*48; adv < max(min, 1) {
		t.Fatalf("C's timestamp advanced %d at the speaker change, want at least %d", adv, max(min, 1))
	}
	gotA := rtc["A"].WaitReceived(99, 15*time.Second)
	if c := peertest.CountTagged(gotA, 'B'); c < 99 {
		t.Fatalf("A decrypted %d of B's 100 packets", c)
	}
	for _, r := range gotA {
		if r.PT != pts["A"] {
			t.Fatalf("A received B's packets on PT %d, want its own %d", r.PT, pts["A"])
		}
	}
	// Nobody heard packets sent without the floor, and the holder never heard itself (every
	// later packet went through the same mailboxes, so any such packet would have arrived).
	for _, n := range names {
		rs := rtc[n].Received()
		if i, x, own := peertest.CountTagged(rs, 'I'), peertest.CountTagged(rs, 'X'), peertest.CountTagged(rs, n[0]); i+x+own != 0 {
			t.Fatalf("%s heard %d idle-floor packets, %d non-holder packets and %d of its own", n, i, x, own)
		}
	}

	// A receiver report from C about the server's stream shows up in /admin/peers.
	rr := &rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{{SSRC: ssrc["C"], FractionLost: 64, TotalLost: 7, Jitter: 480}}}
	if err := rtc["C"].PC.WriteRTCP([]rtcp.Packet{rr}); err != nil {
		t.Fatal(err)
	}
	var peers struct {
		Peers []struct {
			Ufrag        string  `json:"ufrag"`
			FractionLost float64 `json:"fraction_lost"`
			PacketsLost  int64   `json:"packets_lost"`
			JitterMs     float64 `json:"jitter_ms"`
		} `json:"peers"`
	}
	actortest.Eventually(t, 15*time.Second, "C's receiver report in /admin/peers", func() bool {
		if getJSON(t, s, "/admin/peers", &peers) != 200 {
			return false
		}
		for _, p := range peers.Peers {
			if p.Ufrag == ufrag["C"] {
				return p.FractionLost == 0.25 && p.PacketsLost == 7 && p.JitterMs == 10
			}
		}
		return false
	})

	// Leaving tears the peers down: the admin list empties.
	for _, n := range names {
		clients[n].Request(opChannelLeave, d{"channel_id": "CH_0001"})
	}
	actortest.Eventually(t, 5*time.Second, "peers removed", func() bool { return len(mp.Peers()) == 0 })
}
