package tlscert

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedIsKeptAcrossStartsAndRenewedWhenNamesChange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	ips := []net.IP{net.ParseIP("192.0.2.10"), net.ParseIP("127.0.0.1")}
	first, err := SelfSigned(dir, []string{"gw", "localhost"}, ips, now)
	if err != nil || !first.Created {
		t.Fatalf("first start: created=%v err=%v", first.Created, err)
	}
	leaf := first.Certificate.Leaf
	if !slicesEqual(leaf.DNSNames, []string{"gw", "localhost"}) || len(leaf.IPAddresses) != 2 {
		t.Fatalf("names %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if err := leaf.VerifyHostname("192.0.2.10"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, SelfSignedKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", st.Mode(), err)
	}

	again, err := SelfSigned(dir, []string{"gw"}, ips[:1], now.Add(24*time.Hour))
	if err != nil || again.Created {
		t.Fatalf("second start: created=%v err=%v, want the kept certificate", again.Created, err)
	}
	if Fingerprint(again.Certificate.Certificate[0]) != Fingerprint(first.Certificate.Certificate[0]) {
		t.Fatal("fingerprint changed across starts")
	}

	moved, err := SelfSigned(dir, []string{"gw"}, []net.IP{net.ParseIP("192.0.2.99")}, now)
	if err != nil || !moved.Created {
		t.Fatalf("new advertise IP: created=%v err=%v, want a new certificate", moved.Created, err)
	}
	old, err := SelfSigned(dir, []string{"gw"}, []net.IP{net.ParseIP("192.0.2.99")}, now.Add(380*24*time.Hour))
	if err != nil || !old.Created {
		t.Fatalf("near expiry: created=%v err=%v, want a new certificate", old.Created, err)
	}
}

func TestFingerprintFormatsAndParses(t *testing.T) {
	fp := Fingerprint([]byte("x"))
	if len(fp) != 32*3-1 || strings.ToUpper(fp) != fp || strings.Count(fp, ":") != 31 {
		t.Fatalf("Fingerprint = %q", fp)
	}
	for _, in := range []string{fp, strings.ToLower(strings.ReplaceAll(fp, ":", ""))} {
		if b, err := ParseFingerprint(in); err != nil || len(b) != 32 {
			t.Fatalf("ParseFingerprint(%q) = %x, %v", in, b, err)
		}
	}
	if _, err := ParseFingerprint("AB:CD"); err != ErrBadFingerprint {
		t.Fatalf("short pin: %v", err)
	}
}

func TestFilesReloadKeepsTheOldCertificateUntilThePairLoads(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "one")
	f, err := WatchFiles(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := leafOf(t, f); got.Subject.CommonName != "one" {
		t.Fatalf("loaded %q", got.Subject.CommonName)
	}
	// Half a renewal: the new certificate without its key. The old pair keeps serving.
	b := writePair(t, filepath.Join(dir, "next"), "two")
	copyFile(t, b.cert, filepath.Join(dir, "cert.pem"))
	if err := f.Reload(); err == nil {
		t.Fatal("a certificate with the wrong key loaded")
	}
	if got := leafOf(t, f); got.Subject.CommonName != "one" {
		t.Fatalf("after a failed reload: %q", got.Subject.CommonName)
	}
	copyFile(t, b.key, filepath.Join(dir, "key.pem"))
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := leafOf(t, f); got.Subject.CommonName != "two" {
		t.Fatalf("after the reload: %q", got.Subject.CommonName)
	}
}

func TestFilesRunReloadsWhenTheFilesAreReplaced(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "one")
	f, err := WatchFiles(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done; f.Close() }()

	b := writePair(t, filepath.Join(dir, "next"), "two")
	// The way renewal tools do it: write beside, rename over.
	for _, p := range [][2]string{{b.key, "key.pem"}, {b.cert, "cert.pem"}} {
		tmp := filepath.Join(dir, "."+p[1]+".tmp")
		copyFile(t, p[0], tmp)
		if err := os.Rename(tmp, filepath.Join(dir, p[1])); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for leafOf(t, f).Subject.CommonName != "two" {
		if time.Now().After(deadline) {
			t.Fatal("the replaced files were not picked up within 5s")
		}
		time.Sleep(10 * time.Millisecond) // polling the swap, bounded by deadline
	}
}

type pair struct{ cert, key string }

// writePair writes a self-signed pair with common name cn as dir/cert.pem and dir/key.pem.
func writePair(t *testing.T, dir, cn string) pair {
	t.Helper()
	certPEM, keyPEM, err := generate([]string{cn}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := pair{filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(p.cert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func leafOf(t *testing.T, f *Files) *x509.Certificate {
	t.Helper()
	c := f.Certificate()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }
