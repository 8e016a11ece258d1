package server

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/admin/tlscert"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// certPair makes a self-signed certificate for 127.0.0.1 whose subject is cn, in its own
// directory, and returns the PEM file paths.
func certPair(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	res, err := tlscert.SelfSigned(dir, []string{cn}, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return res.CertFile, filepath.Join(dir, tlscert.SelfSignedKeyFile)
}

// replaceFile puts the content of from at to the way renewal tools do: write beside, rename.
func replaceFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

// served returns the subject of the certificate a new TLS connection to addr gets.
func served(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // we inspect, not trust
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func poolOf(t *testing.T, certFiles ...string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range certFiles {
		b, err := os.ReadFile(f)
		if err != nil || !pool.AppendCertsFromPEM(b) {
			t.Fatalf("trust %s: %v", f, err)
		}
	}
	return pool
}

// startOnCertFiles starts a TLS server on a copy of the PEM pair cert, key in cert.pem and
// key.pem of a temporary directory, and returns the server and the two file names.
func startOnCertFiles(t *testing.T, cert, key string) (s *testServer, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	replaceFile(t, cert, certFile)
	replaceFile(t, key, keyFile)
	return start(t, func(c *Config) { c.TLSCert, c.TLSKey = certFile, keyFile }), certFile, keyFile
}

// Must show 2 of issue 10: replacing the certificate files under a live server gives new
// connections the new certificate while a WebSocket session established before stays up.
func TestCertificateFilesReplacedUnderALiveServer(t *testing.T) {
	oldCert, oldKey := certPair(t, "old")
	newCert, newKey := certPair(t, "new")
	s, certFile, keyFile := startOnCertFiles(t, oldCert, oldKey)
	addr := "127.0.0.1:" + strconv.Itoa(s.srv.Port())
	if got := served(t, addr); got != "old" {
		t.Fatalf("served %q before the swap, want old", got)
	}

	// A session over wss://, verifying the server against the certificates it may present.
	httpc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(t, oldCert, newCert)}}}
	alice, err := wstest.DialErr("wss://"+addr+"/ws", &websocket.DialOptions{HTTPClient: httpc})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	ready, _, err := alice.IdentifyErr("alice", mintFor(t, "alice", 100), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.RequestErr(opChannelJoin, d{"channel_id": "CH_0001"}); err != nil {
		t.Fatal(err)
	}

	// Renewal writes the key, then the certificate.
	replaceFile(t, newKey, keyFile)
	replaceFile(t, newCert, certFile)
	actortest.Eventually(t, 5*time.Second, "new connections get the new certificate", func() bool { return served(t, addr) == "new" })

	// The session from before is the same session, still answering over its connection.
	if c, closed := alice.ClosedInfo(); closed {
		t.Fatalf("the WebSocket established before the swap closed: %+v", c)
	}
	ack, err := alice.RequestErr(15, nil) // CHANNEL_LIST
	if err != nil {
		t.Fatalf("the session established before the swap no longer answers: %v", err)
	}
	if !strings.Contains(string(ack.D), "CH_0001") {
		t.Fatalf("CHANNEL_LIST after the swap = %s", ack.D)
	}
	bob, err := wstest.DialErr("wss://"+addr+"/ws", &websocket.DialOptions{HTTPClient: httpc})
	if err != nil {
		t.Fatalf("a new session after the swap: %v", err)
	}
	defer bob.Close()
	bobReady, _, err := bob.IdentifyErr("bob", mintFor(t, "bob", 100), -1)
	if err != nil {
		t.Fatal(err)
	}
	if bobReady.SessionID == ready.SessionID {
		t.Fatal("two sessions share an id")
	}
	if got := s.srv.Certificate().Subject.CommonName; got != "new" {
		t.Fatalf("Server.Certificate = %q after the swap", got)
	}
}

// SIGHUP's path: ReloadCertificate swaps a pair that changed without a file event being seen,
// and a pair that does not load keeps the old certificate.
func TestReloadCertificateKeepsServingOnABadPair(t *testing.T) {
	oldCert, oldKey := certPair(t, "old")
	_, newKey := certPair(t, "new")
	s, _, keyFile := startOnCertFiles(t, oldCert, oldKey)
	replaceFile(t, newKey, keyFile) // key of another certificate
	if err := s.srv.ReloadCertificate(); err == nil {
		t.Fatal("a mismatched pair loaded")
	}
	if got := served(t, "127.0.0.1:"+strconv.Itoa(s.srv.Port())); got != "old" {
		t.Fatalf("served %q after a failed reload, want old", got)
	}
}

func TestSelfSignedServerIsTrustedThroughItsCertFile(t *testing.T) {
	data := t.TempDir()
	s := start(t, func(c *Config) { c.TLSSelfSigned, c.DataDir = true, data })
	if s.srv.Scheme() != "https" || s.srv.TLS() != TLSSelfSigned {
		t.Fatalf("scheme %s, source %s", s.srv.Scheme(), s.srv.TLS())
	}
	pem := s.srv.SelfSignedCertFile()
	if filepath.Dir(pem) != filepath.Join(data, "tls") {
		t.Fatalf("self-signed certificate kept at %s, want under %s/tls", pem, data)
	}
	httpc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(t, pem)}}}
	defer httpc.CloseIdleConnections()
	res, err := httpc.Get("https://127.0.0.1:" + strconv.Itoa(s.srv.Port()) + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over https with the certificate trusted: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", res.StatusCode)
	}
	leaf := s.srv.Certificate()
	if leaf.Subject.CommonName == "" || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("self-signed certificate names %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	fp := tlscert.Fingerprint(leaf.Raw)
	// Plain HTTP on the TLS port is told so (net/http's 400), not served.
	if res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(s.srv.Port()) + "/healthz"); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "HTTPS") {
			t.Fatalf("plain HTTP on the TLS port: %d %s", res.StatusCode, b)
		}
	}

	// A second start with the same data directory keeps the certificate (and fingerprint).
	again := start(t, func(c *Config) { c.TLSSelfSigned, c.DataDir = true, data })
	if got := tlscert.Fingerprint(again.srv.Certificate().Raw); got != fp {
		t.Fatalf("fingerprint changed across starts: %s then %s", fp, got)
	}
}

func TestACMERefusesHostsOutsideItsDomains(t *testing.T) {
	s := start(t, func(c *Config) { c.ACMEDomains, c.DataDir = []string{"ptt.example.org"}, t.TempDir() })
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.srv.Port()), &tls.Config{ServerName: "other.example.org"})
	if err == nil {
		conn.Close()
		t.Fatal("ACME server completed a handshake for a host it was not configured for")
	}
	if s.srv.Scheme() != "https" || s.srv.Certificate() != nil {
		t.Fatalf("scheme %s, certificate %v", s.srv.Scheme(), s.srv.Certificate())
	}
}

func TestRedirectToHTTPS(t *testing.T) {
	for _, tc := range []struct {
		port       int
		host, path string
		want       string
	}{
		{8443, "192.168.1.10:8080", "/?user=bob", "https://192.168.1.10:8443/?user=bob"},
		{443, "ptt.example.org", "/ws", "https://ptt.example.org/ws"},
		{8443, "[fe80::1]:80", "/", "https://[fe80::1]:8443/"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Host = tc.host
		RedirectToHTTPS(tc.port).ServeHTTP(rec, req)
		if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != tc.want {
			t.Errorf("%s%s → %d %s, want 307 %s", tc.host, tc.path, rec.Code, rec.Header().Get("Location"), tc.want)
		}
	}
}

func TestHTTPRedirectPortSendsBrowsersToHTTPS(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0") // find a free port for the redirect listener
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := start(t, func(c *Config) { c.TLSSelfSigned, c.DataDir, c.HTTPRedirectPort = true, t.TempDir(), port })
	httpc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := httpc.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/?user=bob")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	want := "https://127.0.0.1:" + strconv.Itoa(s.srv.Port()) + "/?user=bob"
	if res.StatusCode != http.StatusTemporaryRedirect || res.Header.Get("Location") != want {
		t.Fatalf("redirect port answered %d %s, want 307 %s", res.StatusCode, res.Header.Get("Location"), want)
	}
}

func TestTLSConfigurationErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"cert without key", Config{TLSCert: "c.pem"}, "go together"},
		{"two sources", Config{TLSCert: "c", TLSKey: "k", TLSSelfSigned: true, DataDir: "/x"}, "choose one"},
		{"self-signed without data dir", Config{TLSSelfSigned: true}, "--data-dir"},
		{"acme for an address", Config{ACMEDomains: []string{"192.0.2.1"}, DataDir: "/x"}, "not a DNS name"},
		{"redirect without tls", Config{HTTPRedirectPort: 80}, "no certificate source"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Config{TLSCert: "/nonexistent/c.pem", TLSKey: "/nonexistent/k.pem", Port: 0, UDPPort: 0,
		Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Secret: testSecret, Logger: testLogger()}); err == nil || !strings.Contains(err.Error(), "/nonexistent/c.pem") {
		t.Fatalf("missing certificate files: %v", err)
	}
}
