package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/admin/admintest"
	"github.com/minilivechat/minilivechat/gateway/token"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeServer serves the HTTP API over the fake backend on a loopback port and returns that
// port.
func fakeServer(t *testing.T, adminToken string) (port string, f *admintest.Fake) {
	t.Helper()
	f = admintest.New(testNow)
	e := echo.New()
	admin.Mount(e, admin.Options{Backend: f, AdminToken: adminToken, RequestTimeout: 100 * time.Millisecond})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port(), f
}

// lcadmin runs one command line in-process.
func lcadmin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"lcadmin"}, args...), &out, &errb, func() time.Time { return testNow })
	return out.String(), errb.String(), code
}

func TestStatus(t *testing.T) {
	port, _ := fakeServer(t, "")
	out, errs, code := lcadmin(t, "--port", port, "status")
	want := `
  mini-livechat Server Status
  ────────────────────────────────────
  Uptime:          0h 12m 34s
  Users:           3
  Channels:        3
  Peers:           2
  Floor Active:    1
  Version:         v-test
`
	if code != 0 || out != want || errs != "" {
		t.Fatalf("status: exit %d\n%s\nstderr %q\nwant\n%s", code, out, errs, want)
	}
}

func TestChannelsTableAlignsWideNames(t *testing.T) {
	port, _ := fakeServer(t, "")
	out, errs, code := lcadmin(t, "--port", port, "channels")
	want := `
 CHANNEL ID  FREQ  NAME              MEMBERS  CAP  FLOOR    HOLDER             Q
 CH_0001     0001  📢 영업/시연      2        20   ● TAKEN  swift_falcon_4821  1
 CH_0002     0002  🤝 스스 파트너스  1        20   ○ idle   -                  0
 CH_0003     0003  🏠 동천 패밀리    0        20   ○ idle   -                  0
`
	if code != 0 || out != want || errs != "" {
		t.Fatalf("channels: exit %d\n%s\nstderr %q\nwant\n%s", code, out, errs, want)
	}
	// Independently of the golden text: every column starts at the same terminal cell in
	// every line, counting emoji and Hangul as two cells.
	lines := strings.Split(strings.Trim(out, "\n"), "\n")
	for _, col := range []string{"MEMBERS", "FLOOR", "HOLDER", "Q"} {
		at := displayWidth(lines[0][:strings.Index(lines[0], " "+col)+1])
		for _, l := range lines[1:] {
			cells := 0
			for i := range l {
				if cells == at {
					if l[i] == ' ' || (i > 0 && l[i-1] != ' ') {
						t.Errorf("column %s does not start at cell %d in %q", col, at, l)
					}
					break
				}
				cells = displayWidth(l[:i+1])
				if cells > at {
					t.Errorf("column %s: cell %d falls inside a wide character in %q", col, at, l)
					break
				}
			}
		}
	}
}

func TestChannelDetail(t *testing.T) {
	port, _ := fakeServer(t, "")
	out, _, code := lcadmin(t, "--port", port, "channels", "CH_0001")
	want := `
  Channel: CH_0001 [0001] 📢 영업/시연
  ────────────────────────────────────────────────
  Capacity:          2/20
  Created:           2026-02-27 09:30:00 UTC
  Floor:             ● TAKEN (holder: swift_falcon_4821, 8s elapsed, priority: 100)

  Members
    · swift_falcon_4821
    · brave_wolf_1234

  Queue
    1. brave_wolf_1234 (priority 100)

  Peers
   UFRAG             USER ID            CHANNEL  IDLE(s)  SRTP
   abcd1234efgh5678  swift_falcon_4821  CH_0001  0        true
   wxyz9876mnop5432  brave_wolf_1234    CH_0001  1        true
`
	if code != 0 || out != want {
		t.Fatalf("channel detail: exit %d\n%s\nwant\n%s", code, out, want)
	}
}

func TestUsersAndPeers(t *testing.T) {
	port, _ := fakeServer(t, "")
	for _, c := range []struct {
		args []string
		want []string // lines (trimmed of the table indent) that must appear
	}{
		{[]string{"users"}, []string{
			"USER ID            PRIORITY  LAST HEARTBEAT  CONNECTED",
			"swift_falcon_4821  100       2s ago          0h 5m 0s",
			"calm_otter_77      200       0s ago          0h 1m 30s",
		}},
		{[]string{"users", "swift_falcon_4821"}, []string{
			"User: swift_falcon_4821",
			"Connected:         2026-03-01 11:55:00 UTC (0h 5m 0s ago)",
			"Last heartbeat:    2s ago",
			"· CH_0001",
		}},
		{[]string{"peers"}, []string{
			"UFRAG             USER ID            CHANNEL  ADDRESS             IDLE(s)  SRTP  PKTS IN  PKTS OUT",
			"wxyz9876mnop5432  brave_wolf_1234    CH_0001  192.168.1.42:61002  1        true  12       1498",
		}},
		{[]string{"peers", "abcd1234efgh5678"}, []string{
			"Peer: abcd1234efgh5678",
			"Packets in/out:    1520 / 31",
			"Receiver report:   0.0% lost (0 packets), jitter 1.5 ms",
			"audio  0    111  305441741  1592590337",
		}},
	} {
		out, errs, code := lcadmin(t, append([]string{"--port", port}, c.args...)...)
		if code != 0 || errs != "" {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, errs)
			continue
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for _, w := range c.want {
			if !lines[w] {
				t.Errorf("%v: no line %q in\n%s", c.args, w, out)
			}
		}
	}
}

func TestFloorRevoke(t *testing.T) {
	port, _ := fakeServer(t, "")
	out, _, code := lcadmin(t, "--port", port, "floor-revoke", "CH_0001")
	if code != 0 || out != "\n  Floor Revoke OK channel=CH_0001 revoked_from=swift_falcon_4821\n" {
		t.Fatalf("floor-revoke: exit %d %q", code, out)
	}
	out, _, _ = lcadmin(t, "--port", port, "channels")
	if !strings.Contains(out, " CH_0001     0001  📢 영업/시연      2        20   ○ idle  -       0\n") {
		t.Errorf("after revoke the channel is not idle with an empty queue:\n%s", out)
	}
	out, _, code = lcadmin(t, "--port", port, "floor-revoke", "CH_0001")
	if code != 0 || !strings.Contains(out, "revoked_from=-") {
		t.Errorf("revoke of an idle floor: exit %d %q", code, out)
	}
}

// get fetches path from the fake server directly, for comparing --json output.
func get(t *testing.T, port, path string) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + port + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJSONPrintsServerAnswer(t *testing.T) {
	port, _ := fakeServer(t, "")
	for _, c := range []struct {
		args []string
		path string
	}{
		{[]string{"status"}, "/admin/status"},
		{[]string{"users"}, "/admin/users"},
		{[]string{"users", "brave_wolf_1234"}, "/admin/users/brave_wolf_1234"},
		{[]string{"channels"}, "/admin/channels"},
		{[]string{"channels", "CH_0002"}, "/admin/channels/CH_0002"},
		{[]string{"peers"}, "/admin/peers"},
		{[]string{"peers", "wxyz9876mnop5432"}, "/admin/peers/wxyz9876mnop5432"},
	} {
		out, errs, code := lcadmin(t, append([]string{"--port", port, "--json"}, c.args...)...)
		if want := get(t, port, c.path); code != 0 || out != want || errs != "" {
			t.Errorf("--json %v: exit %d stderr %q\n got %s\nwant %s", c.args, code, errs, out, want)
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("--json %v: not JSON: %s", c.args, out)
		}
	}
	out, _, code := lcadmin(t, "--port", port, "--json", "floor-revoke", "CH_0001")
	if code != 0 || out != `{"channel_id":"CH_0001","revoked_from":"swift_falcon_4821"}`+"\n" {
		t.Errorf("--json floor-revoke: exit %d %q", code, out)
	}
}

func TestErrorsGoToStderrWithNonZeroExit(t *testing.T) {
	port, _ := fakeServer(t, "")
	tokPort, _ := fakeServer(t, "right-token")

	// A port nothing listens on: bind one, note it, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")
	l.Close()

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"server down", []string{"--port", deadPort, "status"}, "cannot reach server at http://127.0.0.1:" + deadPort},
		{"no token", []string{"--port", tokPort, "status"}, "HTTP 401"},
		{"bad token", []string{"--port", tokPort, "--token", "wrong", "users"}, "pass --token or set LIVECHAT_ADMIN_TOKEN"},
		{"unknown channel", []string{"--port", port, "channels", "CH_9999"}, "no such channel: CH_9999 (HTTP 404, code 2000)"},
		{"unknown user", []string{"--port", port, "users", "ghost"}, "no such user: ghost (HTTP 404, code 2100)"},
		{"unknown peer", []string{"--port", port, "peers", "nopenopenopenope"}, "HTTP 404, code 2101"},
		{"unknown revoke", []string{"--port", port, "floor-revoke", "CH_9999"}, "HTTP 404"},
		{"bad id", []string{"--port", port, "channels", "bad.id"}, "HTTP 400"},
		{"unknown json", []string{"--port", port, "--json", "channels", "CH_9999"}, "HTTP 404"},
		{"revoke without channel", []string{"--port", port, "floor-revoke"}, "exactly one channel id"},
		{"unknown command", []string{"--port", port, "frobnicate"}, `unknown command "frobnicate"`},
	} {
		out, errs, code := lcadmin(t, c.args...)
		if code == 0 {
			t.Errorf("%s: exit 0", c.name)
		}
		if out != "" {
			t.Errorf("%s: stdout %q, want nothing", c.name, out)
		}
		if !strings.HasPrefix(errs, "lcadmin: ") || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: stderr %q, want one line containing %q", c.name, errs, c.want)
		}
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	port, f := fakeServer(t, "")
	f.SetBlocking(true)
	_, errs, code := lcadmin(t, "--port", port, "status")
	if code == 0 || !strings.Contains(errs, "HTTP 503") {
		t.Errorf("stuck backend: exit %d, stderr %q", code, errs)
	}
}

func TestTokenFromFlagAndEnvironment(t *testing.T) {
	port, _ := fakeServer(t, "right-token")
	if _, errs, code := lcadmin(t, "--port", port, "--token", "right-token", "status"); code != 0 {
		t.Errorf("--token: exit %d %s", code, errs)
	}
	t.Setenv("LIVECHAT_ADMIN_TOKEN", "right-token")
	if _, errs, code := lcadmin(t, "--port", port, "status"); code != 0 {
		t.Errorf("LIVECHAT_ADMIN_TOKEN: exit %d %s", code, errs)
	}
}

func TestMintToken(t *testing.T) {
	out, errs, code := lcadmin(t, "token", "--user", "swift_falcon_4821", "--max-priority", "255", "--ttl", "1h",
		"--secret", "s3cret")
	if code != 0 || errs != "" {
		t.Fatalf("token: exit %d stderr %q", code, errs)
	}
	c, err := token.Verify([]byte("s3cret"), strings.TrimSpace(out), testNow.Add(59*time.Minute))
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if c.UserID != "swift_falcon_4821" || c.MaxPriority != 255 || !c.ExpiresAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("claims = %+v", c)
	}
	if _, err := token.Verify([]byte("s3cret"), strings.TrimSpace(out), testNow.Add(61*time.Minute)); err == nil {
		t.Errorf("token still valid after its ttl")
	}

	// Without a secret: the default key, and a warning on stderr only.
	out, errs, code = lcadmin(t, "token", "--user", "bob")
	if code != 0 || !strings.Contains(errs, "warning: LIVECHAT_SECRET is not set") {
		t.Fatalf("default secret: exit %d stderr %q", code, errs)
	}
	if c, err := token.Verify([]byte(token.DefaultSecret), strings.TrimSpace(out), testNow); err != nil || c.MaxPriority != 100 {
		t.Errorf("default-secret token: %+v %v", c, err)
	}

	t.Setenv("LIVECHAT_SECRET", "from-env")
	out, errs, _ = lcadmin(t, "--json", "token", "--user", "bob", "--ttl", "30m")
	var j struct {
		Token     string    `json:"token"`
		UserID    string    `json:"user_id"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || errs != "" {
		t.Fatalf("--json token: %q %v stderr %q", out, err, errs)
	}
	if _, err := token.Verify([]byte("from-env"), j.Token, testNow); err != nil || j.UserID != "bob" ||
		!j.ExpiresAt.Equal(testNow.Add(30*time.Minute)) {
		t.Errorf("--json token %+v: %v", j, err)
	}

	for _, bad := range [][]string{
		{"token"},
		{"token", "--user", "no spaces"},
		{"token", "--user", "bob", "--max-priority", "256"},
		{"token", "--user", "bob", "--ttl", "-1h"},
	} {
		if out, errs, code := lcadmin(t, bad...); code == 0 || out != "" || !strings.Contains(errs, "lcadmin: ") {
			t.Errorf("%v: exit %d stdout %q stderr %q", bad, code, out, errs)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, code := lcadmin(t, "--version")
	if code != 0 || out != "lcadmin version dev\n" {
		t.Errorf("--version: exit %d %q", code, out)
	}
}
