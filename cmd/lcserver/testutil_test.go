package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// Helpers of the tests that run the real lcserver binary as a child process.

var listeningLine = regexp.MustCompile(`msg="lcserver listening" addr=(\S+)`)

// buildBinary builds lcserver into the test's temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lcserver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// proc is one running lcserver.
type proc struct {
	cmd    *exec.Cmd
	secret string
	addr   string
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// startServer runs the binary on loopback ephemeral ports with the token secret and data
// directory given (plus extra flags) and waits for its address; the test's cleanup kills it if
// it still runs.
func startServer(t *testing.T, bin, secret, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"--port", "0", "--udp-port", "0", "--bind", "127.0.0.1", "--advertise-ip", "127.0.0.1"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LIVECHAT_SECRET="+secret, "LIVECHAT_DATA_DIR="+dataDir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, secret: secret, exited: make(chan struct{})}
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
	go func() {
		<-drained // Wait closes the pipe: read it to the end first
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // a no-op once it has exited
		<-p.exited
	})
	select {
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("lcserver exited before listening: %v", p.err)
	case <-time.After(30 * time.Second):
		t.Fatal("lcserver did not report its address")
	}
	return p
}

// client dials the server's WebSocket and identifies as user with a token of the server's
// secret; the test's cleanup closes it.
func (p *proc) client(t *testing.T, user string) *wstest.Client {
	t.Helper()
	c := wstest.Dial(t, "ws://"+p.addr+"/ws")
	t.Cleanup(c.Close)
	tok, err := token.Mint([]byte(p.secret), user, 100, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.Identify(user, tok, -1)
	return c
}
