package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway/token"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lcserver.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFileSetsFlagsAndFlagsAndEnvironmentWin(t *testing.T) {
	p := writeConfig(t, `
port: 8443
udp-port: 10002
tls-self-signed: true
data-dir: /var/lib/lcserver
floor-max-duration: 45s
rate-limit: 7.5
allowed-origins: "ptt.example.org, *.lan"
log-level: debug
`)
	cfg, err := parse(t, nil, "--config", p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8443 || cfg.UDPPort != 10002 || !cfg.TLSSelfSigned || cfg.DataDir != "/var/lib/lcserver" ||
		cfg.FloorMaxDuration != 45*time.Second || cfg.RateLimit != 7.5 || len(cfg.AllowedOrigins) != 2 {
		t.Fatalf("config file not applied: %+v", cfg)
	}
	cfg, err = parse(t, map[string]string{"LIVECHAT_CONFIG": p, "LIVECHAT_UDP_PORT": "11000"}, "--port", "9000")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9000 || cfg.UDPPort != 11000 || !cfg.TLSSelfSigned {
		t.Fatalf("flag and environment must win over the file: port %d udp %d", cfg.Port, cfg.UDPPort)
	}
}

func TestConfigFileMistakesAreErrors(t *testing.T) {
	for body, want := range map[string]string{
		"prot: 8443\n":             `unknown setting prot`,
		"secret: hunter2\n":        "LIVECHAT_SECRET",
		"config: /etc/other.yml\n": "another config file",
		"port: [1, 2]\n":           "port",
		"port 8443\n":              "not YAML",
	} {
		_, err := parse(t, nil, "--config", writeConfig(t, body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: %v, want an error with %q", body, err, want)
		}
	}
	if _, err := parse(t, nil, "--config", "/nonexistent/lcserver.yaml"); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestTLSFlagsAndDataDirectory(t *testing.T) {
	cfg, err := parse(t, map[string]string{"HOME": "/home/op"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/home/op/.local/state/lcserver" || cfg.TLSSelfSigned || cfg.TLSCert != "" {
		t.Fatalf("defaults: data dir %q, tls %+v", cfg.DataDir, cfg)
	}
	cfg, err = parse(t, map[string]string{"HOME": "/home/op", "XDG_STATE_HOME": "/state"})
	if err != nil || cfg.DataDir != "/state/lcserver" {
		t.Fatalf("XDG_STATE_HOME: %q %v", cfg.DataDir, err)
	}
	cfg, err = parse(t, map[string]string{"LIVECHAT_DATA_DIR": "/srv/lc", "LIVECHAT_TLS_CERT": "/c.pem"},
		"--tls-key", "/k.pem", "--acme-domain", "a.example, b.example", "--http-redirect-port", "80")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/srv/lc" || cfg.TLSCert != "/c.pem" || cfg.TLSKey != "/k.pem" || cfg.HTTPRedirectPort != 80 ||
		len(cfg.ACMEDomains) != 2 || cfg.ACMEDomains[1] != "b.example" {
		t.Fatalf("TLS flags: %+v", cfg)
	}
}

func TestRunWithSelfSignedPrintsTheFingerprintAndHTTPSLinks(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve nothing: run prints what it prints at start, then shuts down
	cfg := server.Config{Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Dev: true,
		TLSSelfSigned: true, DataDir: t.TempDir(), Secret: token.DefaultSecret}
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !regexp.MustCompile(`SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}`).MatchString(s) {
		t.Fatalf("no fingerprint printed:\n%s", s)
	}
	if !regexp.MustCompile(`web:   https://127\.0\.0\.1:\d+/\?user=alice&token=`).MatchString(s) ||
		!strings.Contains(s, "--insecure status") || !strings.Contains(s, filepath.Join(cfg.DataDir, "tls")) ||
		!regexp.MustCompile(`web client: +https://127\.0\.0\.1:\d+/\n  sign-in links: +lcadmin token --user NAME --url https://127\.0\.0\.1:\d+ `).MatchString(s) {
		t.Fatalf("dev banner over TLS:\n%s", s)
	}
}

func TestSIGHUPReloads(t *testing.T) {
	hup := make(chan os.Signal)
	reloads := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n := 0
	go func() {
		reloadOnHUP(ctx, hup, func() error {
			n++
			reloads <- struct{}{}
			if n == 2 {
				return errors.New("bad pair")
			}
			return nil
		}, nil)
		close(done)
	}()
	for range 2 {
		hup <- syscall.SIGHUP
		<-reloads
	}
	cancel()
	<-done
}

// The config file the Debian package installs is valid for this lcserver.
func TestPackagedConfigFileLoads(t *testing.T) {
	cfg, err := parse(t, nil, "--config", filepath.Join("..", "..", "deploy", "lcserver.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8443 || !cfg.TLSSelfSigned || cfg.DataDir != "/var/lib/lcserver" {
		t.Fatalf("deploy/lcserver.yaml gives %+v", cfg)
	}
	cfg.Secret = "from-secret.env" // the unit's EnvironmentFile gives it
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
