package media

import (
	"net"
	"net/netip"
	"sync"
)

// Datagram is a pooled buffer holding one UDP datagram as it arrived on the media port. The
// UDP reader reads straight into it and, for DTLS, SRTP and SRTCP, hands it by pointer to the
// peer actor the source address belongs to, which Releases it when done.
type Datagram struct {
	Buf   [MaxPacket]byte
	N     int
	From  netip.AddrPort
	Class Class

	pool *DatagramPool
}

// Bytes is the datagram's content.
func (d *Datagram) Bytes() []byte { return d.Buf[:d.N] }

// Release returns the datagram to its pool. The holder must not touch it afterwards.
func (d *Datagram) Release() {
	if d.pool != nil {
		d.N, d.Class = 0, ClassDrop
		d.pool.pool.Put(d)
	}
}

// DatagramPool recycles Datagrams.
type DatagramPool struct{ pool sync.Pool }

// NewDatagramPool makes an empty pool.
func NewDatagramPool() *DatagramPool {
	dp := &DatagramPool{}
	dp.pool.New = func() any { return &Datagram{pool: dp} }
	return dp
}

// Get returns an empty datagram.
func (dp *DatagramPool) Get() *Datagram { return dp.pool.Get().(*Datagram) }

// OutPacket is a pooled buffer holding one datagram to send. Whoever fills it hands it to
// Socket.Send, which owns it from then on and releases it after the write.
type OutPacket struct {
	Buf [MaxPacket + 64]byte // room for the SRTP auth tag after a full-size packet
	N   int
	// To is where to send it. The *net.UDPAddr is shared and immutable: a peer builds it once
	// when it latches an address, so no packet allocates one.
	To *net.UDPAddr

	pool *OutPool
}

// Bytes is the packet's content.
func (o *OutPacket) Bytes() []byte { return o.Buf[:o.N] }

// Release returns the packet to its pool.
func (o *OutPacket) Release() {
	if o.pool != nil {
		o.N, o.To = 0, nil
		o.pool.pool.Put(o)
	}
}

// OutPool recycles OutPackets.
type OutPool struct{ pool sync.Pool }

// NewOutPool makes an empty pool.
func NewOutPool() *OutPool {
	op := &OutPool{}
	op.pool.New = func() any { return &OutPacket{pool: op} }
	return op
}

// Get returns an empty packet.
func (op *OutPool) Get() *OutPacket { return op.pool.Get().(*OutPacket) }
