package media

import (
	"net/netip"
	"sync"
)

// InboundDatagram is a pooled buffer holding one UDP datagram as it arrived on the media port. The
// UDP reader reads straight into it and, for DTLS, SRTP and SRTCP, hands it by pointer to the
// peer actor the source address belongs to, which Releases it when done.
type InboundDatagram struct {
	Buf   [MaxPacket]byte
	N     int
	From  netip.AddrPort
	Class Class
	Via   *Worker // the UDP worker that read it (nil in tests that build datagrams by hand)

	pool *InboundDatagramPool
}

// Bytes is the datagram's content.
func (d *InboundDatagram) Bytes() []byte { return d.Buf[:d.N] }

// Release returns the datagram to its pool. The holder must not touch it afterwards.
func (d *InboundDatagram) Release() {
	if d.pool != nil {
		d.N, d.Class, d.Via = 0, ClassDrop, nil
		d.pool.pool.Put(d)
	}
}

// InboundDatagramPool recycles InboundDatagrams.
type InboundDatagramPool struct{ pool sync.Pool }

// NewInboundDatagramPool makes an empty pool.
func NewInboundDatagramPool() *InboundDatagramPool {
	dp := &InboundDatagramPool{}
	dp.pool.New = func() any { return &InboundDatagram{pool: dp} }
	return dp
}

// Get returns an empty datagram.
func (dp *InboundDatagramPool) Get() *InboundDatagram { return dp.pool.Get().(*InboundDatagram) }
