package media

import (
	"net"
	"os"
	"sync"
	"time"

	"github.com/pion/transport/v5/deadline"
)

// DTLSTransport is one peer's view of the shared UDP socket, shaped as the net.PacketConn that
// pion/dtls runs a handshake over. Inbound DTLS datagrams are pushed into it by the peer
// actor; outbound records go through write, which sends them from the shared socket to the
// peer's current address.
//
// It honours SetReadDeadline: pion/dtls cancels a handshake (context done, Close) by setting
// a read deadline in the past, so an adapter that ignored deadlines would leave
// HandshakeContext blocked forever.
type DTLSTransport struct {
	// static after construction
	in     chan *InboundDatagram
	write  func(b []byte) error
	local  net.Addr
	remote net.Addr

	readDeadline *deadline.Deadline
	closed       chan struct{}
	closeOnce    sync.Once
}

// NewDTLSTransport makes an adapter holding up to queue inbound datagrams. remote is what
// ReadFrom reports as the sender (DTLS only needs it to be stable).
func NewDTLSTransport(local, remote net.Addr, queue int, write func(b []byte) error) *DTLSTransport {
	return &DTLSTransport{
		in: make(chan *InboundDatagram, queue), write: write, local: local, remote: remote,
		readDeadline: deadline.New(), closed: make(chan struct{}),
	}
}

// Push hands an inbound datagram to the DTLS reader without blocking. It returns false when
// the queue is full or the conn is closed; the caller keeps ownership and releases it then.
func (c *DTLSTransport) Push(d *InboundDatagram) bool {
	select {
	case <-c.closed:
		return false
	default:
	}
	select {
	case c.in <- d:
		return true
	default:
		return false
	}
}

// ReadFrom returns the next pushed datagram.
func (c *DTLSTransport) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-c.readDeadline.Done():
		return 0, nil, os.ErrDeadlineExceeded
	case d := <-c.in:
		n := copy(b, d.Bytes())
		d.Release()
		return n, c.remote, nil
	}
}

// WriteTo sends b to the peer's current address (addr is ignored: the peer may have moved
// to another candidate pair since the handshake began).
func (c *DTLSTransport) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	if err := c.write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close ends pending and future reads and releases queued datagrams. It is idempotent.
func (c *DTLSTransport) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		for {
			select {
			case d := <-c.in:
				d.Release()
			default:
				return
			}
		}
	})
	return nil
}

// LocalAddr is the shared socket's address.
func (c *DTLSTransport) LocalAddr() net.Addr { return c.local }

// SetDeadline sets the read deadline (writes never block).
func (c *DTLSTransport) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline makes pending and future reads fail once t has passed; zero clears it.
func (c *DTLSTransport) SetReadDeadline(t time.Time) error {
	c.readDeadline.Set(t)
	return nil
}

// SetWriteDeadline is a no-op: writes hand the record to the socket writer's queue.
func (c *DTLSTransport) SetWriteDeadline(time.Time) error { return nil }
