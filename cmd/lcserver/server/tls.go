package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/minilivechat/minilivechat/admin/tlscert"
)

// Certificate sources of the TCP port (docs/operations.md §8).
const (
	TLSOff        = "off"
	TLSFiles      = "files"
	TLSSelfSigned = "self-signed"
	TLSACME       = "acme"
)

// Subdirectories of Config.DataDir that TLS uses.
const (
	selfSignedDir = "tls"
	acmeCacheDir  = "acme"
)

// tlsSource names the certificate source the configuration asks for.
func (c Config) tlsSource() string {
	switch {
	case c.TLSCert != "" || c.TLSKey != "":
		return TLSFiles
	case c.TLSSelfSigned:
		return TLSSelfSigned
	case len(c.ACMEDomains) > 0:
		return TLSACME
	}
	return TLSOff
}

// validateTLS adds the TLS problems of c to bad.
func (c Config) validateTLS(bad func(string, ...any)) {
	n := 0
	if c.TLSCert != "" || c.TLSKey != "" {
		n++
		if c.TLSCert == "" || c.TLSKey == "" {
			bad("--tls-cert and --tls-key go together (got cert %q, key %q)", c.TLSCert, c.TLSKey)
		}
	}
	if c.TLSSelfSigned {
		n++
	}
	if len(c.ACMEDomains) > 0 {
		n++
		for _, d := range c.ACMEDomains {
			if d == "" || strings.ContainsAny(d, "/: ") || net.ParseIP(d) != nil {
				bad("--acme-domain %q is not a DNS name (ACME certificates name hosts, not addresses)", d)
			}
		}
	}
	if n > 1 {
		bad("choose one certificate source: --tls-cert/--tls-key, --tls-self-signed or --acme-domain")
	}
	if (c.TLSSelfSigned || len(c.ACMEDomains) > 0) && c.DataDir == "" {
		bad("--tls-self-signed and --acme-domain keep their certificates in --data-dir, which is empty")
	}
	if c.HTTPRedirectPort < 0 || c.HTTPRedirectPort > 65535 {
		bad("http redirect port %d outside 0..65535", c.HTTPRedirectPort)
	}
	if c.HTTPRedirectPort != 0 && n == 0 {
		bad("--http-redirect-port redirects to HTTPS, but no certificate source is set")
	}
	if c.HTTPRedirectPort != 0 && c.HTTPRedirectPort == c.Port {
		bad("--http-redirect-port %d is the HTTPS port itself", c.HTTPRedirectPort)
	}
}

// tlsState is what New set up for TLS; the zero value is plain HTTP.
type tlsState struct {
	source     string
	files      *tlscert.Files    // TLSFiles: reloaded on change and by ReloadCertificate
	selfSigned string            // TLSSelfSigned: the PEM file clients can trust
	acme       *autocert.Manager // TLSACME
	fixed      *tls.Certificate  // TLSSelfSigned
	redirect   *http.Server      // plain-HTTP redirect (HTTPRedirectPort), or nil
	redirectLn net.Listener
}

// setupTLS builds the tls.Config of the TCP port, or nil for plain HTTP.
func (s *Server) setupTLS() (*tls.Config, error) {
	s.tls.source = s.cfg.tlsSource()
	conf := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// HTTP/1.1 only: the WebSocket at /ws is an HTTP/1.1 upgrade, and one protocol keeps
		// the port simple to reason about.
		NextProtos: []string{"http/1.1"},
	}
	switch s.tls.source {
	case TLSOff:
		return nil, nil
	case TLSFiles:
		f, err := tlscert.WatchFiles(s.cfg.TLSCert, s.cfg.TLSKey, s.log.With("component", "tls"))
		if err != nil {
			return nil, err
		}
		s.tls.files = f
		conf.GetCertificate = f.GetCertificate
	case TLSSelfSigned:
		dns, ips := s.selfSignedNames()
		res, err := tlscert.SelfSigned(filepath.Join(s.cfg.DataDir, selfSignedDir), dns, ips, time.Now())
		if err != nil {
			return nil, err
		}
		s.tls.fixed, s.tls.selfSigned = &res.Certificate, res.CertFile
		s.log.Info("self-signed TLS certificate", "created", res.Created, "file", res.CertFile,
			"dns_names", strings.Join(dns, ","), "ips", joinIPs(ips), "not_after", res.Certificate.Leaf.NotAfter)
		conf.Certificates = []tls.Certificate{res.Certificate}
	case TLSACME:
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(filepath.Join(s.cfg.DataDir, acmeCacheDir)),
			HostPolicy: autocert.HostWhitelist(s.cfg.ACMEDomains...),
			Email:      s.cfg.ACMEEmail,
		}
		if s.cfg.ACMEDirectory != "" {
			m.Client = &acme.Client{DirectoryURL: s.cfg.ACMEDirectory}
		}
		s.tls.acme = m
		conf.GetCertificate = m.GetCertificate
		conf.NextProtos = append(conf.NextProtos, acme.ALPNProto) // tls-alpn-01 challenges
		s.log.Info("ACME certificates", "domains", strings.Join(s.cfg.ACMEDomains, ","),
			"cache", filepath.Join(s.cfg.DataDir, acmeCacheDir))
	}
	if leaf := s.Certificate(); leaf != nil {
		s.log.Info("TLS certificate", "source", s.tls.source, "subject", leaf.Subject.CommonName,
			"fingerprint_sha256", tlscert.Fingerprint(leaf.Raw), "spki_sha256", tlscert.SPKIHash(leaf))
	}
	return conf, nil
}

// selfSignedNames are the names a self-signed certificate covers: the host name (and its
// mDNS .local form, which phones on a LAN often resolve), localhost, the advertise IP, a
// specific bind IP, and loopback.
func (s *Server) selfSignedNames() ([]string, []net.IP) {
	var dns []string
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		dns = append(dns, h)
		if !strings.Contains(h, ".") {
			dns = append(dns, h+".local")
		}
	}
	dns = append(dns, "localhost")
	ips := []net.IP{s.advertise}
	if b := net.ParseIP(s.cfg.Bind); b != nil && !b.IsUnspecified() {
		ips = append(ips, b)
	}
	ips = append(ips, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
	var out []net.IP
	for _, ip := range ips {
		if !slices.ContainsFunc(out, ip.Equal) {
			out = append(out, ip)
		}
	}
	return dns, out
}

func joinIPs(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

// listenRedirect binds the plain-HTTP port that sends browsers to HTTPS; with ACME it also
// answers http-01 challenges.
func (s *Server) listenRedirect() error {
	if s.cfg.HTTPRedirectPort == 0 {
		return nil
	}
	addr := net.JoinHostPort(s.cfg.Bind, strconv.Itoa(s.cfg.HTTPRedirectPort))
	ln, err := net.Listen(s.network(), addr)
	if err != nil {
		return fmt.Errorf("listen on %s (http redirect): %w", addr, err)
	}
	var h http.Handler = RedirectToHTTPS(s.Port())
	if s.tls.acme != nil {
		h = s.tls.acme.HTTPHandler(h)
	}
	s.tls.redirectLn = ln
	s.tls.redirect = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: s.http.ErrorLog}
	return nil
}

// RedirectToHTTPS answers every request with a 307 to the same host and path on the HTTPS
// port (307 keeps the method and is not cached, so turning TLS off later strands no browser).
func RedirectToHTTPS(httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if host == "" {
			http.Error(w, "HTTPS only: ask for this page at https:// with a host name", http.StatusBadRequest)
			return
		}
		target := "https://" + net.JoinHostPort(host, strconv.Itoa(httpsPort))
		if httpsPort == 443 {
			target = "https://" + host
			if strings.Contains(host, ":") {
				target = "https://[" + host + "]"
			}
		}
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
}

// runTLS serves what TLS needs besides the port itself (the file watcher, the redirect
// listener) until ctx ends; the returned function waits for them to stop.
func (s *Server) runTLS(ctx context.Context) (wait func()) {
	done := make(chan struct{}, 2)
	n := 0
	if s.tls.files != nil {
		n++
		go func() {
			_ = s.tls.files.Run(ctx)
			_ = s.tls.files.Close()
			done <- struct{}{}
		}()
	}
	if s.tls.redirect != nil {
		n++
		go func() {
			if err := s.tls.redirect.Serve(s.tls.redirectLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Warn("http redirect listener", "err", err)
			}
			done <- struct{}{}
		}()
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = s.tls.redirect.Shutdown(sctx)
		}()
	}
	return func() {
		for range n {
			<-done
		}
	}
}

// closeTLS releases what setupTLS and listenRedirect took when New fails after them.
func (s *Server) closeTLS() {
	if s.tls.files != nil {
		_ = s.tls.files.Close()
	}
	if s.tls.redirectLn != nil {
		_ = s.tls.redirectLn.Close()
	}
}

// TLS is the certificate source of the TCP port: TLSOff, TLSFiles, TLSSelfSigned or TLSACME.
func (s *Server) TLS() string { return s.tls.source }

// Scheme is "https" when the TCP port speaks TLS, else "http".
func (s *Server) Scheme() string {
	if s.tls.source == TLSOff {
		return "http"
	}
	return "https"
}

// Certificate is the certificate new TLS connections get: nil for plain HTTP and for ACME
// (whose certificates are per host name and obtained on first use).
func (s *Server) Certificate() *x509.Certificate {
	var c *tls.Certificate
	switch {
	case s.tls.files != nil:
		c = s.tls.files.Certificate()
	case s.tls.fixed != nil:
		c = s.tls.fixed
	}
	if c == nil {
		return nil
	}
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// SelfSignedCertFile is the PEM file of the self-signed certificate (for lcadmin --tls-ca and
// for users who install it), or "" when the server is not self-signed.
func (s *Server) SelfSignedCertFile() string { return s.tls.selfSigned }

// ReloadCertificate reads --tls-cert/--tls-key again (what SIGHUP does). Connections that are
// up keep going; new ones get the new certificate. Other sources have nothing to reload.
func (s *Server) ReloadCertificate() error {
	if s.tls.files == nil {
		return nil
	}
	return s.tls.files.Reload()
}
