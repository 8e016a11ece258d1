package gateway

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

var secret = []byte("test-secret")

// fakeDirectory answers the few requests these tests send, like the real directory and
// channel would, and records registrations and joins.
type fakeDirectory struct {
	registered, unregistered chan string
	joins                    chan *msg.JoinChannel
}

func (d *fakeDirectory) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *msg.RegisterSession:
		d.registered <- m.UserID
		ctx.Respond(&msg.Result{})
	case *msg.UnregisterSession:
		select {
		case d.unregistered <- m.UserID:
		default:
		}
	case *msg.JoinChannel:
		select {
		case d.joins <- m:
		default:
		}
		ctx.Respond(m.Call.OK(&msg.JoinAck{ChannelID: m.ChannelID, ActiveMembers: []msg.MemberInfo{{UserID: m.Call.UserID, Priority: m.Priority}},
			Floor: msg.FloorInfo{State: msg.FloorStateIdle}}))
	case *msg.LeaveChannel:
		if m.ChannelID == "nope" {
			ctx.Respond(m.Call.Fail(msg.Errorf(msg.CodeNotJoined, "not joined")))
			return
		}
		ctx.Respond(m.Call.OK(&msg.LeaveAck{ChannelID: m.ChannelID}))
	case *msg.RequestFloor:
		ctx.Send(m.Call.Session, &msg.FloorGranted{ChannelID: m.ChannelID, Priority: m.Priority, MaxDurationMs: 30000})
	case *msg.ListChannels:
		ctx.Respond(m.Call.OK(&msg.ChannelList{Channels: []msg.ChannelInfo{}}))
	case *msg.PostMessage:
		// A burst of large events, more than any socket buffer holds: a client that does
		// not read must be cut off, not block this actor.
		ctx.Respond(m.Call.OK(&msg.MessageAck{MessageID: "1"}))
		big := strings.Repeat("x", 32<<10)
		for i := 0; i < 1000; i++ {
			ctx.Send(m.Call.Session, &msg.MessageEvent{ChannelID: m.ChannelID, MessageID: "1", Content: big})
		}
	}
}

type env struct {
	t     *testing.T
	url   string
	gw    *Gateway
	reg   chan string
	unreg chan string // user ids of sessions that ended
	joins chan *msg.JoinChannel
}

// client dials the gateway and identifies as user (priority 100); the test's cleanup closes
// the connection.
func (e *env) client(user string) *wstest.Client {
	e.t.Helper()
	c := wstest.Dial(e.t, e.url)
	e.t.Cleanup(c.Close)
	c.Identify(user, mint(e.t, user, 100), -1)
	return c
}

func newEnv(t *testing.T, tweak func(*Options)) *env {
	t.Helper()
	sys := actor.NewActorSystem()
	reg, unreg, joins := make(chan string, 16), make(chan string, 16), make(chan *msg.JoinChannel, 16)
	dir := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &fakeDirectory{registered: reg, unregistered: unreg, joins: joins}
	}))
	opts := Options{System: sys, Directory: dir, Secret: secret}
	if tweak != nil {
		tweak(&opts)
	}
	gw, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
		sys.Shutdown()
	})
	return &env{t: t, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", gw: gw, reg: reg, unreg: unreg, joins: joins}
}

func mint(t testing.TB, user string, maxPrio int) string {
	t.Helper()
	tok, err := token.Mint(secret, user, maxPrio, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func errCode(t *testing.T, f wstest.Frame) (int, map[string]any) {
	t.Helper()
	if f.Op != int(OpError) {
		t.Fatalf("got %v, want ERROR", f)
	}
	m := f.Map()
	return int(m["code"].(float64)), m
}

func TestHelloHeartbeatIdentifyReady(t *testing.T) {
	e := newEnv(t, nil)
	c := wstest.Dial(t, e.url)
	defer c.Close()
	if c.HeartbeatInterval != 10000 {
		t.Fatalf("HELLO heartbeat_interval = %d, want 10000", c.HeartbeatInterval)
	}
	c.Send(int(OpHeartbeat), map[string]any{})
	c.Expect(int(OpHeartbeatAck))

	c.Send(int(OpChannelList), map[string]any{"nonce": "x"})
	code, m := errCode(t, c.Next())
	if code != 1000 || m["req_op"].(float64) != 15 || m["nonce"] != "x" || m["reason"] == "" {
		t.Fatalf("before IDENTIFY: %v, want 1000 with req_op 15 and nonce x", m)
	}

	r := c.Identify("alice", mint(t, "alice", 100), -1)
	if r.UserID != "alice" || r.Priority != 100 || r.HeartbeatInterval != 10000 || r.SessionID == "" {
		t.Fatalf("READY = %+v", r)
	}
	if got := <-e.reg; got != "alice" {
		t.Fatalf("registered %q", got)
	}
	ack := c.Request(int(OpChannelJoin), map[string]any{"channel_id": "CH_1"})
	m = ack.Map()
	if m["channel_id"] != "CH_1" || m["req_op"].(float64) != 11 || m["nonce"] == nil || m["active_members"] == nil {
		t.Fatalf("JOIN ACK = %v", m)
	}
	if code := c.RequestError(int(OpChannelLeave), map[string]any{"channel_id": "nope"}); code != 2004 {
		t.Fatalf("leave of an unjoined channel: %d, want 2004", code)
	}
	c.Send(int(OpFloorRequest), map[string]any{"channel_id": "CH_1", "priority": 255})
	g := c.Expect(int(OpFloorGranted)).Map()
	if g["priority"].(float64) != 100 {
		t.Fatalf("FLOOR_REQUEST priority above the token's max was not capped: %v", g)
	}
	c.Send(int(OpIdentify), map[string]any{"user_id": "alice", "token": mint(t, "alice", 100)})
	if code, _ := errCode(t, c.Next()); code != 1002 {
		t.Fatalf("second IDENTIFY: %d, want 1002", code)
	}
}

func TestIdentifyPriorities(t *testing.T) {
	e := newEnv(t, nil)
	c := wstest.Dial(t, e.url)
	defer c.Close()
	_, f, err := c.IdentifyErr("carol", mint(t, "carol", 100), 255)
	if err == nil {
		t.Fatal("priority above max_priority accepted")
	}
	if code, _ := errCode(t, f); code != 1007 {
		t.Fatalf("code %d, want 1007", code)
	}
	// The connection stays usable: a lower priority works.
	if r := c.Identify("carol", mint(t, "carol", 255), 200); r.Priority != 200 {
		t.Fatalf("READY priority %d, want 200", r.Priority)
	}

	low := wstest.Dial(t, e.url)
	defer low.Close()
	if r := low.Identify("dave", mint(t, "dave", 50), -1); r.Priority != 50 {
		t.Fatalf("default priority %d, want min(100, max_priority 50)", r.Priority)
	}
}

func TestInvalidTokensCloseWith4001(t *testing.T) {
	e := newEnv(t, nil)
	other, _ := token.Mint([]byte("other"), "alice", 100, time.Hour, time.Now())
	expired, _ := token.Mint(secret, "alice", 100, -time.Minute, time.Now())
	for name, tok := range map[string]string{
		"garbage": "not-a-jwt", "wrong key": other, "expired": expired, "other subject": mint(t, "bob", 100),
	} {
		t.Run(name, func(t *testing.T) {
			c := wstest.Dial(t, e.url)
			defer c.Close()
			c.Send(int(OpIdentify), map[string]any{"user_id": "alice", "token": tok, "nonce": "n1"})
			code, m := errCode(t, c.Next())
			if code != 1001 || m["nonce"] != "n1" {
				t.Fatalf("got %v, want ERROR 1001 echoing the nonce", m)
			}
			cl := c.ExpectClosed()
			if cl.Code != 4001 || cl.Reason == "" {
				t.Fatalf("closed %d %q, want 4001 with a reason", cl.Code, cl.Reason)
			}
		})
	}
}

func TestBadInputAnswersAndKeepsTheSession(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("alice")
	cases := []struct {
		frame string
		code  int
	}{
		{`{"op":`, 1004},
		{`[1,2]`, 1004},
		{`{"d":{}}`, 1004},
		{`{"op":"11","d":{}}`, 1004},
		{`{"op":11,"d":{"channel_id":5}}`, 1004},
		{`{"op":11,"d":{}}`, 1004},
		{`{"op":11,"d":{"channel_id":"has space"}}`, 1004},
		{`{"op":11,"d":{"channel_id":"` + strings.Repeat("a", 65) + `"}}`, 1004},
		{`{"op":11,"d":"x"}`, 1004},
		{`{"op":30,"d":{"channel_id":"A","priority":256}}`, 1004},
		{`{"op":99,"d":{}}`, 1003},
		{`{"op":200,"d":{}}`, 1003},
		{`{"op":20,"d":{"channel_id":"A"}}`, 1004}, // empty and too long are the channel's (3000, 3001)
		{`{"op":20,"d":{"channel_id":"A","content":5}}`, 1004},
	}
	for _, tc := range cases {
		if err := c.SendRaw([]byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		if code, m := errCode(t, c.Next()); code != tc.code || m["reason"] == "" {
			t.Fatalf("%s → %v, want %d", tc.frame, m, tc.code)
		}
	}
	c.Send(int(OpHeartbeat), nil)
	c.Expect(int(OpHeartbeatAck))
}

func TestOversizedFrameGets1006ThenClose1009(t *testing.T) {
	e := newEnv(t, nil)
	c := wstest.Dial(t, e.url)
	defer c.Close()
	big := `{"op":1,"d":{"pad":"` + strings.Repeat("x", 70<<10) + `"}}`
	if err := c.SendRaw([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if code, _ := errCode(t, c.Next()); code != 1006 {
		t.Fatalf("code %d, want 1006", code)
	}
	if cl := c.ExpectClosed(); cl.Code != 1009 || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 1009", cl.Code, cl.Reason)
	}
}

func TestGarbageFloodClosesWith4004AndSparesOthers(t *testing.T) {
	e := newEnv(t, nil)
	good := e.client("bob")

	c := wstest.Dial(t, e.url)
	defer c.Close()
	for i := 0; i < 21; i++ {
		if err := c.SendRaw([]byte("garbage")); err != nil {
			break // the server may already have closed
		}
	}
	if cl := c.ExpectClosed(); cl.Code != 4004 || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 4004", cl.Code, cl.Reason)
	}
	good.Request(int(OpChannelList), nil)
}

func TestRateLimitAnswers1005(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RateLimit = 1; o.RateBurst = 2; o.BadFrameLimit = 100 })
	c := wstest.Dial(t, e.url)
	defer c.Close()
	for i := 0; i < 3; i++ {
		c.Send(int(OpHeartbeat), nil)
	}
	c.Expect(int(OpHeartbeatAck))
	c.Expect(int(OpHeartbeatAck))
	if code, m := errCode(t, c.Next()); code != 1005 || m["req_op"] != float64(OpHeartbeat) {
		t.Fatalf("got %v, want 1005 with req_op 1", m)
	}
}

func TestIdentifyTimeoutAndHeartbeatTimeoutClose(t *testing.T) {
	clk := clock.NewFake(time.Now())
	e := newEnv(t, func(o *Options) {
		o.IdentifyTimeout = 200 * time.Millisecond
		o.HeartbeatInterval = 100 * time.Millisecond
		o.HeartbeatGrace = 100 * time.Millisecond
		o.Clock = clk
	})
	// closedAfter moves the clock in steps of 20 ms (at most 150: ten times the 300 ms zombie
	// limit), doing between steps, until the server has closed c.
	closedAfter := func(c *wstest.Client, between func()) (wstest.Closed, bool) {
		for i := 0; i < 150; i++ {
			if between != nil {
				between()
			}
			if cl, closed := c.ClosedInfo(); closed {
				return cl, true
			}
			clk.Advance(20 * time.Millisecond)
			time.Sleep(5 * time.Millisecond) // polling for the close the step may have caused
		}
		cl, closed := c.ClosedInfo()
		return cl, closed
	}
	c := wstest.Dial(t, e.url)
	defer c.Close()
	if cl, closed := closedAfter(c, nil); !closed || cl.Code != 4005 || cl.Reason == "" {
		t.Fatalf("closed %v %d %q, want 4005", closed, cl.Code, cl.Reason)
	}

	z := e.client("zed")
	// WebSocket pings are not application frames and must not keep the session alive: a
	// client that keeps pinging (for ten times the 300 ms zombie limit) is closed all the same.
	_, closed := closedAfter(z, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = z.Conn().Ping(ctx) // fails once the server has closed the connection
		cancel()
	})
	if !closed {
		t.Fatal("a client that only sent WebSocket pings stayed open for 3 s")
	}
	if cl := z.ExpectClosed(); cl.Code != 4003 || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 4003", cl.Code, cl.Reason)
	}
}

func TestShutdownClosesWith1001(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("alice")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if cl := c.ExpectClosed(); cl.Code != websocket.StatusGoingAway || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 1001", cl.Code, cl.Reason)
	}
}

func TestAllowedOriginsRestrict(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedOrigins = []string{"good.example"} })
	hdr := func(origin string) *websocket.DialOptions {
		return &websocket.DialOptions{HTTPHeader: map[string][]string{"Origin": {origin}}}
	}
	if _, err := wstest.DialErr(e.url, hdr("http://evil.example")); err == nil {
		t.Fatal("a foreign origin was accepted")
	}
	c, err := wstest.DialErr(e.url, hdr("http://good.example"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestAnyOriginByDefault(t *testing.T) {
	e := newEnv(t, nil)
	c, err := wstest.DialErr(e.url, &websocket.DialOptions{HTTPHeader: map[string][]string{"Origin": {"http://anywhere.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestSlowClientIsDisconnectedWithoutBlockingActors(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(o *Options) { o.Metrics = m; o.OutboundQueue = 8; o.WriteTimeout = 200 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func() {
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	read() // HELLO
	_ = ws.Write(ctx, websocket.MessageText, []byte(`{"op":3,"d":{"user_id":"slow","token":"`+mint(t, "slow", 100)+`"}}`))
	read() // READY
	_ = ws.Write(ctx, websocket.MessageText, []byte(`{"op":20,"d":{"channel_id":"A","content":"go"}}`))
	// From here on the client reads nothing.
	deadline := time.Now().Add(10 * time.Second)
	for wsErrors(t, m, "4006") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("slow client not disconnected with 4006")
		}
		time.Sleep(10 * time.Millisecond) // polling a counter
	}
	// Others are unaffected.
	c := e.client("fast")
	c.Request(int(OpChannelList), nil)
}

// wsErrors reads livechat_ws_errors_total{code}.
func wsErrors(t *testing.T, m *metrics.Metrics, code string) float64 {
	t.Helper()
	return testutil.ToFloat64(m.WSErrors.WithLabelValues(code))
}
