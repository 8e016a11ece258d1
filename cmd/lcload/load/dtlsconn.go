package load

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	dtlsfp "github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/transport/v5/deadline"
)

// The light client is an independent implementation of the client side: none of the
// server's code (its DTLS adapter, fingerprint check, pools, WebSocket helpers) is used
// here, so that a bug shared by both ends cannot hide.

// dtlsConn is the net.PacketConn pion/dtls runs on: the client's one UDP socket carries STUN,
// DTLS and SRTP (RFC 7983), so its reader hands the DTLS records over through in, and writes
// go straight to the socket.
type dtlsConn struct {
	udp    *net.UDPConn
	remote net.Addr
	in     chan []byte
	read   *deadline.Deadline
	closed chan struct{}
	once   sync.Once
}

func newDTLSConn(udp *net.UDPConn, remote net.Addr) *dtlsConn {
	return &dtlsConn{udp: udp, remote: remote, in: make(chan []byte, 64), read: deadline.New(), closed: make(chan struct{})}
}

// push queues one DTLS record (a copy); false when the queue is full or the conn closed.
func (c *dtlsConn) push(b []byte) bool {
	select {
	case <-c.closed:
		return false
	case c.in <- append([]byte(nil), b...):
		return true
	default:
		return false
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *dtlsConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case r := <-c.in:
		return copy(b, r), c.remote, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-c.read.Done():
		return 0, nil, timeoutError{}
	}
}

func (c *dtlsConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	return c.udp.Write(b)
}

func (c *dtlsConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *dtlsConn) LocalAddr() net.Addr                { return c.udp.LocalAddr() }
func (c *dtlsConn) SetDeadline(t time.Time) error      { return c.SetReadDeadline(t) }
func (c *dtlsConn) SetReadDeadline(t time.Time) error  { c.read.Set(t); return nil }
func (c *dtlsConn) SetWriteDeadline(t time.Time) error { return nil }

// fingerprint is the SHA-256 fingerprint of a DER certificate as SDP writes it (RFC 8122),
// by pion/dtls's helper.
func fingerprint(der []byte) (string, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	return dtlsfp.Fingerprint(cert, crypto.SHA256)
}

// verifyFingerprint checks the server's certificate against the fingerprint its answer
// signalled (hex pairs, any case).
func verifyFingerprint(raw [][]byte, want string) error {
	if len(raw) == 0 {
		return errors.New("server sent no certificate")
	}
	got, err := fingerprint(raw[0])
	if err != nil {
		return err
	}
	if !strings.EqualFold(got, want) {
		return errors.New("server certificate does not match the answer's fingerprint")
	}
	return nil
}

// randomAlnum is n random letters and digits (ICE credentials, run ids).
func randomAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// replayWindow is the SRTP replay window of the light client's receive context.
const replayWindow = 128
