package server

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Real-network test helpers (docs/reliability.md, "Networks"): a pair of network namespaces
// joined by a veth link, and helper processes — this test binary re-executed under
// `ip netns exec` — that run the server on one side and real pion/webrtc clients on the other
// and talk to the test over stdin/stdout. Each namespace holds its own network stack, so one
// process cannot have sockets on both sides without setns tricks the Go runtime does not make
// safe; separate processes can.

// netnsPair is two namespaces, server and client side, and the veth link between them, with
// a /30 of 10.231.0.0/16 inside them only (nothing is added to the host's own namespace).
type netnsPair struct {
	Server, Client     string // namespace names
	ServerIP, ClientIP string // the two ends of the link
	ServerIf, ClientIf string // interface names
}

// newNetnsPair makes the namespaces (unique names per run) and removes them when the test
// ends, also when it fails. Without root or without `ip` the test is skipped with the reason.
func newNetnsPair(t *testing.T) *netnsPair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root (ip netns add)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespace tests need iproute2's ip: apt-get install iproute2")
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	n := &netnsPair{
		Server: "lcsrv-" + id, Client: "lccli-" + id,
		ServerIf: "lcs" + id, ClientIf: "lcc" + id,
		ServerIP: fmt.Sprintf("10.231.%d.1", b[0]), ClientIP: fmt.Sprintf("10.231.%d.2", b[0]),
	}
	if out, err := exec.Command("ip", "netns", "add", n.Server).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.Server).Run() })
	n.ip(t, "netns", "add", n.Client)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.Client).Run() })
	n.ip(t, "link", "add", n.ServerIf, "netns", n.Server, "type", "veth", "peer", "name", n.ClientIf, "netns", n.Client)
	for _, side := range [][3]string{{n.Server, n.ServerIf, n.ServerIP}, {n.Client, n.ClientIf, n.ClientIP}} {
		n.ip(t, "-n", side[0], "addr", "add", side[2]+"/30", "dev", side[1])
		n.ip(t, "-n", side[0], "link", "set", side[1], "up")
		n.ip(t, "-n", side[0], "link", "set", "lo", "up")
	}
	return n
}

func (n *netnsPair) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// helperEnv names the role a re-executed test binary plays (see TestHelperProcess).
const helperEnv = "LIVECHAT_TEST_HELPER"

// helper is one helper process. Lines it prints as "HELPER {json}" are events; everything
// else (test output) is kept for the failure message.
type helper struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan map[string]any
	done   chan struct{}
	out    strings.Builder // guarded by done: read only after it is closed
}

// startHelper runs this test binary's TestHelperProcess as role, in namespace ns ("" for the
// test's own), with env added. The process is killed (if still running) when the test ends.
func startHelper(t *testing.T, ns, role string, env ...string) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{exe, "-test.run=^TestHelperProcess$", "-test.v", "-test.timeout=60s"}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), helperEnv+"="+role), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	h := &helper{t: t, name: role, cmd: cmd, events: make(chan map[string]any, 64), done: make(chan struct{})}
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s helper: %v", role, err)
	}
	go func() {
		defer close(h.done)
		defer close(h.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if js, ok := strings.CutPrefix(line, "HELPER "); ok {
				var ev map[string]any
				if json.Unmarshal([]byte(js), &ev) == nil {
					h.events <- ev
					continue
				}
			}
			h.out.WriteString(line + "\n")
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(h.stop)
	return h
}

// await returns the next event named name, failing the test (with the helper's output) if
// the helper ends or within passes first. Other events in between are skipped.
func (h *helper) await(name string, within time.Duration) map[string]any {
	h.t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-h.events:
			if !ok {
				<-h.done
				h.t.Fatalf("%s helper ended before %q:\n%s", h.name, name, h.out.String())
			}
			if ev["event"] == name {
				return ev
			}
		case <-deadline.C:
			h.kill()
			h.t.Fatalf("%s helper: no %q within %v:\n%s", h.name, name, within, h.out.String())
		}
	}
}

// send writes one command line to the helper.
func (h *helper) send(cmd string) {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, cmd+"\n"); err != nil {
		h.t.Fatalf("%s helper: %v", h.name, err)
	}
}

// finish closes stdin (the helper's signal to stop), waits for the process and fails the test
// if it did not pass.
func (h *helper) finish(within time.Duration) {
	h.t.Helper()
	_ = h.stdin.Close()
	select {
	case <-h.done:
	case <-time.After(within):
		h.t.Fatalf("%s helper did not stop within %v", h.name, within)
	}
	if !h.cmd.ProcessState.Success() {
		h.t.Fatalf("%s helper failed (%v):\n%s", h.name, h.cmd.ProcessState, h.out.String())
	}
}

// kill ends the process abruptly (SIGKILL) and waits for it.
func (h *helper) kill() {
	_ = h.cmd.Process.Kill()
	for range h.events { // events nobody awaits any more must not block the reader
	}
	<-h.done
}

func (h *helper) stop() {
	_ = h.stdin.Close()
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		h.kill()
	}
}

// emit prints one event for the parent test.
func emit(event string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["event"] = event
	b, _ := json.Marshal(fields)
	fmt.Printf("HELPER %s\n", b)
}

// commands delivers the parent's stdin lines; the channel closes at EOF.
func commands() <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			ch <- strings.TrimSpace(sc.Text())
		}
	}()
	return ch
}

// TestHelperProcess is not a test: it is the body of the helper processes above, run only
// when helperEnv names a role.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		t.Skip("helper process of the network and fault tests; runs only when they start it")
	}
	switch role {
	case "server":
		netServerRole(t)
	case "clients":
		netClientsRole(t)
	case "talker":
		talkerRole(t)
	default:
		t.Fatalf("unknown helper role %q", role)
	}
}
