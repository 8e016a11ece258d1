package cluster

import (
	"bytes"
	"testing"
)

// A trunk frame round-trips, and truncated or oversized frames from the wire are refused,
// never a panic.
func TestTrunkFrame(t *testing.T) {
	rtp := []byte{0x80, 111, 0, 1, 2, 3}
	f := AppendFrame(nil, "node-a", "alice", rtp)
	node, user, got, ok := ParseFrame(f)
	if !ok || string(node) != "node-a" || string(user) != "alice" || !bytes.Equal(got, rtp) {
		t.Fatalf("round trip: %q %q %v %v", node, user, got, ok)
	}
	for i := range len(f) - len(rtp) + 1 {
		if _, _, _, ok := ParseFrame(f[:i]); ok {
			t.Errorf("frame cut to %d bytes accepted", i)
		}
	}
	if _, _, _, ok := ParseFrame(AppendFrame(nil, "n", "u", make([]byte, 1501))); ok {
		t.Error("an RTP packet above the media plane's maximum accepted")
	}
	if _, _, _, ok := ParseFrame([]byte{200, 1}); ok {
		t.Error("a node id longer than the frame accepted")
	}
}
