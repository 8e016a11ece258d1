package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media"
)

// TestBurstLogCountsPionTalker (docs/history.md): a pion/webrtc talker's burst is one row of
// GET /admin/bursts whose packet count is what the server relayed to the listener, ended by
// the release.
func TestBurstLogCountsPionTalker(t *testing.T) {
	dir := t.TempDir()
	s, mp, _ := startWithMedia(t, func(c *Config) { c.DataDir = dir })
	ws, rtc := pionPair(t, s, mp)
	talker, listener := ws["A"], ws["B"]
	ufrag := map[string]string{}
	for _, p := range mp.Peers() {
		ufrag[p.UserID] = p.Ufrag
	}

	began := time.Now() // the grant is after now, the end before the FLOOR_IDLE
	talker.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	talker.Await(opFloorGranted)
	rtc["A"].Send(t, 100, 'A', 2*time.Millisecond)
	got := rtc["B"].WaitReceived(100, 15*time.Second)
	talker.Send(opFloorRelease, d{"channel_id": "CH_0001"})
	listener.Await(opFloorIdle)
	took := time.Since(began)

	code, body := s.get("/admin/bursts?channel=CH_0001")
	if code != 200 {
		t.Fatalf("GET /admin/bursts: %d %s", code, body)
	}
	var l admin.BurstList
	if err := json.Unmarshal([]byte(body), &l); err != nil || len(l.Bursts) != 1 {
		t.Fatalf("bursts %s (%v), want one", body, err)
	}
	b := l.Bursts[0]
	out, _ := mp.Peer(ufrag["B"])
	if b.UserID != "A" || b.EndReason != "release" || b.Packets != out.PacketsOut || b.Packets < uint64(len(got)) {
		t.Fatalf("burst %+v; the listener was sent %d packets and decrypted %d", b, out.PacketsOut, len(got))
	}
	if b.DurationS == nil {
		t.Fatalf("burst %+v has no duration", b)
	}
	if *b.DurationS <= 0 || *b.DurationS > took.Seconds() {
		t.Fatalf("burst duration %v s, the test saw %v", *b.DurationS, took)
	}
	t.Logf("burst of %d packets over %.3f s logged", b.Packets, *b.DurationS)
}

// oggPackets parses an Ogg Opus file page by page (checksums checked): the audio packets
// (one per page, as the server writes them) and the last granule position.
func oggPackets(t *testing.T, b []byte) (packets int, granule uint64) {
	t.Helper()
	r, head, err := oggreader.NewWith(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an Ogg Opus file: %v", err)
	}
	if head.SampleRate != 48000 {
		t.Errorf("OpusHead sample rate %d", head.SampleRate)
	}
	for {
		payload, h, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return packets, granule
		}
		if err != nil {
			t.Fatalf("page %d: %v", packets, err)
		}
		if bytes.HasPrefix(payload, []byte("OpusTags")) || len(payload) == 0 {
			continue
		}
		packets++
		granule = h.GranulePosition
	}
}

// TestRecordingOfAPionTalker (docs/history.md): on a recording channel a pion/webrtc talker's
// burst becomes an Ogg Opus file, linked from its row, whose packet count is the relayed count
// and whose duration is the burst's within 100 ms; a channel not listed records nothing.
func TestRecordingOfAPionTalker(t *testing.T) {
	dir := t.TempDir()
	s, mp, m := startWithMedia(t, func(c *Config) { c.DataDir, c.RecordChannels = dir, []string{"CH_0001"} })
	talker, listener := s.client("A", 100), s.client("B", 100)
	rtc := map[string]*peertest.Client{}
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
	ufrag := map[string]string{}
	for _, n := range []string{"A", "B"} {
		rtc[n].WaitConnected(t, 20*time.Second)
	}
	for _, p := range mp.Peers() {
		ufrag[p.UserID] = p.Ufrag
	}
	for _, n := range []string{"A", "B"} {
		actortest.Eventually(t, 15*time.Second, n+" SRTP ready", func() bool { d, _ := mp.Peer(ufrag[n]); return d.SRTPReady })
	}
	talker.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	talker.Await(opFloorGranted)
	const n = 40 // 0.8 s of 20 ms packets, sent in real time
	rtc["A"].Send(t, n, 'A', 20*time.Millisecond)
	rtc["B"].WaitReceived(n, 15*time.Second)
	talker.Send(opFloorRelease, d{"channel_id": "CH_0001"})
	listener.Await(opFloorIdle)

	code, body := s.get("/admin/bursts?channel=CH_0001")
	var l admin.BurstList
	if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil || len(l.Bursts) != 1 {
		t.Fatalf("bursts %d %s", code, body)
	}
	b := l.Bursts[0]
	if b.Recording != "/admin/recordings/1.ogg" {
		t.Fatalf("burst %+v has no recording link", b)
	}
	code, file := s.get(b.Recording)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", b.Recording, code, file)
	}
	packets, granule := oggPackets(t, []byte(file))
	if uint64(packets) != b.Packets {
		t.Fatalf("recording has %d packets, the burst relayed %d", packets, b.Packets)
	}
	audio := time.Duration(granule) * time.Second / 48000
	burst := time.Duration(*b.DurationS * float64(time.Second))
	if diff := (burst - audio).Abs(); diff > 100*time.Millisecond {
		t.Errorf("recording lasts %v, the burst %v", audio, burst)
	}
	if got := media.CounterValue(m.RecordingPackets); got != float64(packets) {
		t.Errorf("recording_packets_total %v, want %d", got, packets)
	}
	t.Logf("recording of %d packets, %v of audio for a %v burst", packets, audio, burst)
	if code, _ := s.get("/admin/recordings/99.ogg"); code != 404 {
		t.Errorf("unknown recording: %d, want 404", code)
	}
}

// pionPair joins pion/webrtc clients A (talker) and B (listener) to CH_0001 and waits until both
// are SRTP-ready.
func pionPair(t *testing.T, s *testServer, mp *peer.Media) (ws map[string]*wstest.Client, rtc map[string]*peertest.Client) {
	t.Helper()
	ws = map[string]*wstest.Client{"A": s.client("A", 100), "B": s.client("B", 100)}
	rtc = map[string]*peertest.Client{}
	for n, c := range ws {
		rtc[n], _ = joinPion(t, c, n, 111)
	}
	for _, n := range []string{"A", "B"} {
		rtc[n].WaitConnected(t, 20*time.Second)
	}
	ufrag := map[string]string{}
	for _, p := range mp.Peers() {
		ufrag[p.UserID] = p.Ufrag
	}
	for _, n := range []string{"A", "B"} {
		actortest.Eventually(t, 15*time.Second, n+" SRTP ready", func() bool { d, _ := mp.Peer(ufrag[n]); return d.SRTPReady })
	}
	return ws, rtc
}

// TestRecordingDiskFull (docs/history.md): when the recording cannot be written (here the file
// is /dev/full, as on a full disk) the failure is counted and the call loses no packet.
func TestRecordingDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "recordings"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(dir, "recordings", "1.ogg")); err != nil {
		t.Fatal(err)
	}
	s, mp, m := startWithMedia(t, func(c *Config) { c.DataDir, c.RecordChannels = dir, []string{"CH_0001"} })
	ws, rtc := pionPair(t, s, mp)
	ws["A"].Send(opFloorRequest, d{"channel_id": "CH_0001"})
	ws["A"].Await(opFloorGranted)
	const n = 100
	rtc["A"].Send(t, n, 'A', time.Millisecond)
	if got := rtc["B"].WaitReceived(n, 15*time.Second); peertest.CountTagged(got, 'A') != n {
		t.Fatalf("the listener got %d of %d packets while recording failed", peertest.CountTagged(got, 'A'), n)
	}
	ws["A"].Send(opFloorRelease, d{"channel_id": "CH_0001"})
	ws["B"].Await(opFloorIdle)
	if got := media.CounterValue(m.HistoryErrors.WithLabelValues("recording")); got < 1 {
		t.Errorf("history_errors_total{kind=recording} = %v, want the failure counted", got)
	}
	if got := media.CounterValue(m.RecordingPackets); got != 0 {
		t.Errorf("%v packets recorded to a full disk", got)
	}
	code, body := s.get("/admin/bursts?channel=CH_0001")
	var l admin.BurstList
	if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil || len(l.Bursts) != 1 || l.Bursts[0].Recording != "" || l.Bursts[0].EndReason != "release" {
		t.Fatalf("burst after a failed recording: %d %s", code, body)
	}
	// The operator sees it in /admin/status.
	code, body = s.get("/admin/status")
	var st struct {
		Recording *struct {
			Channels []string `json:"channels"`
			Errors   uint64   `json:"errors"`
		} `json:"recording"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || st.Recording == nil || st.Recording.Errors < 1 || len(st.Recording.Channels) != 1 {
		t.Fatalf("/admin/status after a failed recording: %d %s", code, body)
	}
}
