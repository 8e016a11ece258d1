package gateway

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/media/metrics"
)

// rawIdentified dials without the wstest reader (so nothing reads unless the test does),
// identifies as user and returns the connection.
func rawIdentified(t *testing.T, url, user string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	for _, want := range []Op{OpHello, OpReady} {
		if want == OpReady {
			_ = ws.Write(ctx, websocket.MessageText, []byte(`{"op":3,"d":{"user_id":"`+user+`","token":"`+mint(t, user, 100)+`"}}`))
		}
		_, b, err := ws.Read(ctx)
		if err != nil || !strings.Contains(string(b), `"op":`+strconv.Itoa(int(want))) {
			t.Fatalf("waiting for %v: %s %v", want, b, err)
		}
	}
	return ws
}

func awaitUser(t *testing.T, ch chan string, user string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case u := <-ch:
			if u == user {
				return
			}
		case <-deadline:
			t.Fatalf("session of %s did not end within %v", user, within)
		}
	}
}

// A reader that stops long enough to overflow its queue is cut off: its session ends at once
// (others are not held up), and once it reads again it finds close code 4006 after the frames
// already on their way — not 1006 — and 4006 is counted.
func TestSlowReaderGets4006AndItIsCounted(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(o *Options) { o.Metrics = m; o.OutboundQueue = 8 })
	ws := rawIdentified(t, e.url, "slow")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The fake directory answers with a burst of 1000 × 32 KiB events; the client reads none.
	_ = ws.Write(ctx, websocket.MessageText, []byte(`{"op":20,"d":{"channel_id":"A","content":"go"}}`))
	awaitUser(t, e.unreg, "slow", 5*time.Second)
	if got := wsErrors(t, m, "4006"); got != 1 {
		t.Fatalf("ws_errors_total{code=4006} = %v at the overflow, want 1", got)
	}

	// Others are unaffected while the slow one is still connected.
	c := e.client("fast")
	c.Request(int(OpChannelList), nil)

	// The slow reader reads again: frames, then the close.
	frames := 0
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			frames++
			continue
		}
		if code := websocket.CloseStatus(err); code != CloseSlowConsumer {
			t.Fatalf("after %d frames the connection ended with %v (code %d), want close 4006", frames, err, code)
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) && ce.Reason == "" {
			t.Fatal("4006 without a reason")
		}
		break
	}
	if frames >= 1000 {
		t.Fatalf("the slow reader got all %d frames: the queue did not overflow", frames)
	}
}

// A heartbeat-dead client (it neither sends nor reads: a vanished device) loses its session
// right at its 4003 deadline, not after the close handshake it will never answer.
func TestHeartbeatDeadClientEndsAtItsDeadline(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(o *Options) {
		o.Metrics = m
		o.HeartbeatInterval = 100 * time.Millisecond
		o.HeartbeatGrace = 100 * time.Millisecond
	})
	start := time.Now()
	rawIdentified(t, e.url, "ghost") // never read nor written again
	awaitUser(t, e.unreg, "ghost", 5*time.Second)
	// Deadline 300 ms after the last frame; waiting for the library's close handshake took
	// 5 s more. The bound leaves room for a loaded machine.
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("session ended %v after IDENTIFY, want about 300 ms", el)
	}
	if got := wsErrors(t, m, "4003"); got != 1 {
		t.Fatalf("ws_errors_total{code=4003} = %v, want 1", got)
	}
	// The gateway lets the connection go within the close bound too: shutdown has nothing
	// left to wait for.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown after a dead client: %v", err)
	}
}

// RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007.
func TestInvalidUTF8TextFrameClosesWith1007(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(o *Options) { o.Metrics = m })
	c := e.client("alice")
	if err := c.SendRaw([]byte("{\"op\":15,\"d\":{\"nonce\":\"\xff\xfe\"}}")); err != nil {
		t.Fatal(err)
	}
	if code, m := errCode(t, c.Next()); code != 1004 || m["req_op"] != nil {
		t.Fatalf("got %v, want ERROR 1004 without req_op (the frame was not parsed)", m)
	}
	if cl := c.ExpectClosed(); cl.Code != CloseInvalidUTF8 || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 1007 with a reason", cl.Code, cl.Reason)
	}
	if got := wsErrors(t, m, "1004"); got != 1 {
		t.Fatalf("ws_errors_total{code=1004} = %v, want 1", got)
	}
	awaitUser(t, e.unreg, "alice", 3*time.Second)
}

func TestBadFrameLimitBelowMinusOneIsAnError(t *testing.T) {
	e := newEnv(t, nil)
	opts := e.gw.opts
	opts.BadFrameLimit = -2
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "bad-frame limit") {
		t.Fatalf("New with bad-frame limit -2: %v, want an error naming it", err)
	}
	opts.BadFrameLimit = -1 // off
	if _, err := New(opts); err != nil {
		t.Fatalf("bad-frame limit -1 (off): %v", err)
	}
}
