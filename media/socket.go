package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Socket is the media plane's UDP port, served by one or more workers (docs/performance.md,
// "UDP workers"). Each worker has its own socket bound to the same port with SO_REUSEPORT and
// one reader goroutine that reads batches with recvmmsg into pooled datagrams. The kernel
// picks the worker by a hash of the source address, so one client address always lands on the
// same worker. Nothing on the media path writes through a queue or a writer goroutine: the
// goroutine that handles a talker's packet hands the whole fan-out to its worker's socket in
// one sendmmsg per batch (Worker.Send), and control traffic (STUN answers, DTLS records) is
// written directly. A send that would block is never waited for: the datagrams the kernel did
// not take are dropped and counted (send_buffer_full).
type Socket struct {
	// static after construction
	workers  []*Worker
	local    netip.AddrPort
	counters *Counters
	log      *slog.Logger

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// SocketConfig tunes a Socket; zero values take the defaults.
type SocketConfig struct {
	// Workers is the number of SO_REUSEPORT sockets, each with its own reader [1; the
	// measurement behind the default is in docs/performance.md].
	Workers int
	Batch   int // datagrams per recvmmsg call [64]
	// SendBatch is the most datagrams one sendmmsg call carries [1024, the kernel's
	// UIO_MAXIOV]: a whole fan-out of up to that many listeners is one system call.
	SendBatch int
	Logger    *slog.Logger // [slog.Default()]
	// sleep waits d before the reader tries again after an error; false when the socket is
	// closing. Tests replace it; nil is a timer that also ends on Close.
	sleep func(d time.Duration) bool
}

// Read-error back-off: after a failed read the reader waits, doubling from backoffMin up to
// backoffMax, so a persistent error cannot become a hot loop; one good read resets it.
const (
	backoffMin = time.Millisecond
	backoffMax = time.Second
)

// ListenUDP binds the media port on addr (port 0 picks a free port; every worker then binds
// the port the first one got).
func ListenUDP(addr netip.AddrPort, counters *Counters, cfg SocketConfig) (*Socket, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Workers > 64 {
		return nil, fmt.Errorf("media socket: %d UDP workers, at most 64", cfg.Workers)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.SendBatch <= 0 || cfg.SendBatch > 1024 {
		cfg.SendBatch = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	network := "udp4"
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		network = "udp6"
	}
	s := &Socket{counters: counters, log: cfg.Logger, done: make(chan struct{})}
	for i := range cfg.Workers {
		conn, err := listenReusePort(network, addr, cfg.Workers > 1)
		if err != nil {
			for _, w := range s.workers {
				w.conn.Close()
			}
			return nil, fmt.Errorf("media socket %s (worker %d): %w", addr, i, err)
		}
		if i == 0 {
			s.local = conn.LocalAddr().(*net.UDPAddr).AddrPort()
			addr = netip.AddrPortFrom(addr.Addr(), s.local.Port())
		}
		// Best effort: absorbs bursts between reader wake-ups and fan-outs.
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		w, err := newWorker(s, i, conn, network == "udp6", cfg)
		if err != nil {
			conn.Close()
			for _, w := range s.workers {
				w.conn.Close()
			}
			return nil, err
		}
		s.workers = append(s.workers, w)
	}
	return s, nil
}

// LocalAddr is the bound address.
func (s *Socket) LocalAddr() netip.AddrPort { return s.local }

// Workers is the number of UDP workers.
func (s *Socket) Workers() int { return len(s.workers) }

// Run starts one reader goroutine per worker. handle is called on the reader goroutine for
// every datagram (d.Via is the worker that read it); it returns true when it keeps the
// datagram (and must Release it later), false when the reader may reuse the buffer.
func (s *Socket) Run(handle func(d *InboundDatagram) bool) {
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.readLoop(handle)
		}()
	}
}

// SendTo writes one control datagram (a STUN answer, a DTLS record) from the first worker's
// socket; every worker's socket has the same local address.
func (s *Socket) SendTo(b []byte, to netip.AddrPort) { s.workers[0].WriteTo(b, to) }

// Close stops the readers and waits for them to end.
func (s *Socket) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		for _, w := range s.workers {
			if cerr := w.conn.Close(); err == nil {
				err = cerr
			}
		}
		s.wg.Wait()
	})
	return err
}

// Worker is one SO_REUSEPORT socket of the media port and its reader. Send and WriteTo may be
// called from any goroutine.
type Worker struct {
	// static after construction
	id       int
	sock     *Socket
	conn     *net.UDPConn
	raw      syscall.RawConn
	v6       bool
	maxBatch int
	counters *Counters
	in       *InboundDatagramPool
	sleep    func(time.Duration) bool

	// owned by the reader goroutine
	rx       *rxBatch
	overflow uint32 // the kernel's SO_RXQ_OVFL drop count last seen on this socket
}

func newWorker(s *Socket, id int, conn *net.UDPConn, v6 bool, cfg SocketConfig) (*Worker, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("media socket: %w", err)
	}
	w := &Worker{id: id, sock: s, conn: conn, raw: raw, v6: v6, maxBatch: cfg.SendBatch,
		counters: s.counters, in: NewInboundDatagramPool(), sleep: cfg.sleep}
	if w.sleep == nil {
		w.sleep = func(d time.Duration) bool {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-s.done:
				return false
			}
		}
	}
	w.rx = newRxBatch(w, cfg.Batch)
	return w, nil
}

// ID is the worker's index, 0 … workers−1.
func (w *Worker) ID() int { return w.id }

// readLoop reads batches until the socket is closed. An error other than the close is
// logged (once per streak) and followed by a growing pause, so that a persistent error (a
// broken socket, an exhausted kernel resource) costs a few wake-ups per second, not a core.
func (w *Worker) readLoop(handle func(d *InboundDatagram) bool) {
	defer w.rx.release()
	backoff, streak := time.Duration(0), 0
	for {
		n, err := w.rx.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			streak++
			backoff = min(max(2*backoff, backoffMin), backoffMax)
			w.counters.ReadErrors.Inc()
			if streak == 1 || backoff == backoffMax && streak%60 == 0 {
				w.sock.log.Warn("media socket read failed; pausing before the next read",
					"worker", w.id, "err", err, "errors_in_a_row", streak, "pause", backoff.String())
			}
			if !w.sleep(backoff) {
				return
			}
			continue
		}
		if streak > 0 {
			w.sock.log.Info("media socket reads again", "worker", w.id, "errors_in_a_row", streak)
			backoff, streak = 0, 0
		}
		for i := range n {
			d := w.rx.dgs[i]
			w.counters.PacketsIn.Inc()
			w.counters.BytesIn.Add(float64(d.N))
			if handle(d) {
				w.rx.replace(i)
			}
		}
	}
}

// noteOverflow counts the datagrams the kernel dropped on this socket because its receive
// queue was full, from the cumulative SO_RXQ_OVFL count that came with a datagram.
func (w *Worker) noteOverflow(total uint32) {
	if d := total - w.overflow; total != w.overflow && d < 1<<31 {
		w.counters.dropped[DropKernelOverflow].Add(float64(d))
		w.overflow = total
	}
}

// WriteTo writes one datagram at once; a datagram the kernel refuses (or would block on) is
// dropped and counted.
func (w *Worker) WriteTo(b []byte, to netip.AddrPort) {
	if to.Addr().Is4() && w.v6 {
		to = netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port())
	}
	if _, err := w.conn.WriteToUDPAddrPort(b, to); err != nil {
		w.counters.Drop(DropWriteError)
		return
	}
	w.counters.PacketsOut.Inc()
	w.counters.BytesOut.Add(float64(len(b)))
}

// Send writes the whole fan-out f from this worker's socket, ceil(len/SendBatch) sendmmsg calls,
// and empties f. It never waits for the socket: what the kernel does not take at once is
// dropped and counted.
func (w *Worker) Send(f *Fanout) {
	if f.n == 0 {
		return
	}
	w.sendBatch(f)
	f.n = 0
}

// Worker returns worker i (0 ≤ i < Workers()).
func (s *Socket) Worker(i int) *Worker { return s.workers[i] }

// NewDatagram is an empty datagram from the worker's pool (for code that injects datagrams
// as if the worker had read them, e.g. tests and benchmarks).
func (w *Worker) NewDatagram() *InboundDatagram { return w.in.Get() }
