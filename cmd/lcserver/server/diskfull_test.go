package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/media"
)

// TestRecordingDiskFullMidBurst (docs/history.md, "Disk full"): the recordings directory is a
// 16 KiB tmpfs the test mounts, so the disk fills in the middle of a burst. The recording stops
// there and the failure is counted, the listener still gets every packet, the file plays up to
// its last whole page, and once there is room again the next burst is recorded.
func TestRecordingDiskFullMidBurst(t *testing.T) {
	dir := t.TempDir()
	recs := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(recs, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16k,mode=0750", "tmpfs", recs).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
	}
	// Registered before the server starts, so it runs after the server has stopped.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", recs).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", recs, err, out)
		}
	})
	s, mp, m := startWithMedia(t, func(c *Config) { c.DataDir, c.RecordChannels = dir, []string{"CH_0001"} })
	ws, rtc := pionPair(t, s, mp)

	burst := func(n int) {
		t.Helper()
		before := len(rtc["B"].Received())
		ws["A"].Send(opFloorRequest, d{"channel_id": "CH_0001"})
		ws["A"].Await(opFloorGranted)
		rtc["A"].Send(t, n, 'A', time.Millisecond)
		got := rtc["B"].WaitReceived(before+n, 15*time.Second)
		if c := peertest.CountTagged(got[before:], 'A'); c != n {
			t.Fatalf("the listener got %d of %d packets", c, n)
		}
		ws["A"].Send(opFloorRelease, d{"channel_id": "CH_0001"})
		ws["B"].Await(opFloorIdle)
	}
	const n = 200 // about 38 KB of Ogg pages: more than the file system holds
	burst(n)
	// The history actor records the packets in its mailbox's order and answers GET
	// /admin/bursts from the same mailbox: once the list says the burst ended, every packet
	// the channel sent it before the end has been written (or refused).
	var l admin.BurstList
	code, body := s.get("/admin/bursts?channel=CH_0001")
	recorded := media.CounterValue(m.RecordingPackets)
	if recorded < 1 || recorded >= n {
		t.Fatalf("%v of %d packets recorded; want the recording to stop part way", recorded, n)
	}
	if got := media.CounterValue(m.HistoryErrors.WithLabelValues("recording")); got != 1 {
		t.Errorf("history_errors_total{kind=recording} = %v, want the one failure", got)
	}
	if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil || len(l.Bursts) != 1 ||
		l.Bursts[0].Packets != n || l.Bursts[0].EndReason != "release" || l.Bursts[0].Recording == "" {
		t.Fatalf("burst log after the disk filled: %d %s", code, body)
	}
	code, file := s.get(l.Bursts[0].Recording)
	if code != 200 {
		t.Fatalf("GET %s: %d", l.Bursts[0].Recording, code)
	}
	if pages := wholeOggPages(t, []byte(file)); float64(pages) != recorded {
		t.Errorf("the cut recording has %d whole audio pages, %v packets were written", pages, recorded)
	}
	t.Logf("the disk filled after %v of %d packets (file %d bytes)", recorded, n, len(file))

	// Room again: the next burst is recorded in full.
	if err := os.Remove(filepath.Join(recs, "1.ogg")); err != nil {
		t.Fatal(err)
	}
	// The space comes back when the last open descriptor goes: the server's handler that
	// served the file above may close it a moment after the client read the body.
	actortest.Eventually(t, 5*time.Second, "the removed recording's space is free", func() bool {
		var st syscall.Statfs_t
		return syscall.Statfs(recs, &st) == nil && st.Bavail*uint64(st.Bsize) >= 8<<10
	})
	burst(20)
	if code, body := s.get("/admin/bursts?channel=CH_0001"); code != 200 { // after the history actor's writes, as above
		t.Fatalf("burst log: %d %s", code, body)
	}
	if got := media.CounterValue(m.RecordingPackets) - recorded; got != 20 {
		t.Errorf("after room was made the next burst recorded %v of 20 packets", got)
	}
}

// wholeOggPages counts the audio pages of an Ogg Opus file up to its last whole page, as a
// player reads a file cut short (checksums checked).
func wholeOggPages(t *testing.T, b []byte) int {
	t.Helper()
	r, _, err := oggreader.NewWith(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an Ogg Opus file: %v", err)
	}
	pages := 0
	for {
		payload, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return pages
		}
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if !bytes.HasPrefix(payload, []byte("OpusTags")) && len(payload) > 0 {
			pages++
		}
	}
}
