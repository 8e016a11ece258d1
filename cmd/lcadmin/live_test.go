package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/admin/admintest"
	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// Protocol opcodes used below (docs/protocol.md).
const (
	opChannelJoin  = 11
	opFloorRequest = 30
	opFloorGranted = 110
	opFloorTaken   = 112
	opFloorIdle    = 113
	opFloorRevoke  = 114
)

const liveSecret = "lcadmin-live-secret"

// liveServer runs a real lcserver in-process on ephemeral loopback ports and returns its TCP
// port; it is shut down when the test ends.
func liveServer(t *testing.T, adminToken string) (port string, srv *server.Server) {
	t.Helper()
	srv, stop, err := server.Start(server.Config{
		Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1",
		Secret: liveSecret, AdminToken: adminToken, Version: "v-live",
		// Long enough that no floor timer fires while the test looks at the floor.
		FloorPingTimeout: time.Minute, FloorMaxDuration: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return strconv.Itoa(srv.Port()), srv
}

// wsUser connects and identifies user on the live server.
func wsUser(t *testing.T, port, user string) *wstest.Client {
	t.Helper()
	return wsUserPrio(t, port, user, 100)
}

// wsUserPrio is wsUser with a token allowing floor priorities up to maxPrio.
func wsUserPrio(t *testing.T, port, user string, maxPrio int) *wstest.Client {
	t.Helper()
	c := wstest.Dial(t, "ws://127.0.0.1:"+port+"/ws")
	t.Cleanup(c.Close)
	tok, err := token.Mint([]byte(liveSecret), user, maxPrio, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.Identify(user, tok, -1)
	return c
}

// lcadminLive runs lcadmin with the real clock.
func lcadminLive(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb strings.Builder
	code = run(context.Background(), append([]string{"lcadmin"}, args...), &out, &errb, time.Now)
	return out.String(), errb.String(), code
}

// scrape returns the value of one sample of /metrics ("name{labels}"), or -1.
func scrape(t *testing.T, port, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + port + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := admintest.Sample(string(body), sample)
	if err != nil {
		t.Fatalf("metric %s: %v", sample, err)
	}
	if !ok {
		return -1
	}
	return v
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := lcadminLive(t, args...)
	if code != 0 || errs != "" {
		t.Fatalf("lcadmin %v: exit %d, stderr %q", args, code, errs)
	}
	return out
}

// line returns the line of out that starts (after the indent) with prefix.
func line(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), prefix) {
			return l
		}
	}
	return ""
}

func TestLiveServerFloorRevokeAndMetrics(t *testing.T) {
	port, _ := liveServer(t, "")
	p := []string{"--port", port}

	grants0 := scrape(t, port, "livechat_floor_grants_total")
	if grants0 != 0 {
		t.Fatalf("fresh server: floor grants %v, want 0", grants0)
	}

	alice, bob := wsUser(t, port, "alice"), wsUser(t, port, "bob")
	for _, c := range []*wstest.Client{alice, bob} {
		c.Request(opChannelJoin, map[string]any{"channel_id": "CH_0001"})
	}
	alice.Send(opFloorRequest, map[string]any{"channel_id": "CH_0001"})
	alice.Await(opFloorGranted)
	bob.Await(opFloorTaken)

	// What an operator sees while alice talks.
	out := mustRun(t, append(p, "status")...)
	for _, want := range []string{"Users:           2", "Channels:        3", "Floor Active:    1", "Version:         v-live"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, append(p, "channels")...)
	if l := line(out, "CH_0001"); !regexp.MustCompile(`^ CH_0001 +0001  📢 영업/시연 +2 +20 +● TAKEN  alice +0$`).MatchString(l) {
		t.Errorf("channels row of CH_0001 = %q in\n%s", l, out)
	}
	if l := line(out, "CH_0002"); !regexp.MustCompile(`^ CH_0002 +0002  🤝 스스 파트너스  0 +20 +○ idle +- +0$`).MatchString(l) {
		t.Errorf("channels row of CH_0002 = %q in\n%s", l, out)
	}
	out = mustRun(t, append(p, "channels", "CH_0001")...)
	if !regexp.MustCompile(`Floor: +● TAKEN \(holder: alice, \d+s elapsed, priority: 100\)`).MatchString(out) ||
		!strings.Contains(out, "· alice") || !strings.Contains(out, "· bob") {
		t.Errorf("channel detail:\n%s", out)
	}
	out = mustRun(t, append(p, "users", "bob")...)
	if !strings.Contains(out, "User: bob") || !strings.Contains(out, "· CH_0001") {
		t.Errorf("user detail:\n%s", out)
	}
	out = mustRun(t, append(p, "users")...)
	if line(out, "alice ") == "" || line(out, "bob ") == "" {
		t.Errorf("users:\n%s", out)
	}
	if out = mustRun(t, append(p, "peers")...); !strings.Contains(out, "(no media peers)") {
		t.Errorf("peers of signaling-only members:\n%s", out)
	}

	// The revoke: alice is told why, then everyone sees the floor go idle.
	out = mustRun(t, append(p, "floor-revoke", "CH_0001")...)
	if out != "\n  Floor Revoke OK channel=CH_0001 revoked_from=alice\n" {
		t.Errorf("floor-revoke printed %q", out)
	}
	var rv gateway.FloorRevoke
	if err := alice.Expect(opFloorRevoke).Decode(&rv); err != nil || rv.ChannelID != "CH_0001" || rv.Reason != msg.RevokeAdmin {
		t.Errorf("alice got FLOOR_REVOKE %+v (%v), want reason admin", rv, err)
	}
	alice.Expect(opFloorIdle)
	bob.Expect(opFloorIdle)
	out = mustRun(t, append(p, "floor-revoke", "CH_0001")...)
	if out != "\n  Floor Revoke OK channel=CH_0001 revoked_from=-\n" {
		t.Errorf("second floor-revoke printed %q", out)
	}
	alice.ExpectNone(100 * time.Millisecond) // an idle floor's revoke tells nobody anything

	if out = mustRun(t, append(p, "status")...); !strings.Contains(out, "Floor Active:    0") {
		t.Errorf("status after revoke:\n%s", out)
	}

	// An emergency call preempts alice: a second revoke reason.
	carol := wsUserPrio(t, port, "carol", msg.PriorityEmergency)
	carol.Request(opChannelJoin, map[string]any{"channel_id": "CH_0001"})
	alice.Send(opFloorRequest, map[string]any{"channel_id": "CH_0001"})
	alice.Await(opFloorGranted)
	carol.Send(opFloorRequest, map[string]any{"channel_id": "CH_0001", "priority": msg.PriorityEmergency})
	carol.Await(opFloorGranted)
	if err := alice.Await(opFloorRevoke).Decode(&rv); err != nil || rv.Reason != msg.RevokePreempted {
		t.Errorf("alice got FLOOR_REVOKE %+v (%v), want reason preempted", rv, err)
	}
	out = mustRun(t, append(p, "channels")...)
	if l := line(out, "CH_0001"); !regexp.MustCompile(`● TAKEN  carol +0$`).MatchString(l) {
		t.Errorf("channels row after preemption = %q", l)
	}

	// The counters moved with the traffic.
	if got := scrape(t, port, "livechat_floor_grants_total"); got != 3 {
		t.Errorf("floor grants = %v, want 3", got)
	}
	if got := scrape(t, port, `livechat_floor_revokes_total{reason="admin"}`); got != 1 {
		t.Errorf("admin revokes = %v, want 1", got)
	}
	if got := scrape(t, port, `livechat_floor_revokes_total{reason="preempted"}`); got != 1 {
		t.Errorf("preempted revokes = %v, want 1", got)
	}
	if got := scrape(t, port, `livechat_http_requests_total{code="200",route="/admin/floor-revoke/:id"}`); got != 2 {
		t.Errorf("revoke requests counted = %v, want 2", got)
	}

	// Errors from the real server.
	_, errs, code := lcadminLive(t, append(p, "channels", "CH_9999")...)
	if code == 0 || !strings.Contains(errs, "HTTP 404, code 2000") {
		t.Errorf("unknown channel: exit %d stderr %q", code, errs)
	}
	_, errs, code = lcadminLive(t, append(p, "users", "nobody")...)
	if code == 0 || !strings.Contains(errs, "HTTP 404, code 2100") {
		t.Errorf("unknown user: exit %d stderr %q", code, errs)
	}
	_, errs, code = lcadminLive(t, append(p, "peers", "AAAAAAAAAAAAAAAA")...)
	if code == 0 || !strings.Contains(errs, "HTTP 404, code 2101") {
		t.Errorf("unknown peer: exit %d stderr %q", code, errs)
	}
}

func TestLiveServerAdminToken(t *testing.T) {
	port, _ := liveServer(t, "live-admin-token")
	_, errs, code := lcadminLive(t, "--port", port, "status")
	if code == 0 || !strings.Contains(errs, "HTTP 401") {
		t.Errorf("without token: exit %d stderr %q", code, errs)
	}
	if out := mustRun(t, "--port", port, "--token", "live-admin-token", "status"); !strings.Contains(out, "Version:         v-live") {
		t.Errorf("with token:\n%s", out)
	}
	// The public routes need no token.
	resp, err := http.Get("http://127.0.0.1:" + port + "/channels")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/channels with an admin token set: %d", resp.StatusCode)
	}
}

// TestLiveServerMediaPeers: two pion/webrtc clients join with real offers; lcadmin lists
// their peers, keyed by the server ufrag of each answer, with SRTP ready and packets counted.
func TestLiveServerMediaPeers(t *testing.T) {
	port, _ := liveServer(t, "")
	p := []string{"--port", port}
	ufragRE := regexp.MustCompile(`(?m)^a=ice-ufrag:(\S+)\r?$`)
	ufrags := map[string]string{}
	pcs := map[string]*peertest.Client{}
	ws := map[string]*wstest.Client{}
	for _, user := range []string{"alice", "bob"} {
		c := wsUser(t, port, user)
		pc := peertest.NewClient(t, user)
		ack := c.Request(opChannelJoin, map[string]any{"channel_id": "CH_0002", "sdp_offer": pc.Offer(t)})
		var join struct {
			SDPAnswer string `json:"sdp_answer"`
		}
		if err := ack.Decode(&join); err != nil || join.SDPAnswer == "" {
			t.Fatalf("%s: join ACK without sdp_answer: %v %v", user, ack, err)
		}
		m := ufragRE.FindStringSubmatch(join.SDPAnswer)
		if m == nil {
			t.Fatalf("%s: answer without a=ice-ufrag:\n%s", user, join.SDPAnswer)
		}
		ufrags[user] = m[1]
		pc.Answer(t, join.SDPAnswer)
		pcs[user], ws[user] = pc, c
	}
	for _, pc := range pcs {
		pc.WaitConnected(t, 10*time.Second)
	}
	ws["alice"].Send(opFloorRequest, map[string]any{"channel_id": "CH_0002"})
	ws["alice"].Await(opFloorGranted)
	pcs["alice"].Send(t, 20, 0xA1, 5*time.Millisecond)
	if got := pcs["bob"].WaitReceived(10, 10*time.Second); len(got) < 10 {
		t.Fatalf("bob received %d packets through the relay, want ≥ 10", len(got))
	}

	out := mustRun(t, append(p, "peers")...)
	for user, u := range ufrags {
		l := line(out, u)
		if !regexp.MustCompile(`^ ` + u + ` +` + user + ` +CH_0002 +127\.0\.0\.1:\d+ +\d+ +true +\d+ +\d+$`).MatchString(l) {
			t.Errorf("peers row of %s = %q in\n%s", user, l, out)
		}
	}
	t.Logf("$ lcadmin peers\n%s", out)
	out = mustRun(t, append(p, "peers", ufrags["bob"])...)
	if !strings.Contains(out, "Peer: "+ufrags["bob"]) || !strings.Contains(out, "SRTP ready:        true") ||
		line(out, "audio") == "" {
		t.Errorf("peer detail:\n%s", out)
	}
	t.Logf("$ lcadmin peers %s\n%s", ufrags["bob"], out)
	out = mustRun(t, append(p, "channels", "CH_0002")...)
	if line(out, ufrags["alice"]) == "" || line(out, ufrags["bob"]) == "" {
		t.Errorf("channel detail lacks the peers:\n%s", out)
	}
	t.Logf("$ lcadmin channels CH_0002\n%s", out)
	if out = mustRun(t, append(p, "status")...); !strings.Contains(out, "Peers:           2") {
		t.Errorf("status:\n%s", out)
	}
	if got := scrape(t, port, "livechat_media_packets_in_total"); got < 20 {
		t.Errorf("media packets in = %v, want ≥ 20 after alice sent 20", got)
	}
}
