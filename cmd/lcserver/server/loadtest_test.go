package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/cmd/lcload/load"
)

// TestLoad2000Sessions is the signaling load run behind docs/performance.md: lcserver as a
// separate process (so its CPU and memory are its own), 2,000 identified WebSocket sessions
// over 100 channels of 20, and floor rounds with a queued handover in every channel at once.
// The scenario is cmd/lcload's (`lcload signal`); this test runs it against a freshly built
// server and logs the figures. It runs only with LIVECHAT_LOAD=1 (about a minute, both cores):
// `LIVECHAT_LOAD=1 go test -run Load2000 -v ./cmd/lcserver/server`.
func TestLoad2000Sessions(t *testing.T) {
	if os.Getenv("LIVECHAT_LOAD") != "1" {
		t.Skip("load test: set LIVECHAT_LOAD=1 to run")
	}
	bin := filepath.Join(t.TempDir(), "lcserver")
	build := exec.Command("go", "build", "-o", bin, "github.com/minilivechat/minilivechat/cmd/lcserver")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build lcserver: %v\n%s", err, out)
	}
	p, err := load.SpawnServer(bin, testSecret, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Errorf("lcserver: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := load.RunSignal(ctx, load.SignalConfig{
		Addr: p.Addr, Secret: []byte(testSecret), Sessions: 2000, Channels: 100, Rounds: 20, PID: p.PID,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range res.Report() {
		t.Log(line)
	}
}
