package peer

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/media"
)

// TestListenOnlyPeerHearsAndCannotTalk: a pion client with a recvonly transceiver (no track,
// like a browser without a microphone) gets an answer it accepts (a=sendonly with the
// server's SSRC), connects and hears the holder on that SSRC. Admin views list it as
// listen-only, and RTP reaching its peer anyway is dropped and counted as listen_only, never
// passed to the channel.
func TestListenOnlyPeerHearsAndCannotTalk(t *testing.T) {
	h := newHarness(t, Config{})
	talker := peertest.NewClient(t, "T")
	tp, err := h.open(t, "T", talker.Offer(t))
	if err != nil {
		t.Fatal(err)
	}
	talker.Answer(t, tp.Answer)

	listener := peertest.NewClient(t, "L")
	for _, s := range listener.PC.GetSenders() {
		if err := listener.PC.RemoveTrack(s); err != nil { // the transceiver becomes recvonly
			t.Fatal(err)
		}
	}
	offer := listener.Offer(t)
	if !strings.Contains(offer, "a=recvonly") {
		t.Fatalf("the listener's offer is not recvonly:\n%s", offer)
	}
	lp, err := h.open(t, "L", offer)
	if err != nil {
		t.Fatal(err)
	}
	if !lp.NoSend || lp.NoReceive || !strings.Contains(lp.Answer, "a=sendonly") {
		t.Fatalf("peer NoSend %v NoReceive %v; answer:\n%s", lp.NoSend, lp.NoReceive, lp.Answer)
	}
	listener.Answer(t, lp.Answer) // pion refuses an answer whose direction does not fit
	ssrc, serr := peertest.AnswerSSRC(lp.Answer)
	if serr != nil {
		t.Fatal(serr)
	}
	talker.WaitConnected(t, 10*time.Second)
	listener.WaitConnected(t, 10*time.Second)
	for _, u := range []string{tp.Ufrag, lp.Ufrag} {
		actortest.Eventually(t, 15*time.Second, "srtp ready", func() bool { d, _ := h.media.Peer(u); return d.SRTPReady })
	}
	if d, _ := h.media.Peer(lp.Ufrag); !d.ListenOnly || d.Tracks[0].Direction != "recvonly" {
		t.Fatalf("admin view of the listener: %+v", d)
	}
	if d, _ := h.media.Peer(tp.Ufrag); d.ListenOnly || d.Tracks[0].Direction != "sendrecv" {
		t.Fatalf("admin view of the talker: %+v", d)
	}

	h.ask(t, &setHolder{user: "T"})
	talker.Send(t, 100, 'T', time.Millisecond)
	got := listener.WaitReceived(100, 15*time.Second)
	if n := peertest.CountTagged(got, 'T'); n != 100 {
		t.Fatalf("the listener heard %d of 100 packets", n)
	}
	for _, r := range got {
		if r.SSRC != ssrc {
			t.Fatalf("listener got SSRC %d, its answer announced %d", r.SSRC, ssrc)
		}
	}

	// RTP from the listen-only peer (as from a client that ignores its answer): dropped at
	// its peer actor and counted, the channel never sees it.
	h.ask(t, &setHolder{user: "L"})
	drops := h.media.counters.Dropped(media.DropListenOnly)
	before, gated := media.CounterValue(drops), h.gated.Load()
	pool := media.NewInboundDatagramPool()
	for range 3 {
		d := pool.Get()
		d.N = copy(d.Buf[:], []byte{0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 'x'})
		d.Class = media.ClassRTP
		h.system.Root.Send(lp.PID, d)
	}
	actortest.Eventually(t, 5*time.Second, "3 listen_only drops", func() bool { return media.CounterValue(drops)-before == 3 })
	if g := h.gated.Load(); g != gated {
		t.Fatalf("the channel got %d packets from the listen-only peer", g-gated)
	}
	if n := len(talker.Received()); n != 0 {
		t.Fatalf("the talker got %d packets from the listen-only peer", n)
	}
}

// TestOpenPeerSSRCWithoutValueIs2006: the offer that once panicked the SDP parser (an a=ssrc
// line with no value) is refused with 2006 and leaves no peer.
func TestOpenPeerSSRCWithoutValueIs2006(t *testing.T) {
	h := newHarness(t, Config{})
	b, err := os.ReadFile("../../testdata/sdp/bad/ssrc-no-value.sdp")
	if err != nil {
		t.Fatal(err)
	}
	_, perr := h.open(t, "u", string(b))
	if perr == nil || perr.Code != msg.CodeBadOffer || !strings.Contains(perr.Reason, "a=ssrc") {
		t.Fatalf("err = %v, want 2006 naming a=ssrc", perr)
	}
	if n := h.media.byUfrag.Len(); n != 0 {
		t.Fatalf("a refused offer left %d peers", n)
	}
	if p := media.CounterValue(h.media.counters.PeerPanics); p != 0 {
		t.Fatalf("%v peer panics", p)
	}
}
