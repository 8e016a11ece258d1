package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/peer"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/admin/metrics"
	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media"
)

// startWithMedia runs a test server with a real media plane on a free loopback UDP port.
func startWithMedia(t *testing.T) (*testServer, *peer.Media, *metrics.Metrics) {
	t.Helper()
	m := metrics.New()
	mp, err := peer.New(peer.Config{
		Bind:        netip.MustParseAddrPort("127.0.0.1:0"),
		AdvertiseIP: netip.MustParseAddr("127.0.0.1"),
		Metrics:     m,
		Logger:      testLogger(),
	})
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
	})
	return s, mp, m
}

// TestMediaInteropPion: three pion/webrtc clients join one channel over the WebSocket
// protocol with real SDP offers and talk through the floor-gated relay (SPEC §6).
func TestMediaInteropPion(t *testing.T) {
	s, mp, m := startWithMedia(t)
	names := []string{"A", "B", "C"}
	rtc := map[string]*peertest.Client{}
	ssrc := map[string]uint32{}
	ufrag := map[string]string{}
	clients := map[string]*wstest.Client{}
	for _, n := range names {
		c := s.client(n, 100)
		pc := peertest.NewClient(t, n)
		ack := c.Request(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": pc.Offer(t)})
		var join struct {
			SDPAnswer string `json:"sdp_answer"`
		}
		if err := ack.Decode(&join); err != nil || join.SDPAnswer == "" {
			t.Fatalf("%s: join ACK without sdp_answer: %v %v", n, ack, err)
		}
		pc.Answer(t, join.SDPAnswer)
		v, err := peertest.AnswerSSRC(join.SDPAnswer)
		if err != nil {
			t.Fatal(err)
		}
		rtc[n], ssrc[n] = pc, v
		clients[n] = c
	}
	for _, n := range names {
		rtc[n].WaitConnected(t, 10*time.Second)
	}
	for _, p := range mp.Peers() {
		ufrag[p.UserID] = p.Ufrag
	}
	for _, n := range names {
		eventually(t, 5*time.Second, n+" SRTP ready", func() bool { d, _ := mp.Peer(ufrag[n]); return d.SRTPReady })
	}

	// A takes the floor and sends 200 Opus-sized packets.
	clients["A"].Send(opFloorRequest, d{"channel_id": "CH_0001"})
	clients["A"].Await(opFloorGranted)
	clients["B"].Await(opFloorTaken)
	clients["C"].Await(opFloorTaken)
	rtc["A"].Send(t, 200, 'A', time.Millisecond)
	for _, n := range []string{"B", "C"} {
		got := rtc[n].WaitReceived(200, 5*time.Second)
		if c := peertest.CountTagged(got, 'A'); c < 198 {
			t.Fatalf("%s decrypted %d of A's 200 packets", n, c)
		}
		for _, r := range got {
			if r.SSRC != ssrc[n] {
				t.Fatalf("%s received SSRC %d; its answer announced %d", n, r.SSRC, ssrc[n])
			}
		}
	}

	// B sends while A holds the floor: nobody hears it.
	outBefore := map[string]uint64{}
	for _, n := range []string{"A", "C"} {
		d, _ := mp.Peer(ufrag[n])
		outBefore[n] = d.PacketsOut
	}
	gated := m.PacketsDropped.WithLabelValues("not_floor_holder")
	gatedBefore := media.CounterValue(gated)
	rtc["B"].Send(t, 50, 'X', time.Millisecond)
	eventually(t, 5*time.Second, "B's packets gated", func() bool { return media.CounterValue(gated)-gatedBefore >= 49 })
	for _, n := range []string{"A", "C"} {
		if d, _ := mp.Peer(ufrag[n]); d.PacketsOut != outBefore[n] {
			t.Fatalf("%s was sent %d packets while B talked without the floor", n, d.PacketsOut-outBefore[n])
		}
	}

	// The floor moves to B.
	before := rtc["C"].Received()
	last := before[len(before)-1]
	clients["A"].Send(opFloorRelease, d{"channel_id": "CH_0001"})
	clients["B"].Send(opFloorRequest, d{"channel_id": "CH_0001"})
	clients["B"].Await(opFloorGranted)
	clients["C"].Await(opFloorTaken)
	rtc["B"].Send(t, 100, 'B', time.Millisecond)
	got := rtc["C"].WaitReceived(len(before)+100, 5*time.Second)
	fromB := got[len(before):]
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
	if int32(fromB[0].Timestamp-last.Timestamp) <= 0 {
		t.Fatalf("C's timestamp did not increase at the speaker change")
	}
	if c := peertest.CountTagged(rtc["A"].WaitReceived(99, 5*time.Second), 'B'); c < 99 {
		t.Fatalf("A decrypted %d of B's 100 packets", c)
	}

	// Leaving tears the peers down: the admin list empties.
	for _, n := range names {
		clients[n].Request(opChannelLeave, d{"channel_id": "CH_0001"})
	}
	eventually(t, 5*time.Second, "peers removed", func() bool { return len(mp.Peers()) == 0 })
}
