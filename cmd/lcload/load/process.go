package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"time"
)

// Process is an lcserver run as a child process on loopback ephemeral ports, so that its CPU
// time and memory are its own.
type Process struct {
	Addr string // host:port of its TCP listener
	PID  int
	cmd  *exec.Cmd
	done chan error
}

var listeningLine = regexp.MustCompile(`msg="lcserver listening" addr=(\S+)`)

// SpawnServer starts bin (an lcserver binary) with --port 0 --udp-port 0 --bind 127.0.0.1
// --advertise-ip 127.0.0.1 and extra flags, LIVECHAT_SECRET=secret, and waits (up to 30 s)
// for its "lcserver listening" log line. Its log is drained (to logTo when not nil). The
// per-user channel limits are lifted (one control session creates every channel of a run);
// the server keeps no history (each run starts from the presets, and no run writes the
// user's data directory); extra flags come last and win.
func SpawnServer(bin, secret string, extra []string, logTo io.Writer) (*Process, error) {
	args := append([]string{"--port", "0", "--udp-port", "0", "--bind", "127.0.0.1", "--advertise-ip", "127.0.0.1",
		"--max-channels-per-user", "-1", "--channel-create-burst", "-1", "--data-dir", ""}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LIVECHAT_SECRET="+secret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &Process{PID: cmd.Process.Pid, cmd: cmd, done: make(chan error, 1)}
	found := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if logTo != nil {
				fmt.Fprintln(logTo, sc.Text())
			}
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	go func() {
		<-drained // Wait closes the pipe: read it to the end first
		p.done <- cmd.Wait()
	}()
	select {
	case p.Addr = <-found:
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("%s exited before listening: %v", bin, err)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-p.done
		return nil, errors.New("lcserver did not report its address within 30s")
	}
}

// Stop sends SIGINT (graceful shutdown) and waits up to 15 s, then kills.
func (p *Process) Stop() error {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		return err
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("lcserver did not stop within 15s; killed")
	}
}
