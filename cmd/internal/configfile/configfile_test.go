package configfile

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// app has one flag of each kind Wrap knows, plus the config flag; it records what it saw.
func app(got *map[string]any) *cli.App {
	a := &cli.App{
		Writer: io.Discard, ErrWriter: io.Discard,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config"},
			&cli.StringFlag{Name: "name", Value: "default", EnvVars: []string{"CONFIGFILE_TEST_NAME"}},
			&cli.BoolFlag{Name: "on"},
			&cli.IntFlag{Name: "port", Value: 1},
			&cli.DurationFlag{Name: "wait", Value: time.Second},
			&cli.Float64Flag{Name: "rate"},
		},
		Action: func(c *cli.Context) error {
			*got = map[string]any{"name": c.String("name"), "on": c.Bool("on"), "port": c.Int("port"),
				"wait": c.Duration("wait"), "rate": c.Float64("rate")}
			return nil
		},
	}
	a.Flags = Wrap(a.Flags)
	a.Before = Before(a.Flags, "config", map[string]string{"secret": "environment only"})
	return a
}

func file(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileFillsWhatFlagsAndEnvironmentLeaveOpen(t *testing.T) {
	p := file(t, "name: file\non: true\nport: 8443\nwait: 3s\nrate: 2.5\n")
	var got map[string]any
	if err := app(&got).Run([]string{"x", "--config", p}); err != nil {
		t.Fatal(err)
	}
	if got["name"] != "file" || got["on"] != true || got["port"] != 8443 || got["wait"] != 3*time.Second || got["rate"] != 2.5 {
		t.Fatalf("from the file: %v", got)
	}
	t.Setenv("CONFIGFILE_TEST_NAME", "env")
	if err := app(&got).Run([]string{"x", "--config", p, "--port", "9"}); err != nil {
		t.Fatal(err)
	}
	if got["name"] != "env" || got["port"] != 9 || got["on"] != true {
		t.Fatalf("flag and environment over the file: %v", got)
	}
	if err := app(&got).Run([]string{"x"}); err != nil || got["port"] != 1 {
		t.Fatalf("without a file: %v %v", got, err)
	}
}

func TestFileMistakes(t *testing.T) {
	for body, want := range map[string]string{
		"prot: 1\nnmae: x\n": "unknown setting nmae, prot",
		"secret: x\n":        "environment only",
		"config: other\n":    "another config file",
		"- a\n- b\n":         "not YAML of key: value",
	} {
		var got map[string]any
		err := app(&got).Run([]string{"x", "--config", file(t, body)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
