package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestHistoryTable(t *testing.T) {
	port, _ := fakeServer(t, "")
	out, errs, code := lcadmin(t, "--port", port, "history", "CH_0001")
	want := `
 ID  CHANNEL  TALKER             PRIO   GRANTED                  DURATION  ENDED BY   PACKETS
 2   CH_0001  swift_falcon_4821  100    2026-03-01 11:59:50 UTC  -         (talking)  0
 1   CH_0001  brave_wolf_1234    255 !  2026-03-01 11:59:00 UTC  4.2 s     release    210
`
	if code != 0 || out != want || errs != "" {
		t.Fatalf("history: exit %d\n%s\nstderr %q\nwant\n%s", code, out, errs, want)
	}
}

func TestHistoryJSONAndFilters(t *testing.T) {
	port, _ := fakeServer(t, "")
	out, _, code := lcadmin(t, "--port", port, "--json", "history", "--limit", "1", "--since", "2h", "CH_0001")
	var l struct {
		Bursts []map[string]any `json:"bursts"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l.Bursts) != 1 || l.Bursts[0]["end_reason"] != "" {
		t.Fatalf("history --json --limit 1: exit %d %s", code, out)
	}
	_, errs, code := lcadmin(t, "--port", port, "history", "--since", "yesterday")
	if code == 0 || !strings.Contains(errs, "--since") {
		t.Fatalf("bad --since: exit %d %q", code, errs)
	}
	_, errs, code = lcadmin(t, "--port", port, "history", "--limit", "5000")
	if code == 0 || !strings.Contains(errs, "limit") {
		t.Fatalf("limit 5000: exit %d %q", code, errs)
	}
}
