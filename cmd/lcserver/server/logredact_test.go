package server

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A JOIN result that reaches a session after it stopped is a dead letter; its SDP answer (and
// the ICE password in it) must not be logged, only what kind of message it was.
func TestDeadLettersAreLoggedWithoutTheirContent(t *testing.T) {
	var logs lockedBuffer
	s := start(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	gone := s.srv.system.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	if err := s.srv.system.Root.StopFuture(gone).Wait(); err != nil {
		t.Fatal(err)
	}
	const pwd = "a=ice-pwd:s3cretIcePasswordValue"
	s.srv.system.Root.Send(gone, &msg.Result{Data: &msg.JoinAck{ChannelID: "CH_0001", SDPAnswer: "v=0\r\n" + pwd + "\r\n"}})
	actortest.Eventually(t, 5*time.Second, "dead letter logged", func() bool { return strings.Contains(logs.String(), "DeadLetter") })
	out := logs.String()
	if strings.Contains(out, "s3cretIcePassword") {
		t.Fatalf("a dead letter's content reached the log:\n%s", out)
	}
	if !strings.Contains(out, "message_type=*msg.Result") {
		t.Fatalf("dead letter logged without its type:\n%s", out)
	}
}
