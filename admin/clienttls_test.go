package admin_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/admin/admintest"
	"github.com/minilivechat/minilivechat/admin/tlscert"
)

func TestClientOverHTTPS(t *testing.T) {
	e := echo.New()
	admin.Mount(e, admin.Options{Backend: admintest.New(testNow)})
	srv := httptest.NewTLSServer(e)
	defer srv.Close()
	leaf := srv.Certificate()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM(leaf.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	status := func(o admin.TLSOptions) error {
		hc, err := o.HTTPClient()
		if err != nil {
			return err
		}
		defer hc.CloseIdleConnections()
		_, err = (&admin.Client{BaseURL: srv.URL, HTTP: hc}).Status(context.Background())
		return err
	}
	if err := status(admin.TLSOptions{}); err == nil {
		t.Fatal("an untrusted certificate was accepted with the system roots")
	}
	for name, o := range map[string]admin.TLSOptions{
		"ca file":     {CAFile: caFile},
		"fingerprint": {Fingerprint: tlscert.Fingerprint(leaf.Raw)},
		"insecure":    {Insecure: true},
	} {
		if err := status(o); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	wrong := tlscert.Fingerprint([]byte("another certificate"))
	if err := status(admin.TLSOptions{Fingerprint: wrong}); !errors.Is(err, admin.ErrFingerprintMismatch) {
		t.Fatalf("wrong pin: %v", err)
	}
	if _, err := (admin.TLSOptions{Fingerprint: "AB:CD"}).Config(); err == nil {
		t.Fatal("a short pin was accepted")
	}
	if _, err := (admin.TLSOptions{CAFile: "/nonexistent.pem"}).Config(); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
