package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/gateway"
)

// A member of a live call whose device stops reading its WebSocket (docs/reliability.md,
// "Faults"): while chat fills its outbound queue the talker's audio goes on reaching the
// listener, the slow member is closed with 4006 and counted, and the others see it leave.
func TestSlowConsumerInALiveCall(t *testing.T) {
	s, mp, _ := startWithMedia(t, func(c *Config) {
		c.OutboundQueue = 32
		c.RateLimit = -1 // the chatter below sends faster than a person
	})
	call := startCall(t, s, mp)
	// The slow member is in the call's channel and in a second one where the chat is, so the
	// call's own clients are not flooded too.
	slow := slowReader(t, s, "slow", "CH_0001", "CH_0002")
	expectEvent(t, call.lws, opChannelEvent, d{"channel_id": "CH_0001", "event": "join", "user_id": "slow"})
	chatter := s.client("chatter", 100)
	chatter.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	content := strings.Repeat("😀", 2000) // 8 KB per message

	// Loopback TCP buffers hold a few MB before the server's writes to the slow member block
	// and its queue fills; the bound leaves room for that several times over.
	const maxMessages, window = 4000, 8
	sent := 0
	loss := call.during(t, func(<-chan struct{}) {
		for sent < maxMessages {
			if s.metric(`livechat_ws_errors_total{code="4006"}`) == 1 {
				return
			}
			// A window of messages, then their ACKs: the chatter's own answers never
			// overflow its queue.
			for range window {
				chatter.Send(opMessageCreate, d{"channel_id": "CH_0002", "content": content})
			}
			for range window {
				if _, err := chatter.AwaitErr(opAck); err != nil {
					t.Errorf("chatter after %d messages: %v", sent, err)
					return
				}
			}
			sent += window
		}
	})
	t.Logf("slow reader cut off after %d chat messages; listener loss %.2f %%", sent, 100*loss)
	if loss >= 0.01 {
		t.Errorf("listener loss %.2f %% while a member read too slowly, want < 1 %%", 100*loss)
	}
	actortest.Eventually(t, 10*time.Second, "4006 counted", func() bool {
		return s.metric(`livechat_ws_errors_total{code="4006"}`) == 1
	})
	expectEvent(t, call.lws, opChannelEvent, d{"channel_id": "CH_0001", "event": "leave", "user_id": "slow"})
	// (The talker's and the chatter's clients skipped past their copies while awaiting
	// answers; the member counts show the leave from both channels.)
	if a, b := s.channelMembers("CH_0001"), s.channelMembers("CH_0002"); a != 2 || b != 1 {
		t.Fatalf("members after the slow one was cut off: %d in the call, %d in the chat; want 2 and 1", a, b)
	}

	// The slow device reads again: what was on its way, then close 4006 with a reason.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := slow.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != gateway.CloseSlowConsumer || ce.Reason == "" {
			t.Fatalf("slow reader's connection ended with %v, want close 4006 with a reason", err)
		}
		break
	}
}

// slowReader identifies user on a connection with a small receive buffer, joins the channels
// and from then on reads nothing until the test does.
func slowReader(t *testing.T, s *testServer, user string, channels ...string) *websocket.Conn {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.ws, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	exchange := func(frame string, want int) {
		t.Helper()
		if frame != "" {
			if err := ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
				t.Fatal(err)
			}
		}
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("%s: waiting for op %d: %v", user, want, err)
			}
			var f struct {
				Op int `json:"op"`
			}
			if json.Unmarshal(b, &f) == nil && f.Op == want {
				return
			}
		}
	}
	exchange("", int(gateway.OpHello))
	exchange(`{"op":3,"d":{"user_id":"`+user+`","token":"`+mintFor(t, user, 100)+`"}}`, int(gateway.OpReady))
	for _, ch := range channels {
		exchange(`{"op":11,"d":{"channel_id":"`+ch+`"}}`, opAck)
	}
	return ws
}
