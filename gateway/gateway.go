// Package gateway is mini-livechat's WebSocket edge (`GET /ws`, docs/protocol.md): it accepts
// connections, speaks HELLO / HEARTBEAT / IDENTIFY itself, turns every other client frame into
// a typed request of actors/msg for the connection's session actor, and encodes the events and
// results the session hands back. JSON never goes past this package.
//
// Per connection there is one reader goroutine (started by the HTTP handler, which returns
// after the upgrade: decode, validate, rate-limit, forward) and at most one writer goroutine,
// the only one that writes to the socket, running while there is something to write. A timer
// on the gateway's clock enforces the IDENTIFY and heartbeat deadlines by asking the writer
// to close. Between the session actor and the writer sits a bounded queue: a client that
// reads too slowly is disconnected (close 4006), it never blocks an actor.
//
// Protocol flow:
//
//	server: HELLO {heartbeat_interval}
//	client: HEARTBEAT*           → HEARTBEAT_ACK       (allowed before IDENTIFY)
//	client: IDENTIFY {user_id, token, priority?}
//	server: READY {session_id, user_id, priority, heartbeat_interval}
//	client: requests (10–16, 20, 30–32) → ACK / ERROR / floor events, plus pushed events
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/actors/session"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// Defaults of Options.
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultHeartbeatGrace    = 5 * time.Second
	DefaultIdentifyTimeout   = 10 * time.Second
	DefaultMaxFrameBytes     = 64 << 10
	DefaultRateLimit         = 50 // frames per second, sustained
	DefaultRateBurst         = 100
	DefaultBadFrameLimit     = 20
	DefaultBadFrameWindow    = 10 * time.Second
	DefaultOutboundQueue     = 256
	DefaultWriteTimeout      = 5 * time.Second
	// DefaultCloseTimeout bounds the close handshake: a peer that does not answer our close
	// frame within it has its TCP connection closed (RFC 6455 §7.1.1 lets the server do so).
	DefaultCloseTimeout = time.Second

	// Limits per client address (docs/protocol.md, "Limits per address"). The defaults let a
	// site with dozens of radios behind one NAT address work and reconnect after an outage,
	// while a single address cannot hold the server's connections or guess tokens at speed.
	DefaultMaxConnections            = 10000
	DefaultMaxConnsPerIP             = 64
	DefaultConnectRatePerIP          = 5 // new connections per second, sustained
	DefaultConnectBurstPerIP         = 64
	DefaultIdentifyFailureRatePerIP  = 0.1 // failed IDENTIFYs per second, sustained (6 a minute)
	DefaultIdentifyFailureBurstPerIP = 10
)

// Options configure a Gateway. Zero values take the defaults above.
type Options struct {
	System    *actor.ActorSystem // required
	Directory *actor.PID         // required
	Secret    []byte             // LIVECHAT_SECRET; required
	Metrics   *metrics.Metrics   // nil: a private set
	Logger    *slog.Logger       // nil: discard

	HeartbeatInterval time.Duration // announced in HELLO and READY
	HeartbeatGrace    time.Duration // a session is a zombie after 2 × interval + grace
	IdentifyTimeout   time.Duration
	MaxFrameBytes     int
	RateLimit         float64 // frames per second per connection; negative disables
	RateBurst         int
	BadFrameLimit     int // more than this many bad frames within BadFrameWindow → 4004; -1 disables
	BadFrameWindow    time.Duration
	OutboundQueue     int
	WriteTimeout      time.Duration
	CloseTimeout      time.Duration // bound of the close handshake

	// MaxConnections caps the open WebSocket connections of the server; negative disables.
	MaxConnections int
	// Per client address (IPv4 address or IPv6 /64, from the TCP peer): open connections,
	// new connections per second (rate and burst), failed IDENTIFYs per second (rate and
	// burst; an address that used up its budget is refused until it refills). Negative
	// disables a limit. Loopback peers are exempt unless LimitLoopback is set: without a
	// trusted proxy they are local tools or a local reverse proxy carrying everyone.
	MaxConnsPerIP             int
	ConnectRatePerIP          float64
	ConnectBurstPerIP         int
	IdentifyFailureRatePerIP  float64
	IdentifyFailureBurstPerIP int
	LimitLoopback             bool

	// AllowedOrigins, when non-empty, restricts the Origin header to these host patterns
	// (path.Match syntax, as github.com/coder/websocket's OriginPatterns). Empty accepts any origin:
	// authentication is the IDENTIFY token, never a cookie.
	AllowedOrigins []string

	// Clock gives the time of frames and deadlines and runs the deadline timers
	// (clock.Real() when nil), so tests can move time.
	Clock clock.Clock
}

// Gateway serves `GET /ws`.
type Gateway struct {
	opts   Options
	accept websocket.AcceptOptions
	log    *slog.Logger
	m      *metrics.Metrics
	ips    *ipLimits

	// ctx ends when Shutdown starts; every connection watches it and closes with 1001.
	ctx    context.Context
	cancel context.CancelFunc

	// Open connections, for Shutdown to wait on. A plain WaitGroup would race an Add with
	// Shutdown's Wait; the flag under the mutex refuses connections once shutdown began.
	mu       sync.Mutex
	open     int
	conns    map[*conn]struct{} // identified or not; for Shutdown's sync of their sessions
	shutdown bool
	idle     chan struct{} // closed when open drops to 0 after shutdown began
}

// New checks opts and builds a Gateway.
func New(opts Options) (*Gateway, error) {
	if opts.System == nil || opts.Directory == nil {
		return nil, errors.New("gateway: actor system and directory are required")
	}
	if len(opts.Secret) == 0 {
		return nil, errors.New("gateway: empty token secret")
	}
	if opts.BadFrameLimit < -1 {
		return nil, fmt.Errorf("gateway: bad-frame limit %d: want -1 (off), 0 (default %d) or more", opts.BadFrameLimit, DefaultBadFrameLimit)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&opts.HeartbeatGrace, DefaultHeartbeatGrace)
	def(&opts.IdentifyTimeout, DefaultIdentifyTimeout)
	def(&opts.BadFrameWindow, DefaultBadFrameWindow)
	def(&opts.WriteTimeout, DefaultWriteTimeout)
	def(&opts.CloseTimeout, DefaultCloseTimeout)
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defFloat := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&opts.MaxConnections, DefaultMaxConnections)
	defInt(&opts.MaxConnsPerIP, DefaultMaxConnsPerIP)
	defFloat(&opts.ConnectRatePerIP, DefaultConnectRatePerIP)
	defInt(&opts.ConnectBurstPerIP, DefaultConnectBurstPerIP)
	defFloat(&opts.IdentifyFailureRatePerIP, DefaultIdentifyFailureRatePerIP)
	defInt(&opts.IdentifyFailureBurstPerIP, DefaultIdentifyFailureBurstPerIP)
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.RateBurst <= 0 {
		opts.RateBurst = DefaultRateBurst
	}
	if opts.BadFrameLimit == 0 {
		opts.BadFrameLimit = DefaultBadFrameLimit
	}
	if opts.OutboundQueue <= 0 {
		opts.OutboundQueue = DefaultOutboundQueue
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	g := &Gateway{opts: opts, log: opts.Logger, m: opts.Metrics, ips: newIPLimits(opts), conns: map[*conn]struct{}{}}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.m == nil {
		g.m = metrics.New()
	}
	if len(opts.AllowedOrigins) == 0 {
		g.accept.InsecureSkipVerify = true
	} else {
		g.accept.OriginPatterns = opts.AllowedOrigins
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return g, nil
}

// ServeHTTP upgrades `GET /ws` and hands the connection to a goroutine of its own, which
// runs it until it ends. The server-wide and per-address limits are checked first, so a
// refused connection costs no upgrade, no goroutine and no token check: it is answered with
// HTTP 429 (503 for the server-wide ones) and counted in livechat_ws_refused_total{reason}.
//
// The HTTP server's goroutine returns once the connection is hijacked: it would otherwise sit
// under the reader for the connection's whole life with the request, the router's context
// and a stack grown by the HTTP stack's frames (docs/performance.md, "Memory per session and
// per peer").
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reason := g.enter(); reason != "" {
		g.m.WSRefused.WithLabelValues(reason).Inc()
		refuse(w, reason)
		return
	}
	release := func() {}
	ip, ok := ipKey(r.RemoteAddr)
	if ok {
		rel, reason := g.ips.admit(ip, g.opts.Clock.Now())
		if reason != "" {
			g.exit()
			g.m.WSRefused.WithLabelValues(reason).Inc()
			g.log.Debug("websocket connection refused", "remote", r.RemoteAddr, "reason", reason)
			refuse(w, reason)
			return
		}
		release = rel
	}
	hf := &rawConnKeeper{ResponseWriter: w}
	ws, err := websocket.Accept(hf, r, &g.accept)
	if err != nil {
		release()
		g.exit()
		g.log.Info("websocket upgrade refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	c := newConn(g, ws, hf.conn, r.RemoteAddr)
	c.ip, c.ipKnown = ip, ok
	g.track(c, true)
	go func() {
		defer g.exit()
		defer release()
		defer g.track(c, false)
		defer func() {
			// The HTTP server's recovery no longer covers this goroutine: a panic outside
			// the per-frame recovery costs this connection, not the process.
			if p := recover(); p != nil {
				g.m.ActorPanics.WithLabelValues("gateway").Inc()
				c.log().Error("recovered from a panic running a connection", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				c.endSession()
				_ = ws.CloseNow()
			}
		}()
		c.run()
	}()
}

// enter counts a new connection; it refuses once Shutdown has begun (Shutdown sets the flag
// before it cancels ctx, so no connection slips in after the cancel) and above MaxConnections.
func (g *Gateway) enter() (refused string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shutdown {
		return RefusedShuttingDown
	}
	if g.opts.MaxConnections > 0 && g.open >= g.opts.MaxConnections {
		return RefusedServerConnections
	}
	g.open++
	return ""
}

func (g *Gateway) exit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open--
	if g.shutdown && g.open == 0 {
		close(g.idle)
	}
}

func (g *Gateway) track(c *conn, open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if open {
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
}

// SyncTimeout bounds the wait of Shutdown for the sessions' Synced answers.
const SyncTimeout = time.Second

// Shutdown closes every connection with 1001 and a reason, and waits until their sessions
// have left their channels and stopped, or ctx ends. New connections are refused from now on.
// Before the close, every session is synced (session.Sync), so that the events already sent
// to it — a FLOOR_REVOKE "shutdown" — are written before the close frame.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if !g.shutdown {
		g.shutdown = true
		g.idle = make(chan struct{})
		if g.open == 0 {
			close(g.idle)
		}
	}
	idle := g.idle
	var sessions []*actor.PID
	for c := range g.conns {
		if pid := c.sessionPID(); pid != nil {
			sessions = append(sessions, pid)
		}
	}
	g.mu.Unlock()
	futures := make([]*actor.Future, 0, len(sessions))
	for _, pid := range sessions {
		futures = append(futures, g.opts.System.Root.RequestFuture(pid, &session.Sync{}, SyncTimeout))
	}
	for _, f := range futures {
		_ = f.Wait() // a session that ended or is slow does not hold the shutdown up
	}
	g.cancel()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway shutdown: %w", ctx.Err())
	}
}

// verify checks an IDENTIFY token at the gateway's clock (Options.Clock), so tests can move time.
func (g *Gateway) verify(tok string) (token.Claims, error) {
	return token.Verify(g.opts.Secret, tok, g.opts.Clock.Now())
}
