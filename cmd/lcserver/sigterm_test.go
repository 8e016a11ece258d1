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

// SPEC §3: SIGTERM is a graceful shutdown of the real binary — sessions are closed with 1001
// and a reason, and the process exits 0 within a few seconds.
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
	cmd.Env = append(os.Environ(), "LIVECHAT_SECRET="+secret)
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

	c := wstest.Dial(t, "ws://"+a+"/ws")
	defer c.Close()
	tok, err := token.Mint([]byte(secret), "alice", 100, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.Identify("alice", tok, -1)
	c.Request(11, map[string]any{"channel_id": "CH_0001"})
	c.Send(30, map[string]any{"channel_id": "CH_0001"})
	c.Await(110)

	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if cl := c.ExpectClosed(); cl.Code != 1001 || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 1001 with a reason", cl.Code, cl.Reason)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0", waitErr)
		}
	case <-time.After(2 * server.ShutdownTimeout):
		t.Fatal("lcserver still running after SIGTERM")
	}
	if took := time.Since(began); took > server.ShutdownTimeout {
		t.Fatalf("shutdown took %v", took)
	}
}
