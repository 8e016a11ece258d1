package server

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/history"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/gateway"
)

// opHistoryList is HISTORY_LIST (docs/protocol.md, "History").
const opHistoryList = 17

// TestMembersReplayRecordings (docs/history.md, "Who may read it"): after a recorded burst a
// member lists the channel's bursts over its own session and fetches the recording through its
// signed URL; a user who is not a member is refused with 3002; a forged URL, a URL moved to
// another burst and an expired URL are refused with an HTTP JSON error.
func TestMembersReplayRecordings(t *testing.T) {
	dir := t.TempDir()
	s, mp, _ := startWithMedia(t, func(c *Config) { c.DataDir, c.RecordChannels = dir, []string{"CH_0001"} })
	ws, rtc := pionPair(t, s, mp)
	ws["A"].Send(opFloorRequest, d{"channel_id": "CH_0001"})
	ws["A"].Await(opFloorGranted)
	const n = 25
	rtc["A"].Send(t, n, 'A', 20*time.Millisecond)
	rtc["B"].WaitReceived(n, 15*time.Second)
	ws["A"].Send(opFloorRelease, d{"channel_id": "CH_0001"})
	ws["B"].Await(opFloorIdle)

	var l gateway.ChannelBurstList
	if err := ws["B"].Request(opHistoryList, d{"channel_id": "CH_0001", "limit": 5}).Decode(&l); err != nil {
		t.Fatal(err)
	}
	if l.ChannelID != "CH_0001" || len(l.Bursts) != 1 {
		t.Fatalf("HISTORY_LIST answered %+v, want the one burst", l)
	}
	b := l.Bursts[0]
	if b.UserID != "A" || b.EndReason != "release" || b.DurationS == nil || !b.HasRecording || b.RecordingURL == "" ||
		b.RecordingExpires == nil || b.Packets != n {
		t.Fatalf("burst as a member sees it: %+v", b)
	}
	if left := time.Until(*b.RecordingExpires); left <= 0 || left > history.DefaultURLLifetime+time.Second {
		t.Errorf("recording URL expires in %v, want within %v", left, history.DefaultURLLifetime)
	}
	code, file := s.get(b.RecordingURL)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", b.RecordingURL, code, file)
	}
	if packets, _ := oggPackets(t, []byte(file)); uint64(packets) != b.Packets {
		t.Errorf("the member's recording has %d packets, the burst relayed %d", packets, b.Packets)
	}

	// Not a member: connected and identified, but never joined CH_0001.
	if c := s.client("C", 100).RequestError(opHistoryList, d{"channel_id": "CH_0001"}); c != int(msg.CodeNotMember) {
		t.Errorf("HISTORY_LIST of a non-member: code %d, want %d", c, msg.CodeNotMember)
	}
	if c := ws["B"].RequestError(opHistoryList, d{"channel_id": "CH_0001", "limit": 0}); c != int(msg.CodeMalformed) {
		t.Errorf("HISTORY_LIST limit 0: code %d, want %d", c, msg.CodeMalformed)
	}
	if c := ws["B"].RequestError(opHistoryList, d{"channel_id": "NOPE"}); c != int(msg.CodeNoSuchChannel) {
		t.Errorf("HISTORY_LIST of an unknown channel: code %d, want %d", c, msg.CodeNoSuchChannel)
	}

	u, err := url.Parse(b.RecordingURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	forged := url.Values{"user": {"C"}, "exp": q["exp"], "sig": q["sig"]} // another user's name
	expired, _ := history.NewURLSigner([]byte(testSecret), time.Minute).Sign(b.ID, "B", time.Now().Add(-2*time.Minute))
	wrongKey, _ := history.NewURLSigner([]byte("another secret"), 0).Sign(b.ID, "B", time.Now())
	for name, path := range map[string]string{
		"no signature":       u.Path,
		"another user":       u.Path + "?" + forged.Encode(),
		"another burst":      "/recordings/2.ogg?" + u.RawQuery,
		"expired":            expired,
		"another server key": wrongKey,
	} {
		code, body := s.get(path)
		var e struct {
			Error string `json:"error"`
			Code  int    `json:"code"`
		}
		if err := json.Unmarshal([]byte(body), &e); code != 403 || err != nil || e.Code != int(msg.CodeInvalidToken) || e.Error == "" {
			t.Errorf("%s: GET %s answered %d %s, want 403 with code %d", name, path, code, body, msg.CodeInvalidToken)
		}
		if name == "expired" && !strings.Contains(e.Error, "expired") {
			t.Errorf("expired URL refused as %q, want it to say expired", e.Error)
		}
	}

	unknown, _ := history.NewURLSigner([]byte(testSecret), 0).Sign(99, "B", time.Now())
	for path, want := range map[string][2]int{
		"/recordings/abc.ogg?" + u.RawQuery: {400, int(msg.CodeMalformed)},
		unknown:                             {404, int(msg.CodeNoSuchRecording)},
	} {
		code, body := s.get(path)
		var e struct {
			Code int `json:"code"`
		}
		if err := json.Unmarshal([]byte(body), &e); code != want[0] || err != nil || e.Code != want[1] {
			t.Errorf("GET %s answered %d %s, want %d with code %d", path, code, body, want[0], want[1])
		}
	}

	// A member who leaves may list no more.
	ws["B"].Request(opChannelLeave, d{"channel_id": "CH_0001"})
	if c := ws["B"].RequestError(opHistoryList, d{"channel_id": "CH_0001"}); c != int(msg.CodeNotMember) {
		t.Errorf("HISTORY_LIST after leaving: code %d, want %d", c, msg.CodeNotMember)
	}
}

// TestHistoryListWithoutDataDir: a server that keeps no history answers a member's
// HISTORY_LIST with 2102 (docs/protocol.md, "History").
func TestHistoryListWithoutDataDir(t *testing.T) {
	s := start(t, nil)
	c := s.client("A", 100)
	c.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	if code := c.RequestError(opHistoryList, d{"channel_id": "CH_0001"}); code != int(msg.CodeNoHistory) {
		t.Errorf("HISTORY_LIST without a data directory: code %d, want %d", code, msg.CodeNoHistory)
	}
}
