package gateway

import (
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/actors/session"
	"github.com/minilivechat/minilivechat/media/clock"
)

// closeRequest asks the writer to close the connection.
type closeRequest struct {
	code   int
	reason string
	flush  bool // write what is queued first (an ERROR explaining the close)
}

// conn is one WebSocket connection.
type conn struct {
	// Static after construction.
	gw          *Gateway
	ws          *websocket.Conn
	raw         net.Conn // the hijacked TCP connection under ws; nil in tests without one
	connectedAt time.Time
	ip          netip.Addr // the per-address limit key (ipKey); valid when ipKnown
	ipKnown     bool

	// Shared between goroutines.
	out        *outQueue         // frames for the writer: rawFrame, events, *msg.Result
	closeReq   chan closeRequest // capacity 1: the first close request wins
	closing    atomic.Bool       // a close was requested: stop forwarding and delivering
	lastSeen   atomic.Int64      // unix nanos of the last application frame
	identified atomic.Bool
	logger     atomic.Pointer[slog.Logger] // gains user_id and session_id at IDENTIFY
	writing    atomic.Bool                 // a writer runs, or the close is done (writer.go)
	writerDone chan struct{}               // closed when the writer has closed the socket or failed

	// The deadline timer (armed by run, then by its own callback) and the watch of the
	// gateway's shutdown (set by run); both stopped for good by the writer's finish.
	timerMu      sync.Mutex
	timer        clock.Timer
	timerStopped bool
	deadlineDue  func() // c.checkDeadline, bound once
	stopShutdown func() bool

	// The session's end: whoever ends the connection first (the reader when the socket
	// fails, the writer when it decides to close, Deliver on overflow) tells the session at
	// once, so its memberships and peers go without waiting for a close handshake.
	endMu  sync.Mutex
	ended  bool
	endPID *actor.PID // the session to tell; set by identify under endMu

	// Owned by the reader (run).
	session     *actor.PID
	sessionDone chan struct{}
	who         identity
	limiter     tokenBucket
	bad         badFrames
}

func newConn(g *Gateway, ws *websocket.Conn, raw net.Conn, remote string) *conn {
	now := g.opts.Clock.Now()
	c := &conn{
		gw: g, ws: ws, raw: raw, connectedAt: now,
		out:        newOutQueue(g.opts.OutboundQueue),
		closeReq:   make(chan closeRequest, 1),
		writerDone: make(chan struct{}),
		limiter:    newTokenBucket(g.opts.RateLimit, g.opts.RateBurst, now),
		bad:        newBadFrames(g.opts.BadFrameLimit, g.opts.BadFrameWindow),
	}
	c.deadlineDue = c.checkDeadline
	c.logger.Store(g.log.With("remote", remote))
	c.lastSeen.Store(now.UnixNano())
	// Room for the frame limit plus one byte, so that run can tell "too large" itself and
	// answer ERROR 1006 before the library's own limit would cut the connection.
	ws.SetReadLimit(int64(g.opts.MaxFrameBytes) + 1)
	return c
}

// Deliver implements session.Outbound: queue v for the client, never blocking. A full queue
// means the client does not read: the session ends now (it leaves its channels like on a
// disconnect) and the writer closes the connection with 4006 as soon as the socket takes
// the close frame — what is still queued is dropped, the client would not read it anyway.
func (c *conn) Deliver(v any) {
	if c.closing.Load() {
		return
	}
	if !c.out.push(v) {
		c.log().Warn("outbound queue full; disconnecting slow client", "queue", c.out.max)
		c.requestClose(CloseSlowConsumer, "outbound queue full: client reads too slowly", false)
		c.endSession()
		return
	}
	c.kick()
}

// Replaced implements session.Outbound: close with 4002 once what is queued is written.
func (c *conn) Replaced() {
	c.requestClose(CloseReplaced, "session replaced by a newer IDENTIFY of the same user", true)
}

// requestClose asks the writer to close; the first request wins and is the one counted.
func (c *conn) requestClose(code int, reason string, flush bool) {
	c.closing.Store(true)
	select {
	case c.closeReq <- closeRequest{code: code, reason: reason, flush: flush}:
		c.noteClose(code, reason)
		c.kick()
	default: // a close is already on its way
	}
}

// noteClose counts and logs an error close when it is decided, not when its frame is
// written: a client that reads nothing never gets the frame, and the close must still show.
func (c *conn) noteClose(code int, reason string) {
	switch code {
	case CloseFrameTooLarge, CloseInvalidToken, CloseReplaced, CloseHeartbeat,
		CloseTooManyBad, CloseIdentifyTimeout, CloseSlowConsumer:
		c.gw.m.WSErrors.WithLabelValues(strconv.Itoa(code)).Inc()
		c.log().Info("closing connection", "code", code, "reason", reason)
	}
}

// sessionPID is the connection's session once identified and not yet told to end, else nil.
func (c *conn) sessionPID() *actor.PID {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	if c.ended {
		return nil
	}
	return c.endPID
}

// endSession tells the session (if any) that the connection is over; only the first call
// does anything.
func (c *conn) endSession() {
	c.endMu.Lock()
	if c.ended {
		c.endMu.Unlock()
		return
	}
	c.ended = true
	pid := c.endPID
	c.endMu.Unlock()
	if pid != nil {
		c.gw.opts.System.Root.Send(pid, &session.Disconnected{})
	}
}

// send queues a frame the gateway made itself; such frames answer the client's own frames,
// so a full queue is the client's problem like any other.
func (c *conn) send(f rawFrame) { c.Deliver(f) }

// log is the connection's logger; safe from any goroutine.
func (c *conn) log() *slog.Logger { return c.logger.Load() }
