package media

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"strings"

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
	sum := sha256.Sum256(c.Certificate[0])
	return &Certificate{TLS: c, Fingerprint: FormatFingerprint(sum[:])}, nil
}

// FormatFingerprint writes a digest as SDP does: uppercase hex pairs joined by colons.
func FormatFingerprint(digest []byte) string {
	var sb strings.Builder
	for i, b := range digest {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02X", b)
	}
	return sb.String()
}
