package admin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/admin/admintest"
	"github.com/minilivechat/minilivechat/media/metrics"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const loopback = "127.0.0.1:40000"

func newAPI(t *testing.T, token string) (*echo.Echo, *admintest.Fake, *metrics.Metrics) {
	t.Helper()
	e := echo.New()
	f := admintest.New(testNow)
	m := metrics.New()
	admin.Mount(e, admin.Options{Backend: f, Metrics: m, AdminToken: token, RequestTimeout: 50 * time.Millisecond})
	return e, f, m
}

// do serves one request from remote (host:port) with optional bearer token.
func do(e *echo.Echo, method, path, remote, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func decodeJSON[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON; body %s", ct, rec.Body)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

// keys returns the top-level keys of a JSON object, to pin the wire shape independent of Go
// types.
func keys(t *testing.T, rec *httptest.ResponseRecorder) map[string]json.RawMessage {
	return decodeJSON[map[string]json.RawMessage](t, rec)
}

// listed returns the objects of an answer of the form {"<key>": [objects, …]}, the shape of
// the list routes (users, channels, peers).
func listed(t *testing.T, rec *httptest.ResponseRecorder, key string) []map[string]json.RawMessage {
	t.Helper()
	var items []map[string]json.RawMessage
	if raw, ok := keys(t, rec)[key]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			t.Fatalf("decode %q of %s: %v", key, rec.Body, err)
		}
	}
	return items
}

func wantKeys(t *testing.T, obj map[string]json.RawMessage, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := obj[n]; !ok {
			t.Errorf("missing key %q in %v", n, obj)
		}
	}
}

func TestRoutesAnswerSpecShapes(t *testing.T) {
	e, _, _ := newAPI(t, "")

	rec := do(e, "GET", "/admin/status", loopback, "")
	if rec.Code != 200 {
		t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	st := keys(t, rec)
	wantKeys(t, st, "uptime_s", "users", "channels", "peers", "floor_active", "version")
	if string(st["floor_active"]) != "1" || string(st["version"]) != `"v-test"` {
		t.Errorf("status = %s", rec.Body)
	}

	rec = do(e, "GET", "/admin/users", loopback, "")
	users := listed(t, rec, "users")
	if len(users) != 3 {
		t.Fatalf("users: %s", rec.Body)
	}
	wantKeys(t, users[0], "user_id", "priority", "since_heartbeat_s", "connected_at")

	rec = do(e, "GET", "/admin/users/swift_falcon_4821", loopback, "")
	u := decodeJSON[admin.UserDetail](t, rec)
	if u.UserID != "swift_falcon_4821" || len(u.Channels) != 1 || u.Channels[0] != "CH_0001" {
		t.Errorf("user detail: %s", rec.Body)
	}

	for _, path := range []string{"/channels", "/admin/channels"} {
		rec = do(e, "GET", path, loopback, "")
		chs := listed(t, rec, "channels")
		if len(chs) != 3 {
			t.Fatalf("%s: %s", path, rec.Body)
		}
		wantKeys(t, chs[0], "channel_id", "freq", "channel_name", "capacity", "member_count",
			"created_at", "floor", "queue_size")
		var fl map[string]json.RawMessage
		_ = json.Unmarshal(chs[0]["floor"], &fl)
		if string(fl["state"]) != `"taken"` || string(fl["holder"]) != `"swift_falcon_4821"` {
			t.Errorf("%s floor = %s", path, chs[0]["floor"])
		}
		_ = json.Unmarshal(chs[1]["floor"], &fl)
		if string(fl["holder"]) != "null" {
			t.Errorf("%s idle holder = %s, want null", path, fl["holder"])
		}
	}

	// The public detail has members and queue but no peers; the admin detail adds peers.
	rec = do(e, "GET", "/channels/CH_0001", "192.0.2.7:5000", "")
	pub := keys(t, rec)
	wantKeys(t, pub, "channel_id", "members", "queue", "floor")
	if _, ok := pub["peers"]; ok {
		t.Errorf("public channel detail exposes peers: %s", rec.Body)
	}
	rec = do(e, "GET", "/admin/channels/CH_0001", loopback, "")
	ad := decodeJSON[admin.AdminChannelDetail](t, rec)
	if len(ad.Members) != 2 || len(ad.Queue) != 1 || len(ad.Peers) != 2 {
		t.Errorf("admin channel detail: %s", rec.Body)
	}

	rec = do(e, "GET", "/admin/peers", loopback, "")
	peers := listed(t, rec, "peers")
	if len(peers) != 2 {
		t.Fatalf("peers: %s", rec.Body)
	}
	wantKeys(t, peers[0], "ufrag", "user_id", "channel_id", "address", "idle_s", "srtp_ready",
		"packets_in", "packets_out", "bytes_in", "bytes_out")

	rec = do(e, "GET", "/admin/peers/abcd1234efgh5678", loopback, "")
	pd := decodeJSON[admin.PeerDetail](t, rec)
	if pd.UserID != "swift_falcon_4821" || len(pd.Tracks) != 1 || pd.Tracks[0].PayloadType != 111 {
		t.Errorf("peer detail: %s", rec.Body)
	}

	rec = do(e, "GET", "/healthz", "192.0.2.7:5000", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok"`) {
		t.Errorf("healthz: %d %s", rec.Code, rec.Body)
	}
}

func TestFloorRevoke(t *testing.T) {
	e, _, _ := newAPI(t, "")
	rec := do(e, "POST", "/admin/floor-revoke/CH_0001", loopback, "")
	if rec.Code != 200 || rec.Body.String() != `{"channel_id":"CH_0001","revoked_from":"swift_falcon_4821"}`+"\n" {
		t.Fatalf("revoke taken: %d %q", rec.Code, rec.Body)
	}
	// The floor is idle and the queue is empty afterwards.
	rec = do(e, "GET", "/admin/channels/CH_0001", loopback, "")
	ch := decodeJSON[admin.AdminChannelDetail](t, rec)
	if ch.Floor.State != msg.FloorStateIdle || len(ch.Queue) != 0 {
		t.Errorf("after revoke: %s", rec.Body)
	}
	// Revoking an idle floor names nobody.
	rec = do(e, "POST", "/admin/floor-revoke/CH_0001", loopback, "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"revoked_from":null`) {
		t.Errorf("revoke idle: %d %s", rec.Code, rec.Body)
	}
	// GET is not a revoke.
	if rec := do(e, "GET", "/admin/floor-revoke/CH_0002", loopback, ""); rec.Code == 200 {
		t.Errorf("GET floor-revoke answered 200")
	}
}

func TestErrorsMapToStatus(t *testing.T) {
	e, _, _ := newAPI(t, "")
	wantErrorAnswers(t, e, []errorAnswer{
		{"GET", "/channels/CH_9999", 404, msg.CodeNoSuchChannel},
		{"GET", "/admin/channels/CH_9999", 404, msg.CodeNoSuchChannel},
		{"GET", "/admin/users/nobody", 404, msg.CodeNoSuchUser},
		{"GET", "/admin/peers/zzzzzzzzzzzzzzzz", 404, admin.CodeNoSuchPeer},
		{"POST", "/admin/floor-revoke/CH_9999", 404, msg.CodeNoSuchChannel},
		{"GET", "/admin/nothing-here", 404, admin.CodeNotFound},
		{"GET", "/channels/bad%20id", 400, msg.CodeMalformed},
		{"GET", "/admin/users/" + strings.Repeat("a", 65), 400, msg.CodeMalformed},
		{"GET", "/admin/channels/CH.1", 400, msg.CodeMalformed},
		{"GET", "/admin/peers/bad-ufrag!", 400, msg.CodeMalformed},
		{"POST", "/admin/floor-revoke/%C3%A9", 400, msg.CodeMalformed},
		{"GET", "/admin/bursts?limit=0", 400, msg.CodeMalformed},
		{"GET", "/admin/bursts?limit=1001", 400, msg.CodeMalformed},
		{"GET", "/admin/bursts?since=yesterday", 400, msg.CodeMalformed},
		{"GET", "/admin/bursts?channel=CH.1", 400, msg.CodeMalformed},
	})
}

// errorAnswer is a request and the error it must be answered with: the HTTP status and the
// code of the {error, code} body.
type errorAnswer struct {
	method, path string
	status       int
	code         msg.Code
}

// wantErrorAnswers serves each request from loopback and checks its status and that its body
// is {error, code} with the code and a reason.
func wantErrorAnswers(t *testing.T, e *echo.Echo, cases []errorAnswer) {
	t.Helper()
	for _, c := range cases {
		rec := do(e, c.method, c.path, loopback, "")
		if rec.Code != c.status {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, rec.Code, c.status, rec.Body)
			continue
		}
		if body := decodeJSON[admin.ErrorBody](t, rec); body.Code != c.code || body.Error == "" {
			t.Errorf("%s %s: body %s, want code %d and a reason", c.method, c.path, rec.Body, c.code)
		}
	}
}

func TestSlowBackendAnswers503(t *testing.T) {
	e, f, _ := newAPI(t, "")
	f.SetBlocking(true)
	for _, r := range []struct{ method, path, remote string }{
		{"GET", "/admin/status", loopback},
		{"GET", "/admin/channels/CH_0001", loopback},
		{"POST", "/admin/floor-revoke/CH_0001", loopback},
		{"GET", "/channels", "192.0.2.7:1"},
		{"GET", "/healthz", "192.0.2.7:1"},
	} {
		start := time.Now()
		rec := do(e, r.method, r.path, r.remote, "")
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s on a stuck backend: %d %s", r.method, r.path, rec.Code, rec.Body)
			continue
		}
		if body := decodeJSON[admin.ErrorBody](t, rec); body.Code != msg.CodeUnavailable {
			t.Errorf("%s: code %d", r.path, body.Code)
		}
		// The request deadline (50 ms) bounds the wait, not the backend.
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v", r.path, d)
		}
	}
}

func TestAdminLoopbackRuleWithoutToken(t *testing.T) {
	e, _, _ := newAPI(t, "")
	for _, remote := range []string{"127.0.0.1:1", "[::1]:1", "[::ffff:127.0.0.1]:1", "127.8.9.10:1"} {
		if rec := do(e, "GET", "/admin/status", remote, ""); rec.Code != 200 {
			t.Errorf("loopback %s: %d %s", remote, rec.Code, rec.Body)
		}
	}
	for _, remote := range []string{"192.0.2.7:1", "[2001:db8::1]:1", "10.0.0.1:1", "garbage"} {
		rec := do(e, "GET", "/admin/users", remote, "")
		if rec.Code != http.StatusForbidden {
			t.Errorf("remote %s: %d, want 403", remote, rec.Code)
			continue
		}
		if body := decodeJSON[admin.ErrorBody](t, rec); body.Code != admin.CodeForbidden || !strings.Contains(body.Error, "loopback") {
			t.Errorf("remote %s: body %s", remote, rec.Body)
		}
	}
	// Forwarding headers are the client's word, not proof of locality.
	req := httptest.NewRequest("GET", "/admin/status", nil)
	req.RemoteAddr = "192.0.2.7:1"
	req.Header.Set("X-Forwarded-For", "127.0.0.1")
	req.Header.Set("X-Real-IP", "127.0.0.1")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("X-Forwarded-For 127.0.0.1 from a remote peer: %d, want 403", rec.Code)
	}
	// Unknown admin paths are refused before they are looked up.
	if rec := do(e, "GET", "/admin/secret", "192.0.2.7:1", ""); rec.Code != http.StatusForbidden {
		t.Errorf("unknown admin path from remote: %d, want 403", rec.Code)
	}
	// Public routes stay public.
	if rec := do(e, "GET", "/channels", "192.0.2.7:1", ""); rec.Code != 200 {
		t.Errorf("public /channels from remote: %d", rec.Code)
	}
}

func TestAdminBearerToken(t *testing.T) {
	const tok = "s3cr3t-admin-token"
	e, _, _ := newAPI(t, tok)
	for _, c := range []struct {
		name, remote, header string
		status               int
	}{
		{"remote with token", "192.0.2.7:1", "Bearer " + tok, 200},
		{"lower-case scheme", "192.0.2.7:1", "bearer " + tok, 200},
		{"loopback without token", loopback, "", 401},
		{"remote without token", "192.0.2.7:1", "", 401},
		{"wrong token", "192.0.2.7:1", "Bearer nope", 401},
		{"token prefix", "192.0.2.7:1", "Bearer " + tok[:5], 401},
		{"token plus suffix", "192.0.2.7:1", "Bearer " + tok + "x", 401},
		{"basic scheme", "192.0.2.7:1", "Basic " + tok, 401},
		{"empty bearer", "192.0.2.7:1", "Bearer ", 401},
	} {
		req := httptest.NewRequest("GET", "/admin/status", nil)
		req.RemoteAddr = c.remote
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s: %d, want %d (%s)", c.name, rec.Code, c.status, rec.Body)
			continue
		}
		if c.status == 401 {
			body := decodeJSON[admin.ErrorBody](t, rec)
			if body.Code != admin.CodeUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: body %s, WWW-Authenticate %q", c.name, rec.Body, rec.Header().Get("WWW-Authenticate"))
			}
		}
	}
	// POST is guarded as well, and a refused revoke changes nothing.
	if rec := do(e, "POST", "/admin/floor-revoke/CH_0001", "192.0.2.7:1", ""); rec.Code != 401 {
		t.Errorf("revoke without token: %d", rec.Code)
	}
	rec := do(e, "GET", "/channels/CH_0001", "192.0.2.7:1", "")
	if ch := decodeJSON[admin.ChannelDetail](t, rec); ch.Floor.State != msg.FloorStateTaken {
		t.Errorf("refused revoke changed the floor: %s", rec.Body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e, _, m := newAPI(t, "")
	m.FloorGrants.Add(3)
	m.FloorRevokes.WithLabelValues(msg.RevokeAdmin).Inc()
	do(e, "GET", "/channels/CH_0404", "192.0.2.7:1", "")
	rec := do(e, "GET", "/metrics", "192.0.2.7:1", "")
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"livechat_floor_grants_total 3",
		`livechat_floor_revokes_total{reason="admin"} 1`,
		"go_goroutines",
		// The /metrics request itself is counted after it is answered; the earlier 404 is.
		`livechat_http_requests_total{code="404",route="/channels/:id"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestRouterRefusalsKeepTheErrorShape(t *testing.T) {
	e, _, _ := newAPI(t, "")
	wantErrorAnswers(t, e, []errorAnswer{
		{"POST", "/channels", http.StatusMethodNotAllowed, admin.CodeMethodNotAllowed},
		{"DELETE", "/channels/CH_0001", http.StatusMethodNotAllowed, admin.CodeMethodNotAllowed},
		{"POST", "/healthz", http.StatusMethodNotAllowed, admin.CodeMethodNotAllowed},
		{"GET", "/admin/floor-revoke/CH_0001", http.StatusNotFound, admin.CodeNotFound},
	})
}

func TestBurstsRoute(t *testing.T) {
	e, _, _ := newAPI(t, "")
	rec := do(e, "GET", "/admin/bursts?channel=CH_0001&since=2026-03-01T11:59:30Z&limit=10", loopback, "")
	if rec.Code != 200 {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	l := decodeJSON[admin.BurstList](t, rec)
	if len(l.Bursts) != 1 || l.Bursts[0].ID != 2 {
		t.Fatalf("since 11:59:30: %+v, want burst 2 only", l.Bursts)
	}
	if rec := do(e, "GET", "/admin/bursts", "192.0.2.7:4000", ""); rec.Code != 403 {
		t.Errorf("non-loopback without a token: %d, want 403", rec.Code)
	}
}
