package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/minilivechat/minilivechat/admin/tlscert"
)

// TLSOptions says how a Client trusts an HTTPS server (lcadmin --tls-ca, --tls-fingerprint,
// --insecure). The zero value trusts the system's certificate authorities.
type TLSOptions struct {
	// CAFile is a PEM file of the certificates to trust instead of the system's: a private
	// CA, or the server's self-signed certificate itself (its data directory keeps it).
	CAFile string
	// Fingerprint pins the server's certificate by its SHA-256 (the one lcserver prints at
	// start): that certificate is accepted whatever its names and issuer, any other refused.
	Fingerprint string
	// Insecure accepts any certificate: the connection is encrypted but not authenticated.
	Insecure bool
}

// ErrFingerprintMismatch indicates that the server presented a certificate other than the
// pinned one.
var ErrFingerprintMismatch = errors.New("server certificate does not match the pinned SHA-256 fingerprint")

// HTTPClient builds the http.Client for o.
func (o TLSOptions) HTTPClient() (*http.Client, error) {
	conf, err := o.Config()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = conf
	return &http.Client{Transport: tr}, nil
}

// Config builds the tls.Config for o.
func (o TLSOptions) Config() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", o.CAFile)
		}
		conf.RootCAs = pool
	}
	if o.Fingerprint != "" {
		pin, err := tlscert.ParseFingerprint(o.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("--tls-fingerprint: %w", err)
		}
		// The pin replaces chain and name checks (a self-signed certificate has neither);
		// VerifyConnection still runs on every handshake, resumed ones included.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrFingerprintMismatch
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if !bytes.Equal(got[:], pin) {
				return fmt.Errorf("%w: server has %s", ErrFingerprintMismatch, tlscert.Fingerprint(cs.PeerCertificates[0].Raw))
			}
			return nil
		}
	}
	if o.Insecure {
		conf.InsecureSkipVerify = true
	}
	return conf, nil
}
