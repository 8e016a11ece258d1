package tlscert

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// Fingerprint is the SHA-256 of a certificate's DER bytes as colon-separated upper-case hex
// (AB:CD:…), the form browsers show in their certificate viewer and `openssl x509
// -fingerprint -sha256` prints. (pion/dtls's fingerprint package needs a parsed certificate and
// would link DTLS into lcadmin; the media plane's DTLS fingerprints use it.)
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// SPKIHash is the base64 SHA-256 of a certificate's public key (SubjectPublicKeyInfo), what
// Chromium's --ignore-certificate-errors-spki-list and HTTP public key pins take.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// ErrBadFingerprint indicates a pin that is not 32 bytes of hex.
var ErrBadFingerprint = errors.New("want a SHA-256 fingerprint: 64 hex digits, colons allowed")

// ParseFingerprint reads a SHA-256 fingerprint in the form Fingerprint prints, or as plain hex
// in either case, and returns the 32 bytes.
func ParseFingerprint(s string) ([]byte, error) {
	h := strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, ErrBadFingerprint
	}
	return b, nil
}
