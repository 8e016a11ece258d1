package media

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/minilivechat/minilivechat/media/mediatest"
)

// pipe wires two PacketConns back to back, as the shared socket and a client would be.
func pipe(queue int) (server, client *DTLSTransport) {
	pool := NewInboundDatagramPool()
	sAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000}
	cAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	forward := func(to **DTLSTransport) func([]byte) error {
		return func(b []byte) error {
			d := pool.Get()
			d.N = copy(d.Buf[:], b)
			if !(*to).Push(d) {
				d.Release()
			}
			return nil
		}
	}
	server = NewDTLSTransport(sAddr, cAddr, queue, forward(&client))
	client = NewDTLSTransport(cAddr, sAddr, queue, forward(&server))
	return server, client
}

func clientOptions(t *testing.T) (*Certificate, []dtls.ClientOption) {
	cert, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return cert, []dtls.ClientOption{
		dtls.WithCertificates(cert.TLS),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithInsecureSkipVerify(true),
	}
}

func offerFor(cert *Certificate) *Offer {
	sum := sha256.Sum256(cert.TLS.Certificate[0])
	return &Offer{FingerprintHash: "sha-256", Fingerprint: sum[:]}
}

func TestDTLSHandshakeAndSRTP(t *testing.T) {
	leaks := mediatest.Snapshot()
	serverCert, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	clientCert, copts := clientOptions(t)
	sconn, cconn := pipe(16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	clientDone := make(chan *dtls.Conn, 1)
	go func() {
		dc, err := dtls.ClientWithOptions(cconn, sconn.LocalAddr(), copts...)
		if err == nil {
			err = dc.HandshakeContext(ctx)
		}
		if err != nil {
			t.Errorf("client: %v", err)
			clientDone <- nil
			return
		}
		clientDone <- dc
	}()
	sdc, err := HandshakeDTLS(ctx, sconn, cconn.LocalAddr(), DTLSServerOptions(serverCert, offerFor(clientCert)))
	if err != nil {
		t.Fatal(err)
	}
	cdc := <-clientDone
	if cdc == nil {
		t.FailNow()
	}
	sess, err := NewSRTPSession(sdc)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Profile != srtp.ProtectionProfileAeadAes128Gcm {
		t.Fatalf("profile %v, want AEAD_AES_128_GCM first", sess.Profile)
	}
	// The client encrypts with its keys; the server's remote context decrypts and refuses a replay.
	state, _ := cdc.ConnectionState()
	ccfg := srtp.Config{Profile: sess.Profile}
	if err := ccfg.ExtractSessionKeysFromDTLS(&state, true); err != nil {
		t.Fatal(err)
	}
	clientLocal, err := srtp.CreateContext(ccfg.Keys.LocalMasterKey, ccfg.Keys.LocalMasterSalt, ccfg.Profile)
	if err != nil {
		t.Fatal(err)
	}
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 7, SSRC: 99}, Payload: []byte("opus")}
	plain, _ := pkt.Marshal()
	enc, err := clientLocal.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := sess.Remote.DecryptRTP(nil, enc, nil)
	if err != nil || string(dec) != string(plain) {
		t.Fatalf("decrypt: %v", err)
	}
	if _, err := sess.Remote.DecryptRTP(nil, enc, nil); err == nil {
		t.Fatal("replayed SRTP accepted")
	}
	cdc.Close()
	sdc.Close()
	leaks.WaitGone(t)
}

func TestDTLSFingerprintMismatchFails(t *testing.T) {
	leaks := mediatest.Snapshot()
	serverCert, _ := NewCertificate()
	otherCert, _ := NewCertificate()
	_, copts := clientOptions(t)
	sconn, cconn := pipe(16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clientErr := make(chan error, 1)
	go func() {
		dc, err := dtls.ClientWithOptions(cconn, sconn.LocalAddr(), copts...)
		if err == nil {
			err = dc.HandshakeContext(ctx)
			dc.Close()
		}
		clientErr <- err
	}()
	// The offer names another certificate than the one the client presents.
	_, err := HandshakeDTLS(ctx, sconn, cconn.LocalAddr(), DTLSServerOptions(serverCert, offerFor(otherCert)))
	if !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("server handshake err = %v, want ErrFingerprintMismatch", err)
	}
	cconn.Close() // the client may wait for a flight that never comes
	if err := <-clientErr; err == nil {
		t.Fatal("client handshake succeeded against a mismatched fingerprint")
	}
	leaks.WaitGone(t)
}

func TestDTLSHandshakeAbandoned(t *testing.T) {
	leaks := mediatest.Snapshot()
	serverCert, _ := NewCertificate()
	clientCert, _ := NewCertificate()
	sconn, _ := pipe(16)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := HandshakeDTLS(ctx, sconn, &net.UDPAddr{}, DTLSServerOptions(serverCert, offerFor(clientCert))); err == nil {
		t.Fatal("handshake with nobody succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("abandoning took %v", d)
	}
	leaks.WaitGone(t)
}

func TestPacketConnReadDeadline(t *testing.T) {
	c, _ := pipe(1)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 10))
		errc <- err
	}()
	c.SetReadDeadline(time.Unix(1, 0)) // a past deadline cancels the pending read
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	c.SetReadDeadline(time.Time{})
	d := NewInboundDatagramPool().Get()
	d.N = copy(d.Buf[:], "hello")
	if !c.Push(d) {
		t.Fatal("push refused")
	}
	d2 := NewInboundDatagramPool().Get()
	if c.Push(d2) {
		t.Fatal("push beyond the queue accepted")
	}
	b := make([]byte, 10)
	if n, _, err := c.ReadFrom(b); err != nil || string(b[:n]) != "hello" {
		t.Fatalf("read %q %v", b[:n], err)
	}
	c.Close()
	c.Close()
	if _, _, err := c.ReadFrom(b); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if c.Push(d2) {
		t.Fatal("push after close accepted")
	}
}

// clientHandshake runs a DTLS client with opts against a server for offer and returns both
// results.
func clientHandshake(t *testing.T, offer func(client *Certificate) *Offer, opts func(cert *Certificate) []dtls.ClientOption) (*SRTPSession, error, error) {
	t.Helper()
	leaks := mediatest.Snapshot()
	serverCert, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	sconn, cconn := pipe(16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Each side finishes its handshake on its own schedule: the client as soon as it has the
	// server's Finished, the server once that flight is out. Neither may tear down its end
	// before the other's result is in, or a close_notify / closed conn fails a handshake that
	// was succeeding.
	clientErr := make(chan error, 1)
	serverDone, clientDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(clientDone)
		dc, err := dtls.ClientWithOptions(cconn, sconn.LocalAddr(), opts(clientCert)...)
		if err == nil {
			err = dc.HandshakeContext(ctx)
		}
		clientErr <- err
		if dc != nil {
			<-serverDone
			dc.Close()
		}
	}()
	sdc, serr := HandshakeDTLS(ctx, sconn, cconn.LocalAddr(), DTLSServerOptions(serverCert, offer(clientCert)))
	var sess *SRTPSession
	if serr == nil {
		sess, serr = NewSRTPSession(sdc)
	} else {
		cconn.Close() // a client refused mid-handshake may wait for a flight that never comes
	}
	cerr := <-clientErr
	close(serverDone) // now the client may send its close_notify
	<-clientDone
	if sdc != nil {
		sdc.Close()
	}
	cconn.Close()
	leaks.WaitGone(t)
	return sess, serr, cerr
}

// TestDTLSServerPolicy: the server's side of docs/media.md ("DTLS and SRTP") —
// AES128_CM_HMAC_SHA1_80 when the client offers only that, and no handshake without extended master
// secret, without a client certificate, or without a common SRTP profile.
func TestDTLSServerPolicy(t *testing.T) {
	base := func(cert *Certificate) []dtls.ClientOption {
		return []dtls.ClientOption{dtls.WithCertificates(cert.TLS), dtls.WithInsecureSkipVerify(true),
			dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret)}
	}
	t.Run("cm80 only", func(t *testing.T) {
		sess, serr, cerr := clientHandshake(t, offerFor, func(cert *Certificate) []dtls.ClientOption {
			return append(base(cert), dtls.WithSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80))
		})
		if serr != nil || cerr != nil {
			t.Fatalf("server %v client %v", serr, cerr)
		}
		if sess.Profile != srtp.ProtectionProfileAes128CmHmacSha1_80 {
			t.Fatalf("profile %v", sess.Profile)
		}
	})
	refused := map[string]func(cert *Certificate) []dtls.ClientOption{
		"no extended master secret": func(cert *Certificate) []dtls.ClientOption {
			return []dtls.ClientOption{dtls.WithCertificates(cert.TLS), dtls.WithInsecureSkipVerify(true),
				dtls.WithExtendedMasterSecret(dtls.DisableExtendedMasterSecret),
				dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM)}
		},
		"no client certificate": func(*Certificate) []dtls.ClientOption {
			return []dtls.ClientOption{dtls.WithInsecureSkipVerify(true),
				dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
				dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM)}
		},
		"no common srtp profile": func(cert *Certificate) []dtls.ClientOption {
			return append(base(cert), dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_256_GCM))
		},
	}
	for name, opts := range refused {
		t.Run(name, func(t *testing.T) {
			if _, serr, _ := clientHandshake(t, offerFor, opts); serr == nil {
				t.Fatal("server completed the handshake")
			}
		})
	}
}
