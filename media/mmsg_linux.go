package media

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// listenReusePort binds a UDP socket with SO_RXQ_OVFL (the kernel reports its receive-queue
// drops with each datagram) and, for several workers, SO_REUSEPORT.
func listenReusePort(network string, addr netip.AddrPort, reuse bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if reuse {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
					serr = fmt.Errorf("SO_REUSEPORT: %w", serr)
					return
				}
			}
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) // best effort
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// sockaddrLen is room for a sockaddr_in6 (a sockaddr_in is shorter).
const sockaddrLen = unix.SizeofSockaddrInet6

// ctrlLen is room for one SO_RXQ_OVFL control message (a uint32).
var ctrlLen = unix.CmsgSpace(4)

// rxBatch is a worker's recvmmsg state: one pooled datagram, sockaddr and control buffer per
// slot, and the headers pointing at them. Owned by the worker's reader goroutine.
type rxBatch struct {
	w     *Worker
	dgs   []*InboundDatagram
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names [][sockaddrLen]byte
	ctrl  []byte
	// the result of the last recvmmsg, written by readFn
	n     int
	errno syscall.Errno
	// readFn is rx.recv bound once: passing it to RawConn.Read allocates nothing.
	readFn func(fd uintptr) bool
}

func newRxBatch(w *Worker, size int) *rxBatch {
	rx := &rxBatch{w: w, dgs: make([]*InboundDatagram, size), hdrs: make([]unix.Mmsghdr, size),
		iovs: make([]unix.Iovec, size), names: make([][sockaddrLen]byte, size), ctrl: make([]byte, size*ctrlLen)}
	for i := range rx.dgs {
		rx.dgs[i] = w.in.Get()
		rx.iovs[i].Base = &rx.dgs[i].Buf[0]
		rx.iovs[i].SetLen(len(rx.dgs[i].Buf))
		h := &rx.hdrs[i].Hdr
		h.Name = &rx.names[i][0]
		h.Iov = &rx.iovs[i]
		h.SetIovlen(1)
		h.Control = &rx.ctrl[i*ctrlLen]
	}
	rx.readFn = rx.recv
	return rx
}

func (rx *rxBatch) recv(fd uintptr) bool {
	for i := range rx.hdrs {
		rx.hdrs[i].Hdr.Namelen = sockaddrLen
		rx.hdrs[i].Hdr.SetControllen(ctrlLen)
		rx.hdrs[i].Hdr.Flags = 0
	}
	for {
		// RawSyscall: the socket is non-blocking, so recvmmsg returns at once; telling the
		// scheduler about the call (entersyscall) would wake its sysmon thread on every
		// packet, a context switch that costs more than the call (docs/performance.md).
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&rx.hdrs[0])), uintptr(len(rx.hdrs)), 0, 0, 0)
		switch e {
		case 0:
			rx.n, rx.errno = int(r), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // nothing to read: the runtime waits for the socket to be readable
		default:
			rx.n, rx.errno = 0, e
			return true
		}
	}
}

// read waits for and reads one batch; it returns how many slots hold a datagram.
func (rx *rxBatch) read() (int, error) {
	if err := rx.w.raw.Read(rx.readFn); err != nil {
		return 0, err
	}
	if rx.errno != 0 {
		return 0, fmt.Errorf("recvmmsg: %w", rx.errno)
	}
	k := 0
	for i := range rx.n {
		h := &rx.hdrs[i]
		if ctl := int(h.Hdr.Controllen); ctl >= unix.CmsgLen(4) {
			c := (*unix.Cmsghdr)(unsafe.Pointer(h.Hdr.Control))
			if c.Level == unix.SOL_SOCKET && c.Type == unix.SO_RXQ_OVFL {
				rx.w.noteOverflow(*(*uint32)(unsafe.Add(unsafe.Pointer(h.Hdr.Control), unix.CmsgLen(0))))
			}
		}
		from, ok := parseSockaddr(&rx.names[i])
		if !ok || h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			rx.w.counters.Drop(DropShort) // larger than MaxPacket, or from no IP address
			continue
		}
		if k != i { // keep the good datagrams in the first k slots
			rx.swap(i, k)
		}
		d := rx.dgs[k]
		d.N, d.From, d.Via = int(rx.hdrs[k].Len), from, rx.w
		k++
	}
	return k, nil
}

// swap exchanges two slots' datagrams.
func (rx *rxBatch) swap(i, j int) {
	rx.dgs[i], rx.dgs[j] = rx.dgs[j], rx.dgs[i]
	rx.hdrs[i].Len, rx.hdrs[j].Len = rx.hdrs[j].Len, rx.hdrs[i].Len
	rx.iovs[i].Base, rx.iovs[j].Base = &rx.dgs[i].Buf[0], &rx.dgs[j].Buf[0]
}

// replace gives slot i a fresh datagram: the handler kept the one it had.
func (rx *rxBatch) replace(i int) {
	rx.dgs[i] = rx.w.in.Get()
	rx.iovs[i].Base = &rx.dgs[i].Buf[0]
}

func (rx *rxBatch) release() {
	for i, d := range rx.dgs {
		d.Release()
		rx.dgs[i] = nil
	}
}

func parseSockaddr(b *[sockaddrLen]byte) (netip.AddrPort, bool) {
	switch family := *(*uint16)(unsafe.Pointer(&b[0])); family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&b[0]))
		port := uint16(sa.Port>>8 | sa.Port<<8) // network byte order
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port), true
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&b[0]))
		port := uint16(sa.Port>>8 | sa.Port<<8)
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port), true
	}
	return netip.AddrPort{}, false
}

func putSockaddr(b *[sockaddrLen]byte, to netip.AddrPort, v6 bool) uint32 {
	port := to.Port()
	port = port>>8 | port<<8
	if v6 {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&b[0]))
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: port, Addr: to.Addr().As16()}
		return unix.SizeofSockaddrInet6
	}
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&b[0]))
	*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: port, Addr: to.Addr().As4()}
	return unix.SizeofSockaddrInet4
}

// txState is a Fanout's sendmmsg headers. It lives in the Fanout, not the worker, so that
// fan-outs of different channels can be sent from different goroutines through one worker.
type txState struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names [][sockaddrLen]byte
	// the call in progress, for writeFn
	off, end, sent int
	errno          syscall.Errno
	writeFn        func(fd uintptr) bool // tx.write bound once: RawConn.Write allocates nothing
}

func (tx *txState) write(fd uintptr) bool {
	for {
		// RawSyscall, as in recv: MSG_DONTWAIT never blocks; the call holds this thread's P
		// for the time the kernel takes to deliver the batch (tens of µs on loopback).
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&tx.hdrs[tx.off])),
			uintptr(tx.end-tx.off), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		tx.sent, tx.errno = int(r), e
		return true // never wait for the socket: what it did not take is dropped
	}
}

func (w *Worker) sendBatch(f *Fanout) {
	tx := &f.tx
	if len(tx.hdrs) < f.n {
		tx.hdrs = make([]unix.Mmsghdr, len(f.bufs))
		tx.iovs = make([]unix.Iovec, len(f.bufs))
		tx.names = make([][sockaddrLen]byte, len(f.bufs))
	}
	if tx.writeFn == nil {
		tx.writeFn = tx.write
	}
	for i := range f.n {
		b := f.bufs[i]
		tx.iovs[i].Base = unsafe.SliceData(b)
		tx.iovs[i].SetLen(len(b))
		h := &tx.hdrs[i].Hdr
		h.Name = &tx.names[i][0]
		h.Namelen = putSockaddr(&tx.names[i], f.to[i], w.v6)
		h.Iov = &tx.iovs[i]
		h.SetIovlen(1)
		tx.hdrs[i].Len = 0
	}
	for tx.off = 0; tx.off < f.n; {
		tx.end = min(f.n, tx.off+w.maxBatch)
		if err := w.raw.Write(tx.writeFn); err != nil { // the socket is closed
			w.counters.dropped[DropWriteError].Add(float64(f.n - tx.off))
			break
		}
		w.counters.SendCalls.Inc()
		switch {
		case tx.errno == unix.EAGAIN || tx.errno == unix.ENOBUFS:
			w.counters.dropped[DropSendBufferFull].Add(float64(tx.end - tx.off))
			tx.off = tx.end
		case tx.errno != 0 || tx.sent <= 0:
			w.counters.Drop(DropWriteError) // skip the datagram the kernel refused, send the rest
			tx.off++
		default:
			var bytes int
			for i := tx.off; i < tx.off+tx.sent; i++ {
				bytes += len(f.bufs[i])
			}
			w.counters.PacketsOut.Add(float64(tx.sent))
			w.counters.BytesOut.Add(float64(bytes))
			tx.off += tx.sent
		}
	}
	for i := range f.n {
		tx.iovs[i].Base = nil
	}
}
