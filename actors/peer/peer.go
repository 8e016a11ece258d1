package peer

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"

	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/clock"
)

// Messages a peer actor receives besides *media.InboundDatagram (from the UDP reader) and
// *media.RelayPacket (relayed by its channel).
type (
	// stunChecked: a valid Binding request for this peer came from an address that is not
	// latched to it yet, or nominated one (USE-CANDIDATE).
	stunChecked struct {
		from         netip.AddrPort
		useCandidate bool
		rebind       bool // the send address has been silent for RebindAfter
	}
	// handshakeDone reports the end of the DTLS handshake goroutine's handshake.
	handshakeDone struct {
		conn     *dtls.Conn
		session  *media.SRTPSession
		err      error
		timedOut bool
	}
	// dtlsClosed: the client closed the DTLS association (close_notify) or it failed.
	dtlsClosed struct{}
	// reapCheck: time to look whether the peer has been silent for ReapAfter.
	reapCheck struct{}
)

// peerActor owns one member's media: its DTLS handshake and connection, its SRTP contexts and
// its outbound stream rewriter. Everything below is touched only inside Receive, except what
// the handshake goroutine gets handed at its start.
type peerActor struct {
	// static after construction
	m        *Media
	ep       *endpoint
	dtlsOpts []dtls.ServerOption // from the offer, whose parsed SDP the peer does not keep
	channel  *actor.PID
	stream   *stream // this member's outbound stream, driven by the channel's relay path

	// owned by Receive
	sendAddr *net.UDPAddr
	conn     *media.DTLSTransport // DTLS adapter, nil until the first DTLS record
	dtls     *dtls.Conn
	srtp     *media.SRTPSession
	cancel   context.CancelFunc
	stopped  chan struct{} // closed in Stopping: the goroutine must not report any more
	reap     clock.Timer
	hdrIn    rtp.Header
}

func newPeerActor(m *Media, ep *endpoint, offer *media.Offer, channel *actor.PID) *peerActor {
	return &peerActor{
		m: m, ep: ep, dtlsOpts: media.DTLSServerOptions(m.cert, offer), channel: channel,
		stopped: make(chan struct{}),
		stream:  newStream(m, ep, offer.OpusPT),
	}
}

// Receive handles one message; see the flow in the package comment. A panic is recovered
// here (see recoverPanic), so that the peer keeps its DTLS association, SRTP contexts,
// addresses and rewriter state instead of being restarted by protoactor as the same struct
// with half-updated fields and a handshake goroutine it no longer knows about.
func (a *peerActor) Receive(ctx actor.Context) {
	defer a.recoverPanic(ctx)
	switch msg := ctx.Message().(type) {
	case *media.InboundDatagram:
		a.datagram(ctx, msg)
	case *stunChecked:
		a.latch(ctx, msg)
	case *handshakeDone:
		a.handshakeDone(ctx, msg)
	case *dtlsClosed:
		a.m.log.Info("media peer closed its DTLS association", "ufrag", a.ep.ufrag, "user_id", a.ep.userID)
		ctx.Stop(ctx.Self())
	case *reapCheck:
		a.checkIdle(ctx)
	case *actor.Started:
		a.scheduleReap(ctx, a.m.cfg.ReapAfter)
	case *actor.Stopping:
		a.shutdown(ctx)
	}
}

// recoverPanic logs and counts a panic and lets the peer go on with its state as it was. The
// message that caused it is not released again: the handlers release with defer, so a
// pooled buffer has already gone back (or is lost to the garbage collector, which is safe).
func (a *peerActor) recoverPanic(ctx actor.Context) {
	r := recover()
	if r == nil {
		return
	}
	a.m.counters.PeerPanics.Inc()
	a.m.log.Error("media peer recovered from a panic", "ufrag", a.ep.ufrag, "user_id", a.ep.userID,
		"panic", fmt.Sprint(r), "message_type", fmt.Sprintf("%T", ctx.Message()), "stack", string(debug.Stack()))
}

func (a *peerActor) latch(ctx actor.Context, m *stunChecked) {
	// The snapshot, not a private list, says whether the address is ours: the registry may
	// have evicted it (maxAddrs) or handed it to another peer since, and a later valid check
	// must latch it again.
	if cur, ok := a.m.byAddr.Get(m.from); !ok || cur != a.ep {
		ctx.Send(a.m.registry, &latch{ep: a.ep, addr: m.from})
	}
	// Media goes to the first address that passed a check, then to the address the client
	// last nominated (Chrome may switch pairs mid-call), or to a new address once the old one
	// has gone silent (NAT rebinding).
	if a.sendAddr == nil || m.useCandidate || m.rebind {
		if a.sendAddr == nil || a.sendAddr.AddrPort() != m.from {
			a.sendAddr = net.UDPAddrFromAddrPort(m.from)
			a.ep.stats.sendSeen.Store(a.m.cfg.Clock.Now().UnixNano())
			a.ep.stats.sendAddr.Store(a.sendAddr)
		}
	}
}

func (a *peerActor) datagram(ctx actor.Context, d *media.InboundDatagram) {
	a.ep.stats.packetsIn.Add(1)
	a.ep.stats.bytesIn.Add(uint64(d.N))
	switch d.Class {
	case media.ClassDTLS:
		a.dtlsRecord(ctx, d)
	case media.ClassRTP:
		a.rtp(ctx, d)
	case media.ClassRTCP:
		a.rtcp(d)
	default:
		d.Release()
	}
}

// dtlsRecord feeds the handshake, starting it on the first record.
func (a *peerActor) dtlsRecord(ctx actor.Context, d *media.InboundDatagram) {
	if a.conn == nil {
		a.startHandshake(ctx, d.From)
	}
	if !a.conn.Push(d) {
		a.m.counters.Drop(media.DropDTLSQueueFull)
		d.Release()
	}
}

func (a *peerActor) startHandshake(ctx actor.Context, from netip.AddrPort) {
	ep, m := a.ep, a.m
	a.conn = media.NewDTLSTransport(m.localAddr, net.UDPAddrFromAddrPort(from), 64, func(b []byte) error {
		to := ep.stats.sendAddr.Load()
		if to == nil {
			return nil // no nominated address yet: the DTLS retransmission will try again
		}
		m.sock.SendTo(b, to.AddrPort())
		return nil
	})
	hctx, cancel := context.WithTimeout(context.Background(), m.cfg.HandshakeTimeout)
	a.cancel = cancel
	conn, opts, self, stopped := a.conn, a.dtlsOpts, ctx.Self(), a.stopped
	report := func(msg any) {
		select {
		case <-stopped: // the actor is gone; nobody to tell
		default:
			m.system.Root.Send(self, msg)
		}
	}
	m.handshakes.Add(1)
	go func() {
		defer m.handshakes.Done()
		defer cancel()
		var dc *dtls.Conn
		reported := false  // whether handshakeDone went out: after it, only dtlsClosed may follow
		handedOff := false // whether readAlerts owns dc
		defer func() {
			// pion/dtls runs on bytes the client chose: a panic in it must cost this peer,
			// not the process.
			if r := recover(); r != nil {
				m.counters.PeerPanics.Inc()
				m.log.Error("DTLS goroutine recovered from a panic", "ufrag", ep.ufrag, "panic", fmt.Sprint(r),
					"stack", string(debug.Stack()))
				conn.Close()
				if !reported {
					report(&handshakeDone{err: fmt.Errorf("dtls: panic: %v", r)})
				} else {
					report(&dtlsClosed{})
				}
			}
			if dc != nil && !handedOff {
				dc.Close() // idempotent; covers a success report the stopped actor never saw
			}
		}()
		dc, err := media.HandshakeDTLS(hctx, conn, net.UDPAddrFromAddrPort(from), opts)
		var sess *media.SRTPSession
		if err == nil {
			if sess, err = media.NewSRTPSession(dc); err != nil {
				dc.Close()
			}
		}
		reported = true
		report(&handshakeDone{conn: dc, session: sess, err: err, timedOut: hctx.Err() != nil})
		if err != nil {
			return
		}
		// The association's reader gets a goroutine of its own, started at the runtime's
		// initial stack size: this one's stack grew through the handshake and the SRTP key
		// setup, and a goroutine parked for the association's whole life would keep it.
		m.handshakes.Add(1)
		handedOff = true
		go readAlerts(m, ep.ufrag, dc, conn, report)
	}()
}

// readAlerts reads the DTLS association until it ends, so that alerts are processed (no
// application data is expected), then reports dtlsClosed and closes it.
func readAlerts(m *Media, ufrag string, dc *dtls.Conn, conn *media.DTLSTransport, report func(any)) {
	defer m.handshakes.Done()
	defer func() {
		if r := recover(); r != nil {
			m.counters.PeerPanics.Inc()
			m.log.Error("DTLS goroutine recovered from a panic", "ufrag", ufrag, "panic", fmt.Sprint(r),
				"stack", string(debug.Stack()))
			conn.Close()
			report(&dtlsClosed{})
		}
		dc.Close() // idempotent
	}()
	buf := make([]byte, media.MaxPacket)
	for {
		if _, err := dc.Read(buf); err != nil {
			report(&dtlsClosed{})
			return
		}
	}
}

func (a *peerActor) handshakeDone(ctx actor.Context, m *handshakeDone) {
	if m.err != nil {
		if m.timedOut {
			a.m.counters.HandshakeTimeout.Inc()
		} else {
			a.m.counters.HandshakeFailed.Inc()
		}
		a.m.log.Info("DTLS handshake failed; removing media peer", "ufrag", a.ep.ufrag,
			"user_id", a.ep.userID, "err", m.err)
		ctx.Stop(ctx.Self())
		return
	}
	a.m.counters.HandshakeOK.Inc()
	a.dtls, a.srtp = m.conn, m.session
	a.stream.local.Store(m.session.Local)
	a.ep.stats.srtpReady.Store(true)
	a.m.log.Debug("DTLS-SRTP ready", "ufrag", a.ep.ufrag, "user_id", a.ep.userID, "profile", m.session.Profile.String())
}

// rtp decrypts a talker's packet into a pooled *media.RelayPacket for the channel to gate.
func (a *peerActor) rtp(ctx actor.Context, d *media.InboundDatagram) {
	defer d.Release()
	if a.ep.listenOnly {
		// Its answer said it would not send: whatever it sends is not relayed (and not
		// decrypted), only counted.
		a.m.counters.Drop(media.DropListenOnly)
		return
	}
	if a.srtp == nil {
		a.m.counters.Drop(media.DropSRTPNotReady)
		return
	}
	pkt := a.m.pkts.Get()
	out, err := a.srtp.Remote.DecryptRTP(pkt.Buf[:0], d.Bytes(), &a.hdrIn)
	if err != nil || len(out) > len(pkt.Buf) {
		a.m.counters.Drop(srtpReason(err))
		pkt.Release()
		return
	}
	a.ep.stats.ssrcIn.Store(a.hdrIn.SSRC)
	pkt.N, pkt.From, pkt.Via = len(out), a.ep.userID, d.Via
	ctx.Send(a.channel, pkt)
}

func srtpReason(err error) media.DropReason {
	if err != nil && strings.Contains(err.Error(), "duplicated") {
		return media.DropSRTPReplay
	}
	return media.DropSRTPAuth
}

// rtcp decrypts SRTCP and keeps what receiver reports say about our stream to this client.
// Client RTCP is never forwarded.
func (a *peerActor) rtcp(d *media.InboundDatagram) {
	defer d.Release()
	if a.srtp == nil {
		a.m.counters.Drop(media.DropSRTPNotReady)
		return
	}
	// A pooled buffer rather than one of the peer's own: receiver reports come every few
	// seconds, and 1,500 bytes per peer would sit idle in between.
	buf := a.m.pkts.Get()
	defer buf.Release()
	plain, err := a.srtp.Remote.DecryptRTCP(buf.Buf[:0], d.Bytes(), nil)
	if err != nil {
		a.m.counters.Drop(srtpReason(err))
		return
	}
	if rs, ok := media.ReadReceptionReport(plain, a.ep.track.SSRCOut, 48000); ok {
		s := a.ep.stats
		s.fractionLost.Store(floatBits(rs.FractionLost))
		s.packetsLost.Store(rs.PacketsLost)
		s.jitterMs.Store(floatBits(rs.JitterMs))
	}
}

func (a *peerActor) scheduleReap(ctx actor.Context, after time.Duration) {
	self, root := ctx.Self(), a.m.system.Root
	a.reap = a.m.cfg.Clock.AfterFunc(after, func() { root.Send(self, &reapCheck{}) })
}

func (a *peerActor) checkIdle(ctx actor.Context) {
	idle := a.m.cfg.Clock.Now().Sub(time.Unix(0, a.ep.stats.lastIn.Load()))
	if idle >= a.m.cfg.ReapAfter {
		a.m.log.Info("media peer silent; reaping it", "ufrag", a.ep.ufrag, "user_id", a.ep.userID,
			"idle", idle.String())
		ctx.Stop(ctx.Self())
		return
	}
	a.scheduleReap(ctx, a.m.cfg.ReapAfter-idle)
}

// shutdown leaves both snapshots and ends DTLS without waiting for anything: Receive runs on
// whichever goroutine sent the message (docs/architecture.md, "Run to completion"), so it must
// never block. The handshake goroutine sees the cancelled context or the closed connection,
// ends by itself and reports to nobody (stopped is closed); Media.Close waits for all of them.
func (a *peerActor) shutdown(ctx actor.Context) {
	close(a.stopped)
	a.stream.local.Store(nil)
	ctx.Send(a.m.registry, &unregister{ep: a.ep})
	if a.reap != nil {
		a.reap.Stop()
	}
	if a.cancel != nil {
		a.cancel()
	}
	if dc, conn := a.dtls, a.conn; dc != nil {
		// close_notify goes out through conn, which closes after it; pion's Close may wait for
		// its own goroutines, so it runs on a goroutine of its own, tracked like the handshake.
		a.m.handshakes.Add(1)
		go func() {
			defer a.m.handshakes.Done()
			dc.Close()
			conn.Close()
		}()
	} else if conn != nil {
		conn.Close()
	}
	a.ep.stats.srtpReady.Store(false)
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }
