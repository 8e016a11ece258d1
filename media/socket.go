package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
)

// Socket is the media plane's one UDP socket: one reader loop hands every datagram to a
// handler, and ONE writer goroutine drains a bounded queue of outbound packets and writes
// them in batches with sendmmsg (ipv4.PacketConn.WriteBatch). Go serialises writes on a
// socket anyway, so a single writer is faster than several, and it means that no actor ever
// blocks on the socket: Send enqueues, and a full queue drops its oldest packet (counted as
// write_queue_full) rather than wait.
type Socket struct {
	// static after construction
	conn     *net.UDPConn
	batch    *ipv4.PacketConn // nil for IPv6 sockets: one write per packet
	local    netip.AddrPort
	counters *Counters
	queue    chan *OutPacket
	maxBatch int
	in       *DatagramPool

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// SocketConfig tunes a Socket; zero values take the defaults.
type SocketConfig struct {
	QueueLen int // outbound queue length (default 4096)
	Batch    int // datagrams per sendmmsg (default 32)
}

// ListenUDP binds the media socket on addr (port 0 picks a free port).
func ListenUDP(addr netip.AddrPort, counters *Counters, cfg SocketConfig) (*Socket, error) {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 4096
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	network := "udp4"
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("media socket %s: %w", addr, err)
	}
	_ = conn.SetReadBuffer(4 << 20) // best effort: absorbs bursts between reader wake-ups
	_ = conn.SetWriteBuffer(4 << 20)
	s := &Socket{
		conn: conn, local: conn.LocalAddr().(*net.UDPAddr).AddrPort(), counters: counters,
		queue: make(chan *OutPacket, cfg.QueueLen), maxBatch: cfg.Batch, in: NewDatagramPool(),
		done: make(chan struct{}),
	}
	if network == "udp4" {
		s.batch = ipv4.NewPacketConn(conn)
	}
	return s, nil
}

// LocalAddr is the bound address.
func (s *Socket) LocalAddr() netip.AddrPort { return s.local }

// Run starts the reader loop and the writer goroutine. handle is called on the reader
// goroutine for every datagram; it returns true when it keeps the datagram (and must Release
// it later), false when the reader may reuse the buffer.
func (s *Socket) Run(handle func(d *Datagram) bool) {
	s.wg.Add(2)
	go s.readLoop(handle)
	go s.writeLoop()
}

func (s *Socket) readLoop(handle func(d *Datagram) bool) {
	defer s.wg.Done()
	d := s.in.Get()
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(d.Buf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				d.Release()
				return
			}
			continue // e.g. ICMP port unreachable surfaced as ECONNREFUSED: keep serving
		}
		s.counters.PacketsIn.Inc()
		s.counters.BytesIn.Add(float64(n))
		d.N, d.From = n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if handle(d) {
			d = s.in.Get()
		}
	}
}

// Send queues p for writing and takes ownership of it. It never blocks: when the queue is
// full the oldest queued packet is dropped, because fresh audio is worth more than stale.
func (s *Socket) Send(p *OutPacket) {
	select {
	case <-s.done:
		p.Release()
		return
	case s.queue <- p:
		return
	default:
	}
	select {
	case old := <-s.queue:
		old.Release()
		s.counters.Drop(DropWriteQueueFull)
	default:
	}
	select {
	case s.queue <- p:
	default:
		p.Release()
		s.counters.Drop(DropWriteQueueFull)
	}
}

// SendTo copies b into a pooled packet and queues it for to (for control traffic: STUN
// replies, DTLS records).
func (s *Socket) SendTo(b []byte, to *net.UDPAddr, pool *OutPool) {
	p := pool.Get()
	p.N = copy(p.Buf[:], b)
	p.To = to
	s.Send(p)
}

func (s *Socket) writeLoop() {
	defer s.wg.Done()
	pending := make([]*OutPacket, 0, s.maxBatch)
	msgs := make([]ipv4.Message, s.maxBatch)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
	}
	for {
		select {
		case p := <-s.queue:
			pending = append(pending[:0], p)
		case <-s.done:
			for {
				select {
				case p := <-s.queue:
					p.Release()
				default:
					return
				}
			}
		}
	fill:
		for len(pending) < s.maxBatch {
			select {
			case p := <-s.queue:
				pending = append(pending, p)
			default:
				break fill
			}
		}
		s.write(pending, msgs)
		for i, p := range pending {
			p.Release()
			pending[i] = nil
		}
	}
}

func (s *Socket) write(pending []*OutPacket, msgs []ipv4.Message) {
	n := len(pending)
	if s.batch == nil {
		for _, p := range pending {
			s.count(s.conn.WriteToUDP(p.Bytes(), p.To))
		}
		return
	}
	for i, p := range pending {
		msgs[i].Buffers[0] = p.Bytes()
		msgs[i].Addr = p.To
	}
	for off := 0; off < n; {
		k, err := s.batch.WriteBatch(msgs[off:n], 0)
		if err != nil || k <= 0 {
			s.counters.Drop(DropWriteError) // skip the datagram the kernel refused, send the rest
			off++
			continue
		}
		for _, m := range msgs[off : off+k] {
			s.count(len(m.Buffers[0]), nil)
		}
		off += k
	}
	for i := range msgs[:n] {
		msgs[i].Buffers[0], msgs[i].Addr = nil, nil
	}
}

func (s *Socket) count(n int, err error) {
	if err != nil {
		s.counters.Drop(DropWriteError)
		return
	}
	s.counters.PacketsOut.Inc()
	s.counters.BytesOut.Add(float64(n))
}

// Close stops the reader and the writer, releases queued packets and waits for both
// goroutines to end.
func (s *Socket) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.conn.Close()
		s.wg.Wait()
	})
	return err
}
