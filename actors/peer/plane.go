// Package peer is mini-livechat's media plane in actors: one peer actor per member that joined
// with an SDP offer (it owns that member's DTLS connection and SRTP contexts), a registry actor
// that alone publishes the UDP look-up snapshots, and Media, which implements msg.MediaPlane for the
// channel actors and runs the UDP socket.
//
// Packet flow (docs/media.md):
//
//	UDP reader ──STUN──▶ answered inline (snapshot by ufrag) ──latch──▶ peer ──▶ registry
//	           ──DTLS──▶ peer (snapshot by address) ──▶ its handshake goroutine
//	           ──SRTP──▶ talker's peer: decrypt ──*media.RelayPacket──▶ channel (floor gate)
//	                     ──same *media.RelayPacket──▶ each listener's peer: rewrite, encrypt ──▶ UDP writer
package peer

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"

	"github.com/minilivechat/minilivechat/actors/mailbox"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// Config configures the media plane. Zero values take the defaults in brackets.
type Config struct {
	// System is the actor system of the registry and the peers [nil: the system of the first
	// channel that opens a peer, so that a server configuration can carry a ready media plane
	// before the server's actor system exists]
	System           *actor.ActorSystem
	Bind             netip.AddrPort // UDP listen address; port 0 picks a free port [0.0.0.0:10000 is the server's flag default]
	AdvertiseIP      netip.Addr     // IP of the host candidate in every answer [Bind's address; 127.0.0.1 if unspecified]
	ReapAfter        time.Duration  // a peer with no datagram for this long is removed [30 s]
	HandshakeTimeout time.Duration  // a DTLS handshake not finished by then is abandoned [10 s]
	// RebindAfter: a valid check from a new address takes over sending, even without
	// USE-CANDIDATE, once the current send address has been silent this long (NAT rebinding) [5 s]
	RebindAfter time.Duration
	Socket      media.SocketConfig
	Metrics     *metrics.Metrics // [a private metrics.New()]
	Logger      *slog.Logger     // [slog.Default()]
	Certificate *media.Certificate
	// Clock gives the time of datagrams and runs the reap timers [clock.Real()].
	Clock clock.Clock
}

// Media is the media plane: it implements msg.MediaPlane for the channel actors and owns the UDP
// socket. Construct it with New, call Start before the first join, Close on shutdown.
type Media struct {
	// static after construction
	cfg      Config
	cert     *media.Certificate
	counters *media.Counters
	log      *slog.Logger
	byUfrag  media.CopyOnWriteMap[string, *endpoint]
	byAddr   media.CopyOnWriteMap[netip.AddrPort, *endpoint]
	pkts     *media.RelayPacketPool
	// props spawn a peer actor that runs on the goroutine that sends to it (the UDP reader
	// for datagrams), so a talker's datagram is decrypted, gated and fanned out with no
	// goroutine start (docs/architecture.md, "Run to completion"); datagrams that find it
	// busy elsewhere wait in a bounded queue, beyond which the newest is dropped and counted
	// (peer_queue_full).
	props []actor.PropsOption
	// handshakes counts the DTLS goroutines (handshake, then alert reader, then close): a
	// stopping peer does not wait for its own, Close waits for all of them.
	handshakes sync.WaitGroup

	// set once, by New (Config.System) or by the first OpenPeer (attach)
	attachOnce sync.Once
	system     *actor.ActorSystem
	registry   *actor.PID
	deadSub    *eventstream.Subscription
	attached   atomic.Bool

	// set once by Start
	sock      *media.Socket
	host      netip.AddrPort // advertised candidate
	localAddr *net.UDPAddr
	started   atomic.Bool
	closeOnce sync.Once

	// stun[i] is owned by UDP worker i's reader goroutine (a responder reuses its buffers, so
	// two readers must never share one); sized by Start.
	stun []media.BindingResponder
}

var _ msg.MediaPlane = (*Media)(nil)

// New builds the media plane on cfg.System: the DTLS certificate (unless given) and the
// registry actor. It does not bind the socket; Start does.
func New(cfg Config) (*Media, error) {
	if cfg.ReapAfter <= 0 {
		cfg.ReapAfter = 30 * time.Second
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.RebindAfter <= 0 {
		cfg.RebindAfter = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if !cfg.Bind.IsValid() {
		cfg.Bind = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	cert := cfg.Certificate
	if cert == nil {
		var err error
		if cert, err = media.NewCertificate(); err != nil {
			return nil, err
		}
	}
	m := &Media{
		cfg: cfg, cert: cert, counters: media.NewCounters(cfg.Metrics),
		log: cfg.Logger.With("component", "media"), pkts: media.NewRelayPacketPool(),
	}
	m.props = mailbox.Options(mailbox.Config{
		IsMedia: func(msg any) bool { _, ok := msg.(*media.InboundDatagram); return ok },
		Dropped: func(msg any) { msg.(*media.InboundDatagram).Release(); m.counters.Drop(media.DropPeerQueueFull) },
	})
	if cfg.System != nil {
		m.attach(cfg.System)
	}
	return m, nil
}

// attach binds the media plane to an actor system and spawns the registry there, once.
// Nothing is routed to actors before: with no peer there is no endpoint to route to.
func (m *Media) attach(system *actor.ActorSystem) {
	m.attachOnce.Do(func() {
		m.system = system
		reg := &registry{byUfrag: &m.byUfrag, byAddr: &m.byAddr, counters: m.counters, addrs: map[*endpoint][]netip.AddrPort{}}
		m.registry = system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return reg }))
		m.deadSub = system.EventStream.Subscribe(m.deadLetter)
		m.attached.Store(true)
	})
}

// Start binds the UDP socket and starts its reader and writer.
func (m *Media) Start() error {
	sc := m.cfg.Socket
	if sc.Logger == nil {
		sc.Logger = m.log
	}
	sock, err := media.ListenUDP(m.cfg.Bind, m.counters, sc)
	if err != nil {
		return err
	}
	m.sock = sock
	ip := m.cfg.AdvertiseIP
	if !ip.IsValid() {
		ip = m.cfg.Bind.Addr()
	}
	if ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	m.host = netip.AddrPortFrom(ip.Unmap(), sock.LocalAddr().Port())
	m.localAddr = net.UDPAddrFromAddrPort(sock.LocalAddr())
	m.stun = make([]media.BindingResponder, sock.Workers())
	m.started.Store(true)
	sock.Run(m.route)
	m.log.Info("media plane listening", "bind", sock.LocalAddr().String(), "candidate", m.host.String(),
		"udp_workers", sock.Workers(), "fingerprint", m.cert.Fingerprint)
	return nil
}

// Close stops the UDP socket and the registry and waits (bounded) for the registry to end, so
// that the peers gauge and the look-up snapshots are empty when it returns even if peers were
// still registered. Peer actors are children of their channels and end with them. Close is
// idempotent; OpenPeer refuses offers afterwards.
func (m *Media) Close() error {
	var err error
	m.closeOnce.Do(func() {
		m.started.Store(false)
		if m.sock != nil {
			err = m.sock.Close()
		}
		if m.attached.Load() {
			if werr := m.system.Root.StopFuture(m.registry).Wait(); werr != nil {
				m.log.Warn("media registry did not stop", "err", werr)
			}
			m.system.EventStream.Unsubscribe(m.deadSub)
		}
		// The DTLS goroutines of peers that stopped end once their connection is closed;
		// wait for them here (bounded), never inside a peer's Receive.
		done := make(chan struct{})
		go func() { m.handshakes.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			m.log.Warn("DTLS goroutines still running after close")
		}
	})
	return err
}

// Host is the advertised host candidate (IP and UDP port) every answer names.
func (m *Media) Host() netip.AddrPort { return m.host }

// Worker is the UDP worker that sends the fan-out of packets that came from another cluster
// node (docs/cluster.md, "Media"), nil before Start.
func (m *Media) Worker() *media.Worker {
	if !m.started.Load() {
		return nil
	}
	return m.sock.Worker(0)
}
