package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// docs/operations.md §11: SIGTERM is a graceful shutdown of the real binary — a floor in use ends
// with FLOOR_REVOKE "shutdown" to its holder and FLOOR_IDLE to the others, sessions are closed with
// 1001 and a reason, and the process exits 0 within ShutdownTimeout.
func TestSIGTERMShutsDownGracefullyWithExitZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p := startServer(t, buildBinary(t), "sigterm-secret", t.TempDir())
	join := func(user string) *wstest.Client {
		c := p.client(t, user)
		c.Request(11, map[string]any{"channel_id": "CH_0001"})
		return c
	}
	alice, bob := join("alice"), join("bob")
	alice.Send(30, map[string]any{"channel_id": "CH_0001"})
	alice.Await(110)
	bob.Await(112) // FLOOR_TAKEN: a call is on

	began := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The talker learns why its floor ended, the listener sees it end, then both are closed
	// with 1001 and a reason.
	if r := alice.Await(114).Map(); r["reason"] != "shutdown" {
		t.Fatalf("holder got FLOOR_REVOKE %v, want reason shutdown", r)
	}
	bob.Await(113)
	for name, c := range map[string]*wstest.Client{"alice": alice, "bob": bob} {
		if cl := c.ExpectClosed(); cl.Code != 1001 || cl.Reason == "" {
			t.Fatalf("%s closed %d %q, want 1001 with a reason", name, cl.Code, cl.Reason)
		}
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0", p.err)
		}
	case <-time.After(2 * server.ShutdownTimeout):
		t.Fatal("lcserver still running after SIGTERM")
	}
	took := time.Since(began)
	if took > server.ShutdownTimeout {
		t.Fatalf("shutdown took %v", took)
	}
	t.Logf("exit 0 %v after SIGTERM", took.Round(time.Millisecond))
}
