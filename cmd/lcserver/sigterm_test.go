package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

var listeningLine = regexp.MustCompile(`msg="lcserver listening" addr=(\S+)`)

// docs/operations.md §11: SIGTERM is a graceful shutdown of the real binary — a floor in use ends
// with FLOOR_REVOKE "shutdown" to its holder and FLOOR_IDLE to the others, sessions are closed with
// 1001 and a reason, and the process exits 0 within ShutdownTimeout.
func TestSIGTERMShutsDownGracefullyWithExitZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "lcserver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const secret = "sigterm-secret"
	cmd := exec.Command(bin, "--port", "0", "--udp-port", "0", "--bind", "127.0.0.1", "--advertise-ip", "127.0.0.1")
	cmd.Env = append(os.Environ(), "LIVECHAT_SECRET="+secret, "LIVECHAT_DATA_DIR="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	var waitErr error
	exited := make(chan struct{})
	go func() {
		<-drained // Wait closes the pipe: read it to the end first
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // a no-op once it has exited
		<-exited
	})
	var a string
	select {
	case a = <-addr:
	case <-exited:
		t.Fatalf("lcserver exited before listening: %v", waitErr)
	case <-time.After(30 * time.Second):
		t.Fatal("lcserver did not report its address")
	}

	join := func(user string) *wstest.Client {
		c := wstest.Dial(t, "ws://"+a+"/ws")
		t.Cleanup(c.Close)
		tok, err := token.Mint([]byte(secret), user, 100, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.Identify(user, tok, -1)
		c.Request(11, map[string]any{"channel_id": "CH_0001"})
		return c
	}
	alice, bob := join("alice"), join("bob")
	alice.Send(30, map[string]any{"channel_id": "CH_0001"})
	alice.Await(110)
	bob.Await(112) // FLOOR_TAKEN: a call is on

	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
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
	case <-exited:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0", waitErr)
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
