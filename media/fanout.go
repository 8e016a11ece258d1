package media

import "net/netip"

// Fanout is one relayed packet's whole fan-out on its way to the socket: a buffer and a
// destination per listener. Its owner (the channel actor's relay path) fills it with Next and
// Commit and hands it to Worker.Send, which writes it and empties it; the buffers are reused
// for the next packet, so relaying allocates nothing once a Fanout has grown to its channel's
// size. A Fanout is not safe for concurrent use.
type Fanout struct {
	bufs [][]byte // cap MaxPacket+64 each: room for the SRTP tag after a full-size packet
	to   []netip.AddrPort
	n    int
	tx   txState // the sendmmsg headers, grown with bufs
}

// Next returns the empty buffer of the next datagram (valid until Commit or Send).
func (f *Fanout) Next() []byte {
	if f.n == len(f.bufs) {
		f.bufs = append(f.bufs, make([]byte, 0, MaxPacket+64))
		f.to = append(f.to, netip.AddrPort{})
	}
	return f.bufs[f.n][:0]
}

// Commit adds the datagram b (Next's buffer, filled) for to.
func (f *Fanout) Commit(b []byte, to netip.AddrPort) {
	f.bufs[f.n] = b[:len(b):cap(b)]
	f.to[f.n] = to
	f.n++
}

// Len is the number of datagrams waiting.
func (f *Fanout) Len() int { return f.n }

// Reset drops the waiting datagrams.
func (f *Fanout) Reset() { f.n = 0 }
