package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// TestBurstLogCountsPionTalker (docs/history.md): a pion/webrtc talker's burst is one row of
// GET /admin/bursts whose packet count is what the server relayed to the listener, ended by
// the release.
func TestBurstLogCountsPionTalker(t *testing.T) {
	dir := t.TempDir()
	s, mp, _ := startWithMedia(t, func(c *Config) { c.DataDir = dir })
	rtc := map[string]*peertest.Client{}
	ufrag := map[string]string{}
	talker, listener := s.client("A", 100), s.client("B", 100)
	for n, c := range map[string]*wstest.Client{"A": talker, "B": listener} {
		pc := peertest.NewClient(t, n)
		var join struct {
			SDPAnswer string `json:"sdp_answer"`
		}
		if err := c.Request(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": pc.Offer(t)}).Decode(&join); err != nil {
			t.Fatal(err)
		}
		pc.Answer(t, join.SDPAnswer)
		rtc[n] = pc
	}
	for _, n := range []string{"A", "B"} {
		rtc[n].WaitConnected(t, 20*time.Second)
	}
	for _, p := range mp.Peers() {
		ufrag[p.UserID] = p.Ufrag
	}
	for _, n := range []string{"A", "B"} {
		eventually(t, 15*time.Second, n+" SRTP ready", func() bool { d, _ := mp.Peer(ufrag[n]); return d.SRTPReady })
	}

	talker.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	talker.Await(opFloorGranted)
	began := time.Now()
	rtc["A"].Send(t, 100, 'A', 2*time.Millisecond)
	got := rtc["B"].WaitReceived(100, 15*time.Second)
	talker.Send(opFloorRelease, d{"channel_id": "CH_0001"})
	listener.Await(opFloorIdle)
	took := time.Since(began)

	code, body := s.get("/admin/bursts?channel=CH_0001")
	if code != 200 {
		t.Fatalf("GET /admin/bursts: %d %s", code, body)
	}
	var l msg.BurstList
	if err := json.Unmarshal([]byte(body), &l); err != nil || len(l.Bursts) != 1 {
		t.Fatalf("bursts %s (%v), want one", body, err)
	}
	b := l.Bursts[0]
	out, _ := mp.Peer(ufrag["B"])
	if b.UserID != "A" || b.EndReason != "release" || b.Packets != out.PacketsOut || b.Packets < uint64(len(got)) {
		t.Fatalf("burst %+v; the listener was sent %d packets and decrypted %d", b, out.PacketsOut, len(got))
	}
	if b.DurationS == nil || *b.DurationS <= 0 || *b.DurationS > took.Seconds() {
		t.Fatalf("burst duration %v, the test saw %v", b.DurationS, took)
	}
	t.Logf("burst of %d packets over %.3f s logged", b.Packets, *b.DurationS)
}
