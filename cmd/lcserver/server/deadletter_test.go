package server

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

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

// TestDeadLettersNeverLogTheirContent: a JOIN ACK that reaches a session which has just gone
// (its SDP answer carries the ICE password) must not appear in the log, at any level.
func TestDeadLettersNeverLogTheirContent(t *testing.T) {
	var logs lockedBuffer
	srv, stop, err := Start(Config{Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	seen := make(chan struct{}, 4)
	sub := srv.system.EventStream.Subscribe(func(ev any) {
		if _, ok := ev.(*actor.DeadLetterEvent); ok {
			seen <- struct{}{}
		}
	})
	defer srv.system.EventStream.Unsubscribe(sub)
	gone := actor.NewPID(srv.system.Address(), "session-that-left")
	ack := msg.Call{Op: 11}.OK(&msg.JoinAck{ChannelID: "CH", SDPAnswer: "v=0\r\na=ice-pwd:TOPSECRETPASSWORD\r\n"})
	srv.system.Root.Send(gone, ack)                          // no sender
	srv.system.Root.RequestWithCustomSender(gone, ack, gone) // with a sender
	for range 2 {
		select {
		case <-seen: // the actor system's own subscriber, registered first, has run
		case <-time.After(5 * time.Second):
			t.Fatal("no dead letter")
		}
	}
	if strings.Contains(logs.String(), "TOPSECRET") {
		t.Fatalf("a dead letter's content was logged:\n%s", logs.String())
	}
}
