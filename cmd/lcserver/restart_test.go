package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

const restartSecret = "restart-secret"

// waitSRTPReady polls GET /admin/peers until n peers are SRTP-ready.
func (p *proc) waitSRTPReady(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get("http://" + p.addr + "/admin/peers")
		if err != nil {
			t.Fatal(err)
		}
		var l struct {
			Peers []admin.PeerInfo `json:"peers"`
		}
		err = json.NewDecoder(res.Body).Decode(&l)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, pi := range l.Peers {
			if pi.SRTPReady {
				ready++
			}
		}
		if ready >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d peers SRTP-ready", ready, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) bursts(t *testing.T, channel string) []admin.Burst {
	t.Helper()
	res, err := http.Get("http://" + p.addr + "/admin/bursts?channel=" + channel)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var l admin.BurstList
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/bursts: %s", res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return l.Bursts
}

// TestHistorySurvivesRestart (docs/history.md): a user's channel (renamed after creation), a
// finished burst, a burst still on the air and a chat message are there after the real binary
// is stopped and started again on the same data directory — with SIGTERM the open burst ends
// "shutdown", after SIGKILL it is marked "interrupted" at the next start — and the open burst's
// recording decodes page by page with as many Opus packets as the listener heard.
func TestHistorySurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for _, tc := range []struct {
		sig      syscall.Signal
		openEnds string
	}{
		{syscall.SIGTERM, msg.RevokeShutdown},
		{syscall.SIGKILL, msg.BurstInterrupted},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			p := startServer(t, bin, restartSecret, dir, "--record-channels", "HIST_1")
			alice, bob := p.client(t, "alice"), p.client(t, "bob")
			alice.Request(10, map[string]any{"channel_id": "HIST_1", "freq": "77", "channel_name": "first"})
			alice.Request(13, map[string]any{"channel_id": "HIST_1", "channel_name": "dispatch"})
			// Both join with media: bob's burst at the stop is recorded, alice hears it.
			rtc := map[string]*peertest.Client{}
			for name, c := range map[string]*wstest.Client{"alice": alice, "bob": bob} {
				pc := peertest.NewClient(t, name)
				var join struct {
					SDPAnswer string `json:"sdp_answer"`
				}
				if err := c.Request(11, map[string]any{"channel_id": "HIST_1", "sdp_offer": pc.Offer(t)}).Decode(&join); err != nil {
					t.Fatal(err)
				}
				pc.Answer(t, join.SDPAnswer)
				rtc[name] = pc
			}
			for _, pc := range rtc {
				pc.WaitConnected(t, 20*time.Second)
			}
			alice.Send(30, map[string]any{"channel_id": "HIST_1"})
			alice.Await(110)
			alice.Send(31, map[string]any{"channel_id": "HIST_1"})
			bob.Await(113)
			alice.Request(20, map[string]any{"channel_id": "HIST_1", "content": "unit 4 on scene"})
			bob.Send(30, map[string]any{"channel_id": "HIST_1"})
			bob.Await(110)
			p.waitSRTPReady(t, 2)
			const spoken = 30
			rtc["bob"].Send(t, spoken, 'B', 2*time.Millisecond)
			heard := peertest.CountTagged(rtc["alice"].WaitReceived(spoken, 10*time.Second), 'B')
			if heard < spoken {
				t.Fatalf("alice heard %d of bob's packets", heard)
			}
			// The history actor has written all of it once it answers (mailbox order).
			if n := len(p.bursts(t, "HIST_1")); n != 2 {
				t.Fatalf("%d bursts before the stop, want 2", n)
			}

			if err := p.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.exited:
			case <-time.After(2 * server.ShutdownTimeout):
				t.Fatalf("lcserver still running after %v", tc.sig)
			}
			if tc.sig == syscall.SIGTERM && p.err != nil {
				t.Fatalf("exit after SIGTERM: %v", p.err)
			}

			p2 := startServer(t, bin, restartSecret, dir, "--record-channels", "HIST_1")
			bs := p2.bursts(t, "HIST_1")
			if len(bs) != 2 {
				t.Fatalf("after restart: %d bursts, want 2: %+v", len(bs), bs)
			}
			if b := bs[0]; b.UserID != "bob" || b.EndReason != tc.openEnds {
				t.Errorf("the burst on the air: %s ended %q, want bob ended %q", b.UserID, b.EndReason, tc.openEnds)
			}
			if b := bs[1]; b.UserID != "alice" || b.EndReason != "release" || b.EndedAt == nil || b.DurationS == nil {
				t.Errorf("the finished burst: %+v, want alice ended by release with an end time", b)
			}

			// The recording of the burst on the air decodes and holds what the listener heard.
			if bs[0].Recording == "" {
				t.Fatalf("the burst on the air has no recording: %+v", bs[0])
			}
			res, err := http.Get("http://" + p2.addr + bs[0].Recording)
			if err != nil {
				t.Fatal(err)
			}
			file, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s %v", bs[0].Recording, res.Status, err)
			}
			if n := oggAudioPackets(t, file); n != heard {
				t.Errorf("recording after %v has %d packets, alice heard %d", tc.sig, n, heard)
			}
			if tc.sig == syscall.SIGTERM && bs[0].Packets != uint64(heard) {
				t.Errorf("burst row counts %d packets, alice heard %d", bs[0].Packets, heard)
			}

			carol := p2.client(t, "carol")
			var ack struct {
				Messages []gateway.MessageEvent `json:"messages"`
			}
			if err := carol.Request(11, map[string]any{"channel_id": "HIST_1"}).Decode(&ack); err != nil {
				t.Fatal(err)
			}
			if len(ack.Messages) != 1 || ack.Messages[0].Content != "unit 4 on scene" || ack.Messages[0].UserID != "alice" {
				t.Fatalf("JOIN ACK messages after restart: %+v", ack.Messages)
			}
			var info gateway.ChannelDetail
			if err := carol.Request(16, map[string]any{"channel_id": "HIST_1"}).Decode(&info); err != nil {
				t.Fatal(err)
			}
			if info.ChannelName != "dispatch" || info.Creator != "alice" {
				t.Errorf("channel after restart: name %q creator %q, want dispatch by alice", info.ChannelName, info.Creator)
			}
			// Chat ids go on after the stored ones.
			var mack gateway.MessageAck
			if err := carol.Request(20, map[string]any{"channel_id": "HIST_1", "content": "copy"}).Decode(&mack); err != nil {
				t.Fatal(err)
			}
			if mack.MessageID == ack.Messages[0].MessageID {
				t.Errorf("message id %s reused after restart", mack.MessageID)
			}
		})
	}
}

// oggAudioPackets parses an Ogg Opus file page by page (checksums checked) and counts the audio
// pages (one packet each, as lcserver writes them).
func oggAudioPackets(t *testing.T, b []byte) int {
	t.Helper()
	r, _, err := oggreader.NewWith(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an Ogg Opus file: %v", err)
	}
	n := 0
	for {
		payload, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("page after %d packets: %v", n, err)
		}
		if len(payload) > 0 && !bytes.HasPrefix(payload, []byte("OpusTags")) {
			n++
		}
	}
}
