package media

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
)

// Certificate is the server's DTLS certificate and its sha-256 fingerprint as it appears in
// every SDP answer.
type Certificate struct {
	TLS         tls.Certificate
	Fingerprint string // "AB:CD:..." uppercase hex of sha-256(DER)
}

// NewCertificate generates a self-signed ECDSA P-256 certificate (WebRTC authenticates it by
// the fingerprint in the signaled SDP, not by a CA).
func NewCertificate() (*Certificate, error) {
	c, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, fmt.Errorf("dtls certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("dtls certificate: %w", err)
	}
	fp, err := fingerprint.Fingerprint(leaf, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("dtls certificate fingerprint: %w", err)
	}
	// Upper case, as browsers write theirs (RFC 8122 §5 compares case-insensitively).
	return &Certificate{TLS: c, Fingerprint: strings.ToUpper(fp)}, nil
}
