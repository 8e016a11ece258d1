// Package media holds the building blocks of mini-livechat's media plane: the RFC 7983 UDP
// demultiplexer, the ICE-lite STUN responder, the DTLS connection adapter, SRTP contexts, the
// SDP answerer, the per-listener RTP rewriter and the batched UDP writer. It never imports the
// actor packages; the peer actor (actors/peer) assembles these pieces.
package media

import (
	"sync"
	"sync/atomic"
)

// MaxPacket is the largest datagram the media plane handles.
const MaxPacket = 1500

// RelayPacket is a pooled, reference-counted buffer holding one decrypted RTP packet on its way from
// a talker's peer through its channel to the listeners' peers. It is passed by pointer as an
// actor message, so relaying a packet allocates nothing.
type RelayPacket struct {
	From string // user id of the member whose peer decrypted it
	Buf  [MaxPacket]byte
	N    int // length of the packet in Buf
	// Via is the UDP worker that read the talker's datagram: the relay sends the fan-out on
	// its socket. Nil for packets built by hand in tests.
	Via *Worker

	refs atomic.Int32
	pool *RelayPacketPool
}

// Bytes is the packet's content.
func (p *RelayPacket) Bytes() []byte { return p.Buf[:p.N] }

// Retain adds n references, one for each further holder the packet is sent to.
func (p *RelayPacket) Retain(n int) { p.refs.Add(int32(n)) }

// Release drops one reference; the last one returns the packet to its pool.
func (p *RelayPacket) Release() {
	switch n := p.refs.Add(-1); {
	case n == 0:
		if p.pool != nil {
			p.From, p.N, p.Via = "", 0, nil
			p.pool.pool.Put(p)
		}
	case n < 0:
		panic("media: RelayPacket released more often than retained")
	}
}

// RelayPacketPool recycles RelayPackets.
type RelayPacketPool struct{ pool sync.Pool }

// NewRelayPacketPool makes an empty pool.
func NewRelayPacketPool() *RelayPacketPool {
	pp := &RelayPacketPool{}
	pp.pool.New = func() any { return &RelayPacket{pool: pp} }
	return pp
}

// Get returns a packet holding one reference.
func (pp *RelayPacketPool) Get() *RelayPacket {
	p := pp.pool.Get().(*RelayPacket)
	p.refs.Store(1)
	return p
}
