package media

import (
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
	Via   *Worker // the UDP worker that read it (nil in tests that build datagrams by hand)

	pool *DatagramPool
}

// Bytes is the datagram's content.
func (d *Datagram) Bytes() []byte { return d.Buf[:d.N] }

// Release returns the datagram to its pool. The holder must not touch it afterwards.
func (d *Datagram) Release() {
	if d.pool != nil {
		d.N, d.Class, d.Via = 0, ClassDrop, nil
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
