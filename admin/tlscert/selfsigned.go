package tlscert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Self-signed certificate files inside the directory given to SelfSigned.
const (
	SelfSignedCertFile = "self-signed-cert.pem"
	SelfSignedKeyFile  = "self-signed-key.pem"
)

// selfSignedValidity stays within the 398 days Apple's platforms accept for a TLS server
// certificate, even a user-trusted one; renewBefore is how close to expiry a start makes a
// new one.
const (
	selfSignedValidity = 397 * 24 * time.Hour
	renewBefore        = 30 * 24 * time.Hour
)

// SelfSignedResult is the certificate SelfSigned returns and whether it was made just now.
type SelfSignedResult struct {
	Certificate tls.Certificate
	Created     bool   // false: the one kept in the directory was reused
	CertFile    string // where it is kept (PEM), for clients to trust
}

// SelfSigned returns the self-signed certificate kept in dir, making a new one (ECDSA P-256,
// 397 days) when there is none, when it does not cover every name in dnsNames and every
// address in ips, or when it expires within 30 days. Keeping it across restarts keeps its
// fingerprint, so users trust it once. dir is created (0700) when missing; the key is written
// 0600.
func SelfSigned(dir string, dnsNames []string, ips []net.IP, now time.Time) (SelfSignedResult, error) {
	certPath, keyPath := filepath.Join(dir, SelfSignedCertFile), filepath.Join(dir, SelfSignedKeyFile)
	res := SelfSignedResult{CertFile: certPath}
	// A missing, damaged or outdated pair is replaced rather than fatal: only lcserver
	// writes these files.
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && covers(c.Leaf, dnsNames, ips, now) {
		res.Certificate = c
		return res, nil
	}
	certPEM, keyPEM, err := generate(dnsNames, ips, now)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("self-signed certificate directory: %w", err)
	}
	if err := writeAtomic(keyPath, keyPEM, 0o600); err != nil {
		return res, err
	}
	if err := writeAtomic(certPath, certPEM, 0o644); err != nil {
		return res, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return res, fmt.Errorf("self-signed certificate: %w", err)
	}
	res.Certificate, res.Created = c, true
	return res, nil
}

// covers reports whether leaf names every DNS name and IP and stays valid past renewBefore.
func covers(leaf *x509.Certificate, dnsNames []string, ips []net.IP, now time.Time) bool {
	if leaf == nil || now.Add(renewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return false
	}
	for _, n := range dnsNames {
		if !slices.Contains(leaf.DNSNames, n) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func generate(dnsNames []string, ips []net.IP, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed serial: %w", err)
	}
	cn := "lcserver"
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"mini-livechat self-signed"}},
		NotBefore:             now.Add(-time.Hour), // tolerate a client clock slightly behind
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed key: %w", err)
	}
	var cb, kb bytes.Buffer
	_ = pem.Encode(&cb, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&kb, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return cb.Bytes(), kb.Bytes(), nil
}

// writeAtomic writes data to a temporary file beside path and renames it over path, so a
// reader never sees half a file.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(mode); err == nil {
		_, err = tmp.Write(data)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
