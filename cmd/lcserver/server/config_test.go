package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/gateway/token"
)

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	if err := (Config{Secret: "s"}).Validate(); err != nil {
		t.Fatalf("zero config (all defaults) with a secret refused: %v", err)
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "LIVECHAT_SECRET") {
		t.Fatalf("zero config without a secret: %v, want a refusal naming LIVECHAT_SECRET", err)
	}
	if err := (Config{Dev: true}).Validate(); err != nil {
		t.Fatalf("dev mode with the default secret refused: %v", err)
	}
	bad := Config{Port: 70000, UDPPort: -1, Bind: "localhost", AdvertiseIP: "0.0.0.0",
		HeartbeatInterval: -time.Second, QueueLimit: -1, MaxFrameBytes: 10, BadFrameLimit: -2,
		AllowedOrigins: []string{" "}, Dev: true, Secret: "custom"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"port 70000", "udp port -1", "bind address", "advertise IP", "heartbeat interval",
		"queue limit", "max frame size", "bad-frame limit", "allowed-origins", "--dev"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := (Config{Dev: true, Secret: token.DefaultSecret}).Validate(); err != nil {
		t.Fatalf("--dev with the default secret refused: %v", err)
	}
}

func TestNewRefusesABadConfigAndABusyPort(t *testing.T) {
	if _, err := New(Config{Port: -5}); err == nil {
		t.Fatal("New accepted port -5")
	}
	s := start(t, nil)
	_, err := New(Config{Port: s.srv.Port(), Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Secret: testSecret, Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("second server on a busy port: %v, want a listen error", err)
	}
}

func TestPresetChannelsFromJSONAndYAML(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jsonFile := write("ch.json", `[{"channel_id":"ops","freq":"1","channel_name":"Ops","capacity":5},{"channel_id":"all","freq":"2","channel_name":"All"}]`)
	yamlFile := write("ch.yaml", "channels:\n  - channel_id: yard\n    freq: \"7\"\n    channel_name: Yard\n    capacity: 3\n")
	for file, want := range map[string][]string{jsonFile: {"all", "ops"}, yamlFile: {"yard"}} {
		specs, err := LoadChannels(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(specs) != len(want) {
			t.Fatalf("%s: %+v", file, specs)
		}
	}
	specs, _ := LoadChannels(jsonFile)
	if specs[1].Capacity != 20 {
		t.Fatalf("capacity default = %d, want 20", specs[1].Capacity)
	}

	for name, body := range map[string]string{
		"dup.json":      `[{"channel_id":"a"},{"channel_id":"a"}]`,
		"badid.json":    `[{"channel_id":"a b"}]`,
		"empty.json":    `[]`,
		"unknown.json":  `[{"channel_id":"a","colour":"red"}]`,
		"longname.json": `[{"channel_id":"a","channel_name":"` + strings.Repeat("x", 101) + `"}]`,
		"negcap.json":   `[{"channel_id":"a","capacity":-1}]`,
		"broken.yaml":   "channels: [",
	} {
		if _, err := LoadChannels(write(name, body)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := LoadChannels(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}

	// The server starts with exactly the file's channels.
	s := start(t, func(c *Config) { c.ChannelsFile = yamlFile })
	alice := s.client("alice", 100)
	list := alice.Request(opChannelList, nil).Map()
	chans, _ := list["channels"].([]any)
	if len(chans) != 1 || chans[0].(map[string]any)["channel_id"] != "yard" {
		t.Fatalf("channels = %v, want only yard", list)
	}
	if _, err := New(Config{ChannelsFile: write("bad.json", "[{"), Secret: testSecret}); err == nil {
		t.Fatal("New accepted a broken channels file")
	}
}

func TestAutoAdvertiseIPIsAUsableAddress(t *testing.T) {
	ip, err := AutoAdvertiseIP()
	if err != nil {
		t.Skipf("no route on this machine: %v", err) // the server then falls back to loopback
	}
	if ip.IsUnspecified() || ip.To4() == nil {
		t.Fatalf("auto advertise IP %v", ip)
	}
}
