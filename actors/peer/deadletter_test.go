package peer

import (
	"net/netip"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/media"
)

// TestDatagramToStoppedPeerGoesBackToThePool: the reader's snapshot may still name a peer
// that has just stopped; what it sends there comes back to the pool and is counted as
// dead_letter instead of being logged with its bytes.
func TestDatagramToStoppedPeerGoesBackToThePool(t *testing.T) {
	h := newHarness(t, Config{})
	p, err := h.open(t, "u", readOffer(t))
	if err != nil {
		t.Fatal(err)
	}
	h.ask(t, &stopPeer{user: "u"})
	select {
	case <-h.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("peer did not stop")
	}
	d := h.media.sock.Worker(0).NewDatagram()
	d.N, d.From, d.Class = copy(d.Buf[:], "\x80secret-bytes"), netip.MustParseAddrPort("127.0.0.1:1"), media.ClassRTP
	h.system.Root.Send(p.PID, d)
	if d.N != 0 { // Release clears it; the dead-letter handler runs inside Send
		t.Fatal("datagram sent to a stopped peer was not released")
	}
	if n := media.CounterValue(h.media.counters.Dropped(media.DropDeadLetter)); n != 1 {
		t.Fatalf("dead_letter drops %v, want 1", n)
	}
}
