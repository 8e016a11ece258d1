package server

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func getJSON(t *testing.T, s *testServer, path string, v any) int {
	t.Helper()
	code, body := s.get(path)
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return code
}

func TestAdminAPIAnswersFromTheActors(t *testing.T) {
	s := start(t, func(c *Config) { c.Version = "v-test" })
	alice, bob := s.client("alice", 100), s.client("bob", 100)
	alice.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	alice.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	bob.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	alice.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	alice.Await(opFloorGranted)
	expectEvent(t, bob, opFloorTaken, d{"channel_id": "CH_0001"})

	var st struct {
		Users, Channels, Peers, FloorActive int
		Version                             string
		UptimeS                             float64 `json:"uptime_s"`
	}
	var raw map[string]any
	getJSON(t, s, "/admin/status", &raw)
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &st)
	if st.Users != 2 || st.Channels != 3 || raw["floor_active"].(float64) != 1 || st.Version != "v-test" || st.Peers != 0 {
		t.Fatalf("/admin/status = %v", raw)
	}

	var users struct {
		Users []struct {
			UserID   string `json:"user_id"`
			Priority int    `json:"priority"`
		} `json:"users"`
	}
	if code := getJSON(t, s, "/admin/users", &users); code != 200 || len(users.Users) != 2 || users.Users[0].UserID != "alice" {
		t.Fatalf("/admin/users = %d %+v", code, users)
	}
	var alices struct {
		UserID          string   `json:"user_id"`
		Channels        []string `json:"channels"`
		SinceHeartbeatS float64  `json:"since_heartbeat_s"`
	}
	if code := getJSON(t, s, "/admin/users/alice", &alices); code != 200 || len(alices.Channels) != 2 ||
		alices.Channels[0] != "CH_0001" || alices.Channels[1] != "CH_0002" {
		t.Fatalf("/admin/users/alice = %d %+v", code, alices)
	}
	if code, _ := s.get("/admin/users/nobody"); code != http.StatusNotFound {
		t.Fatalf("/admin/users/nobody = %d, want 404", code)
	}

	var ch struct {
		Members []any `json:"members"`
		Peers   []any `json:"peers"`
		Floor   struct {
			State  string  `json:"state"`
			Holder *string `json:"holder"`
		} `json:"floor"`
	}
	if code := getJSON(t, s, "/admin/channels/CH_0001", &ch); code != 200 || len(ch.Members) != 2 ||
		ch.Floor.State != "taken" || ch.Floor.Holder == nil || *ch.Floor.Holder != "alice" || ch.Peers == nil {
		t.Fatalf("/admin/channels/CH_0001 = %d %+v", code, ch)
	}
	var peers struct {
		Peers []any `json:"peers"`
	}
	if code := getJSON(t, s, "/admin/peers", &peers); code != 200 || peers.Peers == nil || len(peers.Peers) != 0 {
		t.Fatalf("/admin/peers = %d %+v (signaling-only members have no peers)", code, peers)
	}
	if code, _ := s.get("/admin/peers/AAAAAAAAAAAAAAAA"); code != http.StatusNotFound {
		t.Fatalf("unknown peer = %d, want 404", code)
	}

	// Admin revoke: the holder gets REVOKE admin, everyone IDLE, and the answer names the holder.
	resp, err := http.Post(s.http+"/admin/floor-revoke/CH_0001", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rv struct {
		ChannelID   string  `json:"channel_id"`
		RevokedFrom *string `json:"revoked_from"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&rv)
	resp.Body.Close()
	if resp.StatusCode != 200 || rv.RevokedFrom == nil || *rv.RevokedFrom != "alice" {
		t.Fatalf("floor-revoke = %d %+v", resp.StatusCode, rv)
	}
	expectEvent(t, alice, opFloorRevoke, d{"channel_id": "CH_0001", "reason": "admin"})
	expectEvent(t, bob, opFloorIdle, d{"channel_id": "CH_0001"})

	resp, err = http.Post(s.http+"/admin/floor-revoke/CH_0001", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	rv = struct {
		ChannelID   string  `json:"channel_id"`
		RevokedFrom *string `json:"revoked_from"`
	}{}
	_ = json.NewDecoder(resp.Body).Decode(&rv)
	resp.Body.Close()
	if resp.StatusCode != 200 || rv.RevokedFrom != nil {
		t.Fatalf("revoke of an idle floor = %d %+v, want revoked_from null", resp.StatusCode, rv)
	}
	resp, err = http.Post(s.http+"/admin/floor-revoke/nowhere", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("revoke of an unknown channel = %d, want 404", resp.StatusCode)
	}
}

func TestAdminTokenIsRequiredWhenSet(t *testing.T) {
	s := start(t, func(c *Config) { c.AdminToken = "sesame" })
	if code, _ := s.get("/admin/status"); code != http.StatusUnauthorized {
		t.Fatalf("/admin/status without token = %d, want 401", code)
	}
	req, _ := http.NewRequest(http.MethodGet, s.http+"/admin/status", nil)
	req.Header.Set("Authorization", "Bearer sesame")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/admin/status with token = %d", resp.StatusCode)
	}
}

func TestBackendTimesOutInsteadOfHanging(t *testing.T) {
	s := start(t, nil)
	b := &backend{s: s.srv}
	ctx, cancel := contextWithTimeout(time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := b.Status(ctx); err == nil {
		t.Fatal("an expired context got an answer")
	}
}
