package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// A target off this machine is refused before anything is sent.
func TestRefusesNonLoopbackTargets(t *testing.T) {
	for _, args := range [][]string{
		{"lcload", "signal", "--server", "10.1.2.3:8080"},
		{"lcload", "media", "--server", "192.168.0.10:8080"},
		{"lcload", "media", "--server", "example.com:8080"},
		{"lcload", "soak", "--server", "10.1.2.3:8080", "--duration", "1s"},
	} {
		var out, errOut bytes.Buffer
		err := newApp(&out, &errOut, func(string) string { return "" }).RunContext(context.Background(), args)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%v: err = %v, want a loopback refusal", args, err)
		}
		if out.Len() != 0 {
			t.Errorf("%v printed figures: %q", args, out.String())
		}
	}
}

func TestBoundsAreEnforced(t *testing.T) {
	var out, errOut bytes.Buffer
	app := newApp(&out, &errOut, func(string) string { return "" })
	if err := app.RunContext(context.Background(), []string{"lcload", "media", "--server", "127.0.0.1:1", "--timeout", "2h"}); err == nil {
		t.Error("a two-hour timeout was accepted")
	}
	if err := app.RunContext(context.Background(), []string{"lcload", "media", "--server", "127.0.0.1:1", "--listeners", "100000"}); err == nil ||
		!strings.Contains(err.Error(), "listeners") {
		t.Errorf("100000 listeners: err = %v", err)
	}
}

// lcload is an independent client of the documented protocol: none of the server's packages
// is among its dependencies (tests may start an in-process server; the tool may not).
func TestImportsNoServerPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "./load").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v: %s", err, out)
	}
	const module = "github.com/minilivechat/minilivechat/"
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, module) && !strings.HasPrefix(p, module+"cmd/lcload") {
			t.Errorf("lcload depends on the server's package %s", p)
		}
	}
}
