package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/admin/admintest"
	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media/clock"
)

// channelMembers asks the REST API how many members a channel has.
func (s *testServer) channelMembers(id string) int {
	s.t.Helper()
	code, body := s.get("/channels/" + id)
	if code != http.StatusOK {
		s.t.Fatalf("GET /channels/%s = %d %s", id, code, body)
	}
	var ch struct {
		MemberCount int `json:"member_count"`
	}
	if err := json.Unmarshal([]byte(body), &ch); err != nil {
		s.t.Fatal(err)
	}
	return ch.MemberCount
}

// users asks the admin API (loopback, no token) how many users are identified.
func (s *testServer) users() int {
	s.t.Helper()
	code, body := s.get("/admin/status")
	if code != http.StatusOK {
		s.t.Fatalf("GET /admin/status = %d %s", code, body)
	}
	var st struct {
		Users int `json:"users"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		s.t.Fatal(err)
	}
	return st.Users
}

// metric reads one sample of /metrics, e.g. `livechat_sessions` or
// `livechat_ws_errors_total{code="1004"}`; 0 when there is none.
func (s *testServer) metric(name string) float64 {
	s.t.Helper()
	_, body := s.get("/metrics")
	v, _, err := admintest.Sample(body, name)
	if err != nil {
		s.t.Fatalf("metric %s: %v", name, err)
	}
	return v
}

func TestSecondIdentifyReplacesTheSession(t *testing.T) {
	s := start(t, nil)
	bob := s.client("bob", 100)
	bob.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	old := s.client("alice", 100)
	old.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	old.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	old.Await(opFloorGranted)

	fresh := s.client("alice", 100)
	if cl := old.ExpectClosed(); cl.Code != 4002 || cl.Reason == "" {
		t.Fatalf("old session closed %d %q, want 4002 with a reason", cl.Code, cl.Reason)
	}
	// The old session is fully cleaned up: its floor is released and it left the channel.
	expectEvent(t, bob, opFloorIdle, d{"channel_id": "CH_0001"})
	actortest.Eventually(t, 3*time.Second, "replaced member leaves", func() bool { return s.channelMembers("CH_0001") == 1 })

	fresh.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	if n := s.channelMembers("CH_0001"); n != 2 {
		t.Fatalf("members = %d, want bob and the new alice", n)
	}
	if n := s.users(); n != 2 {
		t.Fatalf("users = %d, want 2", n)
	}
}

func TestZombieSessionIsReapedLikeADisconnect(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s := start(t, func(c *Config) { c.Clock = clk }) // silent for 2 × 10 s + 5 s: a zombie
	bob := wstest.Dial(t, s.ws)
	defer bob.Close()
	bob.Identify("bob", mintFor(t, "bob", 100), -1)
	bob.Request(opChannelJoin, d{"channel_id": "CH_0002"})

	zombie := s.client("zed", 100)
	zombie.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	zombie.Send(opFloorRequest, d{"channel_id": "CH_0002"})
	zombie.Await(opFloorGranted)

	// bob keeps heartbeating while zed falls silent; WebSocket pings do not count.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = zombie.Conn().Ping(ctx)
	cancel()
	var got []map[string]any
	var idle, left bool
	for i := 0; i < 300 && !(idle && left); i++ { // at most 300 heartbeats, one a second
		bob.Send(opHeartbeat, nil)
		for {
			f := bob.Next()
			if f.Op == opHeartbeatAck {
				break
			}
			m := f.Map()
			got = append(got, map[string]any{"op": f.Op, "d": m})
			idle = idle || f.Op == opFloorIdle && m["channel_id"] == "CH_0002"
			left = left || f.Op == opChannelEvent && m["event"] == "leave" && m["user_id"] == "zed"
		}
		clk.Advance(time.Second) // heartbeat pace of a live client
	}
	// bob, still alive, saw the zombie's floor released and its membership end.
	if !idle || !left {
		t.Fatalf("bob saw %v, want FLOOR_IDLE and zed's leave", got)
	}
	if cl := zombie.ExpectClosed(); cl.Code != 4003 || cl.Reason == "" {
		t.Fatalf("zombie closed %d %q, want 4003 with a reason", cl.Code, cl.Reason)
	}
}

func TestIdentifyTimeoutCloses(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s := start(t, func(c *Config) { c.IdentifyTimeout, c.Clock = 100*time.Millisecond, clk })
	c := wstest.Dial(t, s.ws)
	defer c.Close()
	c.Send(opHeartbeat, nil) // heartbeats do not replace IDENTIFY
	c.Expect(opHeartbeatAck)
	clk.Advance(100 * time.Millisecond)
	if cl := c.ExpectClosed(); cl.Code != 4005 || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 4005", cl.Code, cl.Reason)
	}
}

func TestEveryConnectionErrorCode(t *testing.T) {
	s := start(t, func(c *Config) { c.RateLimit = 2; c.RateBurst = 8 })
	c := wstest.Dial(t, s.ws)
	defer c.Close()
	code := func(frame string) int {
		t.Helper()
		if err := c.SendRaw([]byte(frame)); err != nil {
			t.Fatal(err)
		}
		return num(t, c.Expect(opError).Map(), "code")
	}
	if got := code(`{"op":15,"d":{}}`); got != 1000 {
		t.Fatalf("request before IDENTIFY: %d, want 1000", got)
	}
	if got := code(`{"op":77,"d":{}}`); got != 1003 {
		t.Fatalf("unknown op: %d, want 1003", got)
	}
	if got := code(`{"op":3,"d":{"user_id":"alice","token":"` + mintFor(t, "alice", 100) + `","priority":200}}`); got != 1007 {
		t.Fatalf("priority above max: %d, want 1007", got)
	}
	c.Identify("alice", mintFor(t, "alice", 100), -1)
	if got := code(`{"op":3,"d":{"user_id":"alice","token":"x"}}`); got != 1002 {
		t.Fatalf("second IDENTIFY: %d, want 1002", got)
	}
	if got := code(`{"op":11,"d":{"channel_id":true}}`); got != 1004 {
		t.Fatalf("wrong type: %d, want 1004", got)
	}
	// Two frames per second with a burst of eight: the next frames are refused.
	var limited bool
	for i := 0; i < 10 && !limited; i++ {
		c.Send(opHeartbeat, nil)
		f := c.Next()
		limited = f.Op == opError && num(t, f.Map(), "code") == 1005
	}
	if !limited {
		t.Fatal("no 1005 within 10 rapid frames")
	}
	if s.metric(`livechat_ws_errors_total{code="1004"}`) < 1 || s.metric(`livechat_ws_errors_total{code="1005"}`) < 1 {
		t.Fatal("ERROR frames not counted by code in livechat_ws_errors_total")
	}

	bad := wstest.Dial(t, s.ws)
	defer bad.Close()
	bad.Send(opIdentify, d{"user_id": "mallory", "token": mintFor(t, "alice", 100)})
	if got := num(t, bad.Expect(opError).Map(), "code"); got != 1001 {
		t.Fatalf("token of another user: %d, want 1001", got)
	}
	if cl := bad.ExpectClosed(); cl.Code != 4001 {
		t.Fatalf("closed %d, want 4001", cl.Code)
	}

	big := wstest.Dial(t, s.ws)
	defer big.Close()
	if err := big.SendRaw([]byte(`{"op":1,"d":{"x":"` + strings.Repeat("y", 65<<10) + `"}}`)); err != nil {
		t.Fatal(err)
	}
	if got := num(t, big.Expect(opError).Map(), "code"); got != 1006 {
		t.Fatalf("oversized frame: %d, want 1006", got)
	}
	if cl := big.ExpectClosed(); cl.Code != 1009 || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 1009", cl.Code, cl.Reason)
	}
}

func TestGarbageFloodClosesOnlyTheSender(t *testing.T) {
	s := start(t, nil)
	alice, bob := s.client("alice", 100), s.client("bob", 100)
	alice.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	bob.Request(opChannelJoin, d{"channel_id": "CH_0001"})

	flood := wstest.Dial(t, s.ws)
	defer flood.Close()
	flood.Identify("mallory", mintFor(t, "mallory", 100), -1)
	flood.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	// Valid UTF-8 throughout: invalid UTF-8 is no bad frame but closes at once with 1007.
	garbage := []string{`{`, `null`, `{"op":1e999}`, `{"op":11,"d":[]}`, "\x00\x01", `{"op":-1}`, `{"op":20,"d":{"channel_id":"CH_0001"}}`}
	for i := 0; i < 200; i++ {
		if flood.SendRaw([]byte(garbage[i%len(garbage)])) != nil {
			break
		}
	}
	if cl := flood.ExpectClosed(); cl.Code != 4004 || cl.Reason == "" {
		t.Fatalf("flooder closed %d %q, want 4004", cl.Code, cl.Reason)
	}
	expectEvent(t, alice, opChannelEvent, d{"channel_id": "CH_0001", "event": "leave", "user_id": "mallory"})
	ack := alice.Request(opMessageCreate, d{"channel_id": "CH_0001", "content": "still here"}).Map()
	expectEvent(t, bob, opMessageEvent, d{"message_id": ack["message_id"]})
}

func TestEverythingReturnsToBaselineAfterClientsLeave(t *testing.T) {
	s := start(t, nil)
	// One warm-up client so that lazily started goroutines (HTTP keep-alive, actor system)
	// exist in the baseline.
	warm := wstest.Dial(t, s.ws)
	warm.Identify("warm", mintFor(t, "warm", 100), -1)
	warm.Request(opChannelJoin, d{"channel_id": "CH_0003"})
	warm.Close()
	actortest.Eventually(t, 3*time.Second, "warm-up member gone", func() bool { return s.channelMembers("CH_0003") == 0 })
	http.DefaultClient.CloseIdleConnections()
	base := goroutines()

	var clients []*wstest.Client
	for i := 0; i < 20; i++ {
		c := wstest.Dial(t, s.ws)
		user := "u" + strconv.Itoa(i)
		c.Identify(user, mintFor(t, user, 100), -1)
		ch := []string{"CH_0001", "CH_0002", "CH_0003"}[i%3]
		c.Request(opChannelJoin, d{"channel_id": ch})
		c.Send(opFloorRequest, d{"channel_id": ch})
		clients = append(clients, c)
	}
	for i, c := range clients {
		if i%2 == 0 {
			c.Close()
		} else {
			c.Drop() // vanished without a close handshake
		}
	}
	actortest.Eventually(t, 5*time.Second, "members, users and sessions back to zero", func() bool {
		return s.channelMembers("CH_0001")+s.channelMembers("CH_0002")+s.channelMembers("CH_0003") == 0 &&
			s.users() == 0 && s.metric("livechat_sessions") == 0
	})
	http.DefaultClient.CloseIdleConnections()
	actortest.Eventually(t, 5*time.Second, "goroutines back to baseline", func() bool {
		http.DefaultClient.CloseIdleConnections()
		return goroutines() <= base
	})
	code, body := s.get("/admin/channels")
	if code != http.StatusOK || strings.Contains(body, `"state":"taken"`) {
		t.Fatalf("a floor is still taken after everyone left: %s", body)
	}
}

func TestGracefulShutdownClosesSessionsWith1001(t *testing.T) {
	cfg := Config{Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Secret: testSecret, Logger: testLogger()}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	url := "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/ws"
	var cs []*wstest.Client
	for _, u := range []string{"alice", "bob"} {
		c := wstest.Dial(t, url)
		defer c.Close()
		c.Identify(u, mintFor(t, u, 100), -1)
		c.Request(opChannelJoin, d{"channel_id": "CH_0001"})
		cs = append(cs, c)
	}
	cs[0].Send(opFloorRequest, d{"channel_id": "CH_0001"})
	cs[0].Await(opFloorGranted)

	began := time.Now()
	cancel()
	for _, c := range cs {
		if cl := c.ExpectClosed(); cl.Code != 1001 || cl.Reason == "" {
			t.Fatalf("closed %d %q, want 1001 with a reason", cl.Code, cl.Reason)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(2 * ShutdownTimeout):
		t.Fatal("Run did not return")
	}
	if took := time.Since(began); took > ShutdownTimeout {
		t.Fatalf("shutdown took %v", took)
	}
	if _, err := wstest.DialErr(url, nil); err == nil {
		t.Fatal("a stopped server accepted a connection")
	}
}

func TestReplacingSessionCanRejoinAtOnce(t *testing.T) {
	s := start(t, nil)
	bob := s.client("bob", 100)
	bob.Request(opChannelJoin, d{"channel_id": "CH_0003"})
	for i := 0; i < 5; i++ { // a flapping device re-identifying and rejoining at once
		c := s.client("alice", 100)
		c.Request(opChannelJoin, d{"channel_id": "CH_0003"})
		c.Send(opFloorRequest, d{"channel_id": "CH_0003"})
		c.Await(opFloorGranted)
	}
	// Whatever order the replaced sessions' leaves arrived in, alice is a member once, holds
	// the floor, and bob is still there.
	actortest.Eventually(t, 3*time.Second, "one alice and bob", func() bool { return s.channelMembers("CH_0003") == 2 })
	var ch struct {
		Floor struct {
			Holder *string `json:"holder"`
		} `json:"floor"`
	}
	if code := getJSON(t, s, "/channels/CH_0003", &ch); code != 200 || ch.Floor.Holder == nil || *ch.Floor.Holder != "alice" {
		t.Fatalf("floor holder = %v, want the newest alice", ch.Floor.Holder)
	}
	if n := s.users(); n != 2 {
		t.Fatalf("users = %d, want 2", n)
	}
}

// A stopped server leaves nothing running: every goroutine New and Run started (actor
// system, media plane, HTTP server, connection readers and writers) ends with Run.
func TestStoppedServerLeavesNoGoroutines(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	base := goroutines()
	srv, stop, err := Start(Config{Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Secret: testSecret, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/ws"
	c := wstest.Dial(t, url)
	c.Identify("alice", mintFor(t, "alice", 100), -1)
	c.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	c.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	c.Await(opFloorGranted)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if cl := c.ExpectClosed(); cl.Code != 1001 {
		t.Fatalf("closed %d %q, want 1001", cl.Code, cl.Reason)
	}
	c.Close()
	actortest.Eventually(t, 5*time.Second, "goroutines back to the count before the server started", func() bool {
		http.DefaultClient.CloseIdleConnections()
		return goroutines() <= base
	})
}
