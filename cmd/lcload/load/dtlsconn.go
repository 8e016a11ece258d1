package load

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/transport/v5/deadline"
)

// The light client is an independent implementation of the client side: none of the
// server's media code (its DTLS adapter, fingerprint helpers, pools) is used here, so that a
// bug shared by both ends cannot hide.

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

// fingerprint formats a SHA-256 certificate fingerprint as SDP writes it (RFC 8122).
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var sb strings.Builder
	for i, b := range sum {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02X", b)
	}
	return sb.String()
}

// verifyFingerprint checks the server's certificate against the digest its answer signalled.
func verifyFingerprint(raw [][]byte, want []byte) error {
	if len(raw) == 0 {
		return errors.New("server sent no certificate")
	}
	sum := sha256.Sum256(raw[0])
	if subtle.ConstantTimeCompare(sum[:], want) != 1 {
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
