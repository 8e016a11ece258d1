package main

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway/token"
)

// parse runs the app with args and an environment, capturing the config instead of serving.
func parse(t *testing.T, env map[string]string, args ...string) (server.Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	getenv := func(k string) string { return env[k] }
	var got server.Config
	app := newApp(io.Discard, io.Discard, getenv)
	app.Action = func(c *cli.Context) error {
		var err error
		got, err = configFrom(c, getenv)
		return err
	}
	err := app.Run(append([]string{"lcserver"}, args...))
	return got, err
}

func TestFlagsAndEnvironment(t *testing.T) {
	cfg, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8080 || cfg.UDPPort != 10000 || cfg.Bind != "0.0.0.0" || cfg.AdvertiseIP != "auto" ||
		cfg.HeartbeatInterval != 10*time.Second || cfg.Secret != token.DefaultSecret || cfg.MaxMessageLength != 2000 {
		t.Fatalf("defaults = %+v", cfg)
	}

	cfg, err = parse(t, map[string]string{
		"LIVECHAT_PORT": "9000", "LIVECHAT_UDP_PORT": "11000", "LIVECHAT_ADVERTISE_IP": "10.0.0.5",
		"LIVECHAT_HEARTBEAT_INTERVAL": "3s", "LIVECHAT_FLOOR_MAX_DURATION": "45s",
		"LIVECHAT_ALLOWED_ORIGINS": "a.example, *.b.example", "LIVECHAT_SECRET": "s3cret",
		"LIVECHAT_ADMIN_TOKEN": "adm", "LIVECHAT_CHANNELS": "/etc/ch.yaml", "LIVECHAT_MAX_MESSAGE_LENGTH": "500",
	}, "--port", "9100")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9100 || cfg.UDPPort != 11000 || cfg.AdvertiseIP != "10.0.0.5" || cfg.HeartbeatInterval != 3*time.Second ||
		cfg.FloorMaxDuration != 45*time.Second || cfg.Secret != "s3cret" || cfg.AdminToken != "adm" ||
		cfg.ChannelsFile != "/etc/ch.yaml" || len(cfg.AllowedOrigins) != 2 || cfg.AllowedOrigins[1] != "*.b.example" ||
		cfg.MaxMessageLength != 500 {
		t.Fatalf("flag over env, env over default: %+v", cfg)
	}
	if _, err := parse(t, nil, "--log-level", "loud"); err == nil {
		t.Fatal("bad --log-level accepted")
	}
}

func TestDevIsRefusedWithACustomSecret(t *testing.T) {
	if _, err := parse(t, map[string]string{"LIVECHAT_SECRET": "mine"}, "--dev"); err == nil {
		t.Fatal("--dev accepted with a custom LIVECHAT_SECRET")
	}
	if _, err := parse(t, map[string]string{"LIVECHAT_SECRET": token.DefaultSecret}, "--dev"); err != nil {
		t.Fatalf("--dev with the default secret: %v", err)
	}
}

func TestDevBannerHasWorkingTokensAndLinks(t *testing.T) {
	var b bytes.Buffer
	now := time.Now()
	if err := printDevBanner(&b, "http://127.0.0.1:8080", 8080, []byte(token.DefaultSecret), now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	links := regexp.MustCompile(`http://127\.0\.0\.1:8080/\?user=(\w+)&token=(\S+)`).FindAllStringSubmatch(out, -1)
	if len(links) != 3 {
		t.Fatalf("banner has %d web links, want 3:\n%s", len(links), out)
	}
	wantMax := map[string]int{"alice": 100, "bob": 100, "carol": 255}
	for _, l := range links {
		tok, _ := url.QueryUnescape(l[2])
		c, err := token.Verify([]byte(token.DefaultSecret), tok, now)
		if err != nil || c.UserID != l[1] || c.MaxPriority != wantMax[l[1]] {
			t.Fatalf("token for %s: %+v %v", l[1], c, err)
		}
	}
	if !strings.Contains(out, "lcadmin --port 8080") {
		t.Fatalf("banner lacks an lcadmin example:\n%s", out)
	}
}

func TestRunServesUntilCanceled(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := server.Config{Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Dev: true}
	go func() { done <- run(ctx, cfg, &out) }()
	// run prints the banner before serving; cancel as soon as the server is up.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if !strings.Contains(out.String(), "DEV MODE") {
			t.Fatalf("--dev printed no banner: %q", out.String())
		}
	case <-time.After(2 * server.ShutdownTimeout):
		t.Fatal("run did not return after cancel")
	}
}

// Without LIVECHAT_SECRET outside --dev the server refuses to start and says why; --dev
// listens and advertises on loopback unless told otherwise, and refuses a public bind.
func TestNoSecretRefusedOutsideDevAndDevBindsLoopback(t *testing.T) {
	cfg, err := parse(t, nil, "--port", "0", "--udp-port", "0")
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "LIVECHAT_SECRET is not set") {
		t.Fatalf("start without LIVECHAT_SECRET: %v, want a refusal naming LIVECHAT_SECRET", err)
	}

	cfg, err = parse(t, nil, "--dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("--dev refused: %v", err)
	}
	if cfg.Bind != "" || cfg.AdvertiseIP != "" {
		t.Fatalf("--dev kept bind %q advertise %q, want the loopback defaults", cfg.Bind, cfg.AdvertiseIP)
	}
	cfg, _ = parse(t, nil, "--dev", "--bind", "0.0.0.0")
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("--dev --bind 0.0.0.0: %v, want a refusal naming loopback", err)
	}
}

func TestBadFrameLimitBelowMinusOneIsAConfigError(t *testing.T) {
	cfg, err := parse(t, map[string]string{"LIVECHAT_SECRET": "s"}, "--bad-frame-limit", "-5")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "bad-frame limit -5") {
		t.Fatalf("--bad-frame-limit -5: %v, want a clear config error", err)
	}
	cfg, _ = parse(t, map[string]string{"LIVECHAT_SECRET": "s"}, "--bad-frame-limit", "-1")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("--bad-frame-limit -1 (off): %v", err)
	}
}
