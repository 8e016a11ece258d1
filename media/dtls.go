package media

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
)

// Errors of the DTLS-SRTP setup.
var (
	// ErrFingerprintMismatch indicates that the client's DTLS certificate is not the one its
	// SDP offer's a=fingerprint named: the handshake is aborted and the peer dropped.
	ErrFingerprintMismatch = errors.New("client certificate does not match the offer's fingerprint")
	// ErrNoSRTPProfile indicates a handshake that negotiated no SRTP protection profile.
	ErrNoSRTPProfile = errors.New("no SRTP protection profile negotiated")
)

// DTLSServerOptions configures the server side of one peer's handshake (docs/media.md, "DTLS and
// SRTP"): the server certificate, extended master secret required, SRTP profiles AEAD_AES_128_GCM
// then AES128_CM_HMAC_SHA1_80 (the server's order decides), a client certificate required, and that
// certificate's digest compared with the offer's a=fingerprint.
func DTLSServerOptions(cert *Certificate, offer *Offer) []dtls.ServerOption {
	// Copies: the DTLS connection keeps this check for its whole life, and the offer's
	// strings point into the whole SDP text.
	hash, want := strings.Clone(offer.FingerprintHash), bytes.Clone(offer.Fingerprint)
	return []dtls.ServerOption{
		dtls.WithCertificates(cert.TLS),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			return VerifyFingerprint(raw, hash, want)
		}),
	}
}

// VerifyFingerprint checks that the first certificate of raw hashes to want with hash.
func VerifyFingerprint(raw [][]byte, hash string, want []byte) error {
	h, err := fingerprintHash(hash)
	if err != nil || !h.Available() || len(raw) == 0 {
		return ErrFingerprintMismatch
	}
	d := h.New()
	d.Write(raw[0])
	if !bytes.Equal(d.Sum(nil), want) {
		return ErrFingerprintMismatch
	}
	return nil
}

// HandshakeDTLS runs the server side of a DTLS handshake over conn until it completes, fails
// or ctx ends. On failure the DTLS conn (and with it conn) is closed.
func HandshakeDTLS(ctx context.Context, conn net.PacketConn, remote net.Addr, opts []dtls.ServerOption) (*dtls.Conn, error) {
	dc, err := dtls.ServerWithOptions(conn, remote, opts...)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dtls server: %w", err)
	}
	if err := dc.HandshakeContext(ctx); err != nil {
		dc.Close()
		return nil, fmt.Errorf("dtls handshake: %w", err)
	}
	return dc, nil
}

// SRTPSession is the pair of SRTP contexts of one peer: Local encrypts what the server
// sends, Remote decrypts what the client sends (with replay protection).
type SRTPSession struct {
	Local, Remote *srtp.Context
	Profile       srtp.ProtectionProfile
}

// ReplayWindow is the SRTP/SRTCP replay window of the remote context.
const ReplayWindow = 64

// NewSRTPSession derives the SRTP keys from a finished handshake with the
// EXTRACTOR-dtls_srtp exporter (RFC 5764 §4.2).
func NewSRTPSession(dc *dtls.Conn) (*SRTPSession, error) {
	profile, ok := dc.SelectedSRTPProtectionProfile()
	if !ok {
		return nil, ErrNoSRTPProfile
	}
	state, ok := dc.ConnectionState()
	if !ok {
		return nil, fmt.Errorf("srtp keys: handshake not finished")
	}
	cfg := srtp.Config{Profile: srtp.ProtectionProfile(profile)}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, false); err != nil {
		return nil, fmt.Errorf("srtp keys: %w", err)
	}
	local, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile)
	if err != nil {
		return nil, fmt.Errorf("srtp local context: %w", err)
	}
	remote, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, cfg.Profile,
		srtp.SRTPReplayProtection(ReplayWindow), srtp.SRTCPReplayProtection(ReplayWindow))
	if err != nil {
		return nil, fmt.Errorf("srtp remote context: %w", err)
	}
	return &SRTPSession{Local: local, Remote: remote, Profile: cfg.Profile}, nil
}
