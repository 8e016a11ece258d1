package load

import (
	"strings"
	"testing"
)

// judge names every count that did not come back, so a leak fails the soak instead of
// passing: more sessions, peers or goroutines than at baseline, or a look-up entry left.
func TestJudgeNamesWhatDidNotComeBack(t *testing.T) {
	base := SoakSample{Sessions: 0, Users: 0, Channels: 3, Members: 0, Peers: 0, PeerEntries: 0, Goroutines: 12, FDs: 12}
	if p := judge(base, base); len(p) != 0 {
		t.Fatalf("identical samples judged %v", p)
	}
	fewer := base
	fewer.Goroutines, fewer.FDs = 10, 11 // a one-time goroutine ended: not a leak
	if p := judge(base, fewer); len(p) != 0 {
		t.Fatalf("fewer goroutines judged %v", p)
	}
	leak := base
	leak.Sessions, leak.Peers, leak.PeerEntries, leak.Goroutines, leak.Channels = 1, 1, 1, 15, 4
	got := strings.Join(judge(base, leak), "; ")
	for _, want := range []string{"sessions 1, baseline 0", "peers 1, baseline 0", "peer entries 1, baseline 0",
		"goroutines 15, baseline 12", "channels 4, baseline 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("judge said %q, want it to name %q", got, want)
		}
	}
}
