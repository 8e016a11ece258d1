package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// TestLoad2000Sessions is the load run behind docs/performance.md: lcserver as a separate
// process (so its memory is its own), 2,000 identified WebSocket sessions over 100 channels
// of 20, and floor activity in every channel at once. It reports grant latency p50/p99 and
// server memory per session. It runs only with LIVECHAT_LOAD=1 (it takes ~a minute and both
// cores): `LIVECHAT_LOAD=1 go test -run Load2000 -v ./cmd/lcserver/server`.
func TestLoad2000Sessions(t *testing.T) {
	if os.Getenv("LIVECHAT_LOAD") != "1" {
		t.Skip("load test: set LIVECHAT_LOAD=1 to run")
	}
	const (
		channels   = 100
		perChannel = 20
		rounds     = 20 // floor grants per channel
	)
	dir := t.TempDir()
	bin := filepath.Join(dir, "lcserver")
	build := exec.Command("go", "build", "-o", bin, "github.com/minilivechat/minilivechat/cmd/lcserver")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build lcserver: %v\n%s", err, out)
	}
	var presets []map[string]any
	for i := 0; i < channels; i++ {
		presets = append(presets, map[string]any{"channel_id": fmt.Sprintf("L%03d", i), "freq": strconv.Itoa(i), "channel_name": "load", "capacity": perChannel})
	}
	pf := filepath.Join(dir, "channels.json")
	b, _ := json.Marshal(presets)
	if err := os.WriteFile(pf, b, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--port", "0", "--udp-port", "0", "--bind", "127.0.0.1",
		"--advertise-ip", "127.0.0.1", "--channels", pf, "--heartbeat-interval", "120s")
	cmd.Env = append(os.Environ(), "LIVECHAT_SECRET="+testSecret)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	addr := waitListening(t, stderr)
	base := "http://" + addr

	rss0, heap0 := serverMemory(t, cmd.Process.Pid, base)

	// Connect, identify and join: 2,000 sessions, 16 dialers at a time.
	clients := make([][]*wstest.Client, channels)
	for i := range clients {
		clients[i] = make([]*wstest.Client, perChannel)
	}
	secret := []byte(testSecret)
	var wg sync.WaitGroup
	errs := make(chan error, channels*perChannel)
	sem := make(chan struct{}, 16)
	began := time.Now()
	for ch := 0; ch < channels; ch++ {
		for m := 0; m < perChannel; m++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(ch, m int) {
				defer wg.Done()
				defer func() { <-sem }()
				user := fmt.Sprintf("u%03d_%02d", ch, m)
				tok, _ := token.Mint(secret, user, 100, time.Hour, time.Now())
				c, err := wstest.DialErr("ws://"+addr+"/ws", nil)
				if err != nil {
					errs <- err
					return
				}
				clients[ch][m] = c
				c.SetTimeout(30 * time.Second)
				if _, _, err := c.IdentifyErr(user, tok, -1); err != nil {
					errs <- err
					return
				}
				if f, err := c.RequestErr(opChannelJoin, map[string]any{"channel_id": fmt.Sprintf("L%03d", ch)}); err != nil || f.Op != opAck {
					errs <- fmt.Errorf("join %s: %v %v", user, f, err)
				}
			}(ch, m)
		}
	}
	wg.Wait()
	setup := time.Since(began)
	defer func() {
		for _, cs := range clients {
			for _, c := range cs {
				if c != nil {
					c.Close()
				}
			}
		}
	}()
	select {
	case err := <-errs:
		t.Fatalf("setup: %v", err)
	default:
	}
	rss1, heap1 := serverMemory(t, cmd.Process.Pid, base)

	// Floor activity: in every channel at once, members take turns to request, hold (one
	// FLOOR_PING) and release the floor; a second member queues behind each talker.
	lat := make([][]time.Duration, channels)
	began = time.Now()
	for ch := 0; ch < channels; ch++ {
		wg.Add(1)
		go func(ch int) {
			defer wg.Done()
			id := map[string]any{"channel_id": fmt.Sprintf("L%03d", ch)}
			for r := 0; r < rounds; r++ {
				talker := clients[ch][r%perChannel]
				next := clients[ch][(r+1)%perChannel]
				t0 := time.Now()
				if err := talker.SendErr(opFloorRequest, id); err != nil {
					errs <- err
					return
				}
				if _, err := talker.AwaitErr(opFloorGranted); err != nil {
					errs <- fmt.Errorf("channel %d round %d: %w", ch, r, err)
					return
				}
				lat[ch] = append(lat[ch], time.Since(t0))
				_ = next.SendErr(opFloorRequest, id)
				_, _ = next.AwaitErr(opFloorQueuePos)
				_ = talker.SendErr(opFloorPing, id)
				_, _ = talker.AwaitErr(opFloorPong)
				_ = talker.SendErr(opFloorRelease, id)
				// The queued member is granted; it releases at once to leave the floor idle.
				if _, err := next.AwaitErr(opFloorGranted); err != nil {
					errs <- fmt.Errorf("channel %d round %d handover: %w", ch, r, err)
					return
				}
				_ = next.SendErr(opFloorRelease, id)
				if _, err := talker.AwaitErr(opFloorIdle); err != nil {
					errs <- fmt.Errorf("channel %d round %d idle: %w", ch, r, err)
					return
				}
			}
		}(ch)
	}
	wg.Wait()
	activity := time.Since(began)
	select {
	case err := <-errs:
		t.Fatalf("floor activity: %v", err)
	default:
	}
	rss2, heap2 := serverMemory(t, cmd.Process.Pid, base)

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	n := float64(channels * perChannel)
	t.Logf("sessions %d over %d channels; setup %v (%.0f sessions/s)", channels*perChannel, channels, setup.Round(time.Millisecond), n/setup.Seconds())
	t.Logf("grants %d in %v (%.0f grants/s, each with a queued handover): p50 %v, p99 %v, max %v",
		len(all), activity.Round(time.Millisecond), float64(2*len(all))/activity.Seconds(), pct(0.50), pct(0.99), all[len(all)-1])
	t.Logf("server RSS %.1f → %.1f MiB (%.1f KiB/session), after floor activity %.1f MiB",
		mib(rss0), mib(rss1), float64(rss1-rss0)/1024/n, mib(rss2))
	t.Logf("server Go heap in use %.1f → %.1f MiB (%.1f KiB/session), after floor activity %.1f MiB",
		mib(heap0), mib(heap1), float64(heap1-heap0)/1024/n, mib(heap2))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

var listening = regexp.MustCompile(`msg="lcserver listening" addr=(\S+)`)

// waitListening reads the server's log until it names its address (bounded), then drains the
// rest in the background so the server never blocks on a full pipe.
func waitListening(t *testing.T, r io.Reader) string {
	t.Helper()
	sc := bufio.NewScanner(r)
	found := make(chan string, 1)
	go func() {
		sent := false
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	select {
	case a := <-found:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("lcserver did not report its address")
		return ""
	}
}

// serverMemory reads the server's resident set (from /proc) and Go heap in use (/metrics).
func serverMemory(t *testing.T, pid int, base string) (rss, heap int64) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb * 1024
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := regexp.MustCompile(`(?m)^go_memstats_heap_inuse_bytes (\S+)$`).FindSubmatch(body); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		heap = int64(v)
	}
	return rss, heap
}
