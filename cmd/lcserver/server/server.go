// Package server assembles lcserver in-process: the actor system with its directory and preset
// channels, the WebSocket gateway at /ws, the HTTP API (admin.Mount), the web client at /, all
// on one echo instance and one TCP listener. cmd/lcserver is a thin CLI around it; tests start
// it on ephemeral ports:
//
//	srv, err := server.New(server.Config{Port: 0, UDPPort: 0, AdvertiseIP: "127.0.0.1", Secret: secret})
//	go srv.Run(ctx)          // serves until ctx ends, then shuts down gracefully
//	url := "ws://" + srv.Addr() + "/ws"
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/labstack/echo/v4"

	"github.com/minilivechat/minilivechat/actors/directory"
	"github.com/minilivechat/minilivechat/actors/history"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/peer"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/gateway"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/metrics"
	"github.com/minilivechat/minilivechat/web"
)

// ShutdownTimeout bounds the graceful shutdown of Run.
const ShutdownTimeout = 5 * time.Second

// Server is one assembled lcserver.
type Server struct {
	// Static after New.
	cfg       Config
	log       *slog.Logger
	m         *metrics.Metrics
	system    *actor.ActorSystem
	directory *actor.PID
	history   *actor.PID // nil without a data directory
	gw        *gateway.Gateway
	echo      *echo.Echo
	http      *http.Server
	ln        net.Listener
	advertise net.IP
	started   time.Time
	media     *peer.Media   // the media plane New built, closed by Run; nil when cfg.Media was given
	tls       tlsState      // certificate source of the TCP port (tls.go)
	cluster   *clusterState // nil on a node on its own (cluster.go)

	// recordingURLs signs and checks members' recording URLs; nil without a data directory.
	recordingURLs *history.URLSigner
}

// New validates cfg, builds the actors, the gateway and the routes, and binds the TCP port
// (so Addr is known before Run). Run must be called to serve and, at the end, to release
// everything New took.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, started: cfg.Clock.Now()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m = metrics.New()
	}
	if cfg.Secret == token.DefaultSecret { // only with Dev, on loopback (Validate)
		s.log.Warn("dev mode: tokens are signed with the public default secret; the server listens on loopback only")
	}

	presets := directory.DefaultPresets() // the three of docs/operations.md §11
	if cfg.ChannelsFile != "" {
		var err error
		if presets, err = LoadChannels(cfg.ChannelsFile); err != nil {
			return nil, err
		}
	}

	if cfg.AdvertiseIP == AdvertiseAuto {
		ip, err := AutoAdvertiseIP()
		if err != nil {
			s.log.Warn("no routed source IP; advertising loopback", "err", err)
			ip = net.IPv4(127, 0, 0, 1)
		}
		s.advertise = ip
		s.log.Info("advertise IP chosen from the routing table", "advertise_ip", ip.String())
	} else {
		s.advertise = net.ParseIP(cfg.AdvertiseIP)
		s.log.Info("advertise IP set by configuration", "advertise_ip", s.advertise.String())
	}

	s.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(deadLetterHandler{s.log.Handler()}).With("lib", "protoactor")
	}))
	if cfg.Media == nil {
		mp, err := s.startMedia()
		if err != nil {
			s.system.Shutdown()
			return nil, err
		}
		s.media, s.cfg.Media = mp, mp
	}
	h, err := s.startHistory()
	if err != nil {
		s.stopActors()
		return nil, err
	}
	if err := s.startCluster(); err != nil {
		s.stopActors()
		return nil, err
	}
	s.directory = s.spawnDirectory(presets, h)

	gw, err := gateway.New(gateway.Options{
		System: s.system, Directory: s.directory, Secret: []byte(cfg.Secret),
		Metrics: s.m, Logger: s.log.With("component", "gateway"),
		HeartbeatInterval: cfg.HeartbeatInterval, HeartbeatGrace: cfg.HeartbeatGrace,
		IdentifyTimeout: cfg.IdentifyTimeout, MaxFrameBytes: cfg.MaxFrameBytes,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst, BadFrameLimit: cfg.BadFrameLimit,
		OutboundQueue:  cfg.OutboundQueue,
		AllowedOrigins: cfg.AllowedOrigins,

		MaxConnections: cfg.MaxConnections, MaxConnsPerIP: cfg.MaxConnsPerIP,
		ConnectRatePerIP: cfg.ConnectRatePerIP, ConnectBurstPerIP: cfg.ConnectBurstPerIP,
		IdentifyFailureRatePerIP: cfg.IdentifyFailureRatePerIP, IdentifyFailureBurstPerIP: cfg.IdentifyFailureBurstPerIP,
		LimitLoopback: cfg.LimitLoopback,
		Clock:         cfg.Clock,
	})
	if err != nil {
		s.stopActors()
		return nil, err
	}
	s.gw = gw

	s.echo = echo.New()
	s.echo.HideBanner = true
	s.echo.HidePort = true
	s.echo.GET("/ws", echo.WrapHandler(gw))
	admin.Mount(s.echo, admin.Options{
		Backend: &backend{s: s}, Metrics: s.m, AdminToken: cfg.AdminToken,
		Logger: s.log.With("component", "admin"),
	})
	if s.recordingURLs != nil {
		b := &backend{s: s}
		s.echo.GET("/recordings/:file", echo.WrapHandler(web.RecordingHandler(web.RecordingOptions{
			URLs: s.recordingURLs, Lookup: b.Recording, Logger: s.log.With("component", "recordings"),
		})))
	}
	s.echo.GET("/*", echo.WrapHandler(web.Handler()))

	tlsConf, err := s.setupTLS()
	if err != nil {
		s.stopActors()
		return nil, fmt.Errorf("tls: %w", err)
	}
	addr := net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port))
	ln, err := net.Listen(s.network(), addr)
	if err != nil {
		s.closeTLS()
		s.stopActors()
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = ln
	if tlsConf != nil {
		s.ln = tls.NewListener(ln, tlsConf)
	} else if ip := net.ParseIP(cfg.Bind); !ip.IsLoopback() {
		s.log.Warn("plain HTTP on a non-loopback address: browsers on other machines refuse the microphone without HTTPS; start with --tls-self-signed",
			"bind", cfg.Bind)
	}
	s.http = &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if err := s.listenRedirect(); err != nil {
		_ = s.ln.Close()
		s.closeTLS()
		s.stopActors()
		return nil, err
	}
	return s, nil
}

// network is "tcp4" for an IPv4 bind address (0.0.0.0 means IPv4 only, as an operator reads
// it), else "tcp".
func (s *Server) network() string {
	if ip := net.ParseIP(s.cfg.Bind); ip.To4() != nil {
		return "tcp4"
	}
	return "tcp"
}

// startMedia binds the UDP media port and starts the media plane on the server's actors.
func (s *Server) startMedia() (*peer.Media, error) {
	bind, err := netip.ParseAddr(s.cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("media bind address: %w", err)
	}
	adv, _ := netip.AddrFromSlice(s.advertise)
	mp, err := peer.New(peer.Config{
		System:      s.system,
		Bind:        netip.AddrPortFrom(bind.Unmap(), uint16(s.cfg.UDPPort)),
		AdvertiseIP: adv.Unmap(),
		ReapAfter:   s.cfg.PeerIdleTimeout,
		Socket:      media.SocketConfig{Workers: s.cfg.UDPWorkers},
		Metrics:     s.m,
		Logger:      s.log,
		Clock:       s.cfg.Clock,
	})
	if err != nil {
		return nil, fmt.Errorf("media plane: %w", err)
	}
	if err := mp.Start(); err != nil {
		_ = mp.Close()
		return nil, fmt.Errorf("media plane on udp port %d: %w", s.cfg.UDPPort, err)
	}
	return mp, nil
}

// UDPAddr is the media plane's advertised host candidate (advertise IP and bound UDP port);
// invalid when the configuration brought its own media plane.
func (s *Server) UDPAddr() netip.AddrPort {
	if s.media == nil {
		return netip.AddrPort{}
	}
	return s.media.Host()
}

// Addr is the bound TCP address, host:port (with Bind 0.0.0.0 the host is 0.0.0.0; dial
// 127.0.0.1 and the port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the bound TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// AdvertiseIP is the IP put in SDP candidates.
func (s *Server) AdvertiseIP() net.IP { return s.advertise }

// Metrics is the server's metrics set.
func (s *Server) Metrics() *metrics.Metrics { return s.m }

// Run serves until ctx ends or the listener fails, then shuts down gracefully: refuse new
// connections, close every WebSocket with 1001 and a reason, let each session leave its
// channels (releasing floors), stop the actors. It returns within ShutdownTimeout or so.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("lcserver listening", "addr", s.Addr(), "scheme", s.Scheme(), "version", s.cfg.Version)
	tlsCtx, stopTLS := context.WithCancel(ctx)
	waitTLS := s.runTLS(tlsCtx)
	defer waitTLS()
	defer stopTLS()
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(s.ln) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serve http: %w", err)
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	s.revokeFloors()
	if gerr := s.gw.Shutdown(sctx); gerr != nil {
		s.log.Warn("websocket sessions did not all end in time", "err", gerr)
	}
	if herr := s.http.Shutdown(sctx); herr != nil && !errors.Is(herr, http.ErrServerClosed) {
		s.log.Warn("http shutdown", "err", herr)
		_ = s.http.Close()
	}
	if err == nil {
		if e := <-serveErr; e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = fmt.Errorf("serve http: %w", e)
		}
	}
	s.stopActors()
	s.log.Info("stopped")
	return err
}

// revokeTimeout bounds each floor revoke of the shutdown.
const revokeTimeout = time.Second

// revokeFloors ends every taken floor with FLOOR_REVOKE "shutdown" to its holder (and
// FLOOR_IDLE to the others) before the connections close with 1001, so that a talker learns
// why its transmission ended and every client sees the floor end, not just the socket.
func (s *Server) revokeFloors() {
	b := &backend{s: s}
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	list, err := b.Channels(ctx)
	if err != nil {
		s.log.Warn("shutdown: listing channels to revoke their floors", "err", err)
		return
	}
	var futures []*actor.Future
	for _, ch := range list.Channels {
		if ch.Floor.State == msg.FloorStateTaken {
			futures = append(futures, s.system.Root.RequestFuture(s.directory,
				&msg.RevokeFloor{Call: adminCall, ChannelID: ch.ChannelID, Reason: msg.RevokeShutdown}, revokeTimeout))
		}
	}
	for _, f := range futures {
		if _, err := f.Result(); err != nil {
			s.log.Warn("shutdown: a floor revoke was not answered", "err", err)
		}
	}
	if len(futures) > 0 {
		s.log.Info("shutdown: floors revoked", "floors", len(futures))
	}
}

// stopActors stops the directory (and with it the channels it spawned), then the history
// actor once it has written what they sent it, and the system.
func (s *Server) stopActors() {
	if s.directory != nil {
		if err := s.system.Root.StopFuture(s.directory).Wait(); err != nil {
			s.log.Warn("directory did not stop", "err", err)
		}
	}
	s.cluster.stop() // after the channels: the leases are released, others take over
	s.cluster = nil
	if s.history != nil {
		// Poison, not Stop: it queues behind the bursts and chat already in the mailbox.
		if err := s.system.Root.PoisonFuture(s.history).Wait(); err != nil {
			s.log.Warn("history did not stop", "err", err)
		}
	}
	s.system.Shutdown()
	if s.media != nil {
		if err := s.media.Close(); err != nil {
			s.log.Warn("media plane close", "err", err)
		}
	}
}

// Start is New followed by Run in the background, for tests and tools that embed a server.
// stop cancels Run and waits for it (up to twice ShutdownTimeout), returning Run's error.
func Start(cfg Config) (srv *Server, stop func() error, err error) {
	srv, err = New(cfg)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(2 * ShutdownTimeout):
			return fmt.Errorf("server did not stop within %v", 2*ShutdownTimeout)
		}
	}
	return srv, stop, nil
}
