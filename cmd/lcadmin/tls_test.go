package main

import (
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/admin/tlscert"
	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway/token"
)

// lcadmin against a self-signed HTTPS lcserver: trusted by its certificate file, pinned by
// fingerprint, or unauthenticated with --insecure; every other way fails with a hint. The
// generous --timeout is for a loaded machine: the first use of the system roots parses them.
func TestLcadminOverHTTPS(t *testing.T) {
	srv, stop, err := server.Start(server.Config{
		Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Version: "v-tls", Secret: liveSecret,
		TLSSelfSigned: true, DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	port := strconv.Itoa(srv.Port())
	fp := tlscert.Fingerprint(srv.Certificate().Raw)
	for name, args := range map[string][]string{
		"ca file":     {"--tls-ca", srv.SelfSignedCertFile()},
		"fingerprint": {"--tls-fingerprint", strings.ToLower(strings.ReplaceAll(fp, ":", ""))},
		"insecure":    {"--insecure"},
	} {
		out, errOut, code := lcadminLive(t, append(append([]string{"--port", port, "--timeout", "30s"}, args...), "--json", "status")...)
		if code != 0 || !strings.Contains(out, `"version":"v-tls"`) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"plain http to the TLS port": {nil, "pass --tls"},
		"system roots":               {[]string{"--tls"}, "trust the server with --tls-ca"},
		"wrong pin":                  {[]string{"--tls-fingerprint", tlscert.Fingerprint([]byte("x"))}, "check --tls-fingerprint"},
	} {
		_, errOut, code := lcadminLive(t, append(append([]string{"--port", port, "--timeout", "30s"}, tc.args...), "status")...)
		if code != 1 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q, want one line with %q", name, code, errOut, tc.want)
		}
	}
	// And the other way round: TLS flags against a plain-HTTP server.
	plainPort, _ := liveServer(t, "")
	_, errOut, code := lcadminLive(t, "--port", plainPort, "--timeout", "30s", "--insecure", "status")
	if code != 1 || !strings.Contains(errOut, "speaks plain HTTP") {
		t.Errorf("--insecure to plain HTTP: exit %d, stderr %q", code, errOut)
	}
}

// token --url prints a link that signs the user in on the web client (the LAN setup of the
// README): the page at that address, ?user= and a token the server accepts.
func TestTokenURLPrintsASignInLink(t *testing.T) {
	t.Setenv("LIVECHAT_SECRET", liveSecret)
	out, errOut, code := lcadminLive(t, "token", "--user", "alice", "--url", "https://192.168.1.10:8443")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	u, err := url.Parse(strings.TrimSpace(out))
	if err != nil || u.Scheme != "https" || u.Host != "192.168.1.10:8443" || u.Path != "/" || u.Query().Get("user") != "alice" {
		t.Fatalf("link %q: %v", out, err)
	}
	if c, err := token.Verify([]byte(liveSecret), u.Query().Get("token"), time.Now()); err != nil || c.UserID != "alice" {
		t.Fatalf("the link's token: %+v %v", c, err)
	}
	if _, errOut, code := lcadminLive(t, "token", "--user", "alice", "--url", "192.168.1.10:8443"); code != 1 || !strings.Contains(errOut, "--url") {
		t.Fatalf("a bare address: exit %d, %q", code, errOut)
	}
}
