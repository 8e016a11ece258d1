package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/session"
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
	out        chan any          // frames for the writer: rawFrame, events, *msg.Result
	closeReq   chan closeRequest // capacity 1: the first close request wins
	closing    atomic.Bool       // a close was requested: stop forwarding and delivering
	lastSeen   atomic.Int64      // unix nanos of the last application frame
	identified atomic.Bool
	logger     atomic.Pointer[slog.Logger] // gains user_id and session_id at IDENTIFY

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
	now := g.opts.Now()
	c := &conn{
		gw: g, ws: ws, raw: raw, connectedAt: now,
		out:      make(chan any, g.opts.OutboundQueue),
		closeReq: make(chan closeRequest, 1),
		limiter:  newTokenBucket(g.opts.RateLimit, g.opts.RateBurst, now),
		bad:      newBadFrames(g.opts.BadFrameLimit, g.opts.BadFrameWindow),
	}
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
	select {
	case c.out <- v:
	default:
		c.log().Warn("outbound queue full; disconnecting slow client", "queue", cap(c.out))
		c.requestClose(CloseSlowConsumer, "outbound queue full: client reads too slowly", false)
		c.endSession()
	}
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

// fail answers a frame with ERROR and counts it as a bad frame when it is a protocol error
// (1xxx). It reports whether the connection must close for too many bad frames.
func (c *conn) fail(e *msg.Error, reqOp *int, nonce string) bool {
	b, err := errorFrame(e, reqOp, nonce)
	if err == nil {
		c.send(rawFrame{data: b, op: OpError, errCode: int(e.Code)})
	}
	if e.Code >= 1000 && e.Code < 2000 && c.bad.add(c.gw.opts.Now()) {
		c.requestClose(CloseTooManyBad, "too many bad frames", true)
		return true
	}
	return false
}

// run is the reader: it owns the connection's lifetime.
func (c *conn) run() {
	g := c.gw
	g.m.Sessions.Inc()
	defer g.m.Sessions.Dec()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.send(mustFrame(OpHello, HelloPayload{HeartbeatInterval: g.opts.HeartbeatInterval.Milliseconds()}))

	c.readLoop()

	// However the reader ended, the session ends now and the writer closes the socket.
	c.endSession()
	c.requestClose(int(websocket.StatusNormalClosure), "connection closed", false)
	<-writerDone
	_ = c.ws.CloseNow()

	if c.session != nil {
		select {
		case <-c.sessionDone:
		case <-time.After(2 * session.DefaultLeaveTimeout):
			c.log().Warn("session did not stop after disconnect", "user_id", c.who.userID)
		}
	}
}

func (c *conn) readLoop() {
	max := c.gw.opts.MaxFrameBytes
	for {
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			return
		}
		now := c.gw.opts.Now()
		c.lastSeen.Store(now.UnixNano()) // any application frame proves liveness
		data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
		if err != nil {
			return
		}
		if len(data) > max {
			c.fail(msg.Errorf(msg.CodeFrameTooLarge, "frame larger than %d bytes", max), nil, "")
			c.requestClose(CloseFrameTooLarge, "frame too large", true)
			return
		}
		// RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007.
		// github.com/coder/websocket does not check, so the gateway does, before any JSON parsing.
		// ERROR 1004 says why (like 1006 before 1009); the close itself is not counted again:
		// ws_errors_total{code="1007"} is ERROR 1007 (priority not granted).
		if typ == websocket.MessageText && !utf8.Valid(data) {
			c.fail(msg.Errorf(msg.CodeMalformed, "text frame is not valid UTF-8"), nil, "")
			c.requestClose(CloseInvalidUTF8, "text frame is not valid UTF-8", true)
			return
		}
		if c.closing.Load() {
			continue // a close is on its way; read on so the close handshake can finish
		}
		if c.handle(typ, data, now) {
			return
		}
	}
}

// handle processes one frame; it reports whether the connection is being closed. A panic
// while handling one frame is answered with ERROR 9000 and the connection goes on: one bad
// frame must not skip the cleanup of the session (nor, through net/http's recovery, leak it).
func (c *conn) handle(typ websocket.MessageType, data []byte, now time.Time) (closing bool) {
	// Known once the envelope is read, so that even a 9000 echoes req_op and nonce.
	var reqOp *int
	var nonce string
	defer func() {
		if r := recover(); r != nil {
			c.gw.m.ActorPanics.WithLabelValues("gateway").Inc()
			c.log().Error("recovered from a panic handling a frame", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.fail(msg.Errorf(msg.CodeInternal, "internal error"), reqOp, nonce)
			closing = false
		}
	}()
	if typ != websocket.MessageText {
		return c.fail(msg.Errorf(msg.CodeMalformed, "binary frames are not part of the protocol"), nil, "")
	}
	op, d, perr := parseEnvelope(data)
	if perr != nil {
		return c.fail(perr, nil, "")
	}
	reqOp = intPtr(int(op))
	nonce = nonceOf(d)
	// Rate limiting comes after the envelope so that its ERROR can echo req_op and nonce; a
	// flood costs one parse per frame until the bad-frame limit closes the connection.
	if !c.limiter.allow(now) {
		return c.fail(msg.Errorf(msg.CodeRateLimited, "rate limited: at most %g frames per second", c.gw.opts.RateLimit), reqOp, nonce)
	}
	if !clientOp(op) {
		return c.fail(msg.Errorf(msg.CodeUnknownOp, "unknown op %d", int(op)), reqOp, nonce)
	}
	switch {
	case op == OpHeartbeat:
		var p HeartbeatPayload
		if e := decodePayload(op, d, &p); e != nil {
			return c.fail(e, reqOp, nonce)
		}
		c.send(rawFrame{data: frame(OpHeartbeatAck, []byte("{}")), op: OpHeartbeatAck})
		return false
	case op == OpIdentify:
		return c.identify(d, nonce)
	case !c.identified.Load():
		return c.fail(msg.Errorf(msg.CodeNotIdentified, "not identified: send IDENTIFY first"), reqOp, nonce)
	}
	call := msg.Call{Op: int(op), Nonce: nonce, UserID: c.who.userID, Session: c.session}
	req, e := decodeRequest(op, d, c.who, call)
	if e != nil {
		return c.fail(e, reqOp, nonce)
	}
	c.gw.opts.System.Root.Send(c.session, req)
	return false
}

// identify handles IDENTIFY: verify the token, spawn the session actor, answer READY.
func (c *conn) identify(d json.RawMessage, nonce string) bool {
	reqOp := intPtr(int(OpIdentify))
	if c.identified.Load() {
		return c.fail(msg.Errorf(msg.CodeAlreadyIdentified, "already identified"), reqOp, nonce)
	}
	var p IdentifyPayload
	if e := decodePayload(OpIdentify, d, &p); e != nil {
		return c.fail(e, reqOp, nonce)
	}
	userID, e := requireID(OpIdentify, "user_id", p.UserID)
	if e != nil {
		return c.fail(e, reqOp, nonce)
	}
	if p.Token == nil {
		return c.fail(msg.Errorf(msg.CodeMalformed, "IDENTIFY: missing token"), reqOp, nonce)
	}
	if p.Priority != nil && (*p.Priority < 0 || *p.Priority > maxPriority) {
		return c.fail(msg.Errorf(msg.CodeMalformed, "IDENTIFY: priority must be 0..255"), reqOp, nonce)
	}
	claims, err := c.gw.verify(*p.Token)
	if err == nil && claims.UserID != userID {
		err = errors.New("token subject does not match user_id")
	}
	if err != nil {
		if c.ipKnown {
			c.gw.ips.failedIdentify(c.ip, c.gw.opts.Now())
		}
		c.log().Info("IDENTIFY refused: invalid token", "user_id", userID, "err", err)
		c.fail(msg.Errorf(msg.CodeInvalidToken, "invalid token"), reqOp, nonce)
		c.requestClose(CloseInvalidToken, "invalid token", true)
		return true
	}
	prio := min(msg.PriorityNormal, claims.MaxPriority)
	if p.Priority != nil {
		if *p.Priority > claims.MaxPriority {
			return c.fail(msg.Errorf(msg.CodePriorityDenied,
				"priority %d not granted: token allows at most %d", *p.Priority, claims.MaxPriority), reqOp, nonce)
		}
		prio = *p.Priority
	}

	c.who = identity{userID: userID, priority: prio, maxPriority: claims.MaxPriority}
	sessionID := newSessionID()
	c.logger.Store(c.log().With("user_id", userID, "session_id", sessionID))
	// The session delivers READY once the directory has registered it: a client that got
	// READY is sure to receive every later broadcast (CHANNEL_EVENT create, …).
	ready := mustFrame(OpReady, ReadyPayload{SessionID: sessionID, UserID: userID, Priority: prio,
		HeartbeatInterval: c.gw.opts.HeartbeatInterval.Milliseconds()})
	c.endMu.Lock()
	defer c.endMu.Unlock()
	if c.ended {
		return true // the connection ended while this IDENTIFY was read: no session
	}
	c.sessionDone = make(chan struct{})
	done := c.sessionDone
	c.session = c.gw.opts.System.Root.Spawn(session.Props(session.Config{
		UserID: userID, Priority: prio, Directory: c.gw.opts.Directory, Out: c, Ready: ready,
		ConnectedAt: c.connectedAt,
		LastSeen:    func() time.Time { return time.Unix(0, c.lastSeen.Load()) },
		Now:         c.gw.opts.Now,
		OnStopped:   func() { close(done) },
		OnPanic:     c.gw.m.ActorPanics.WithLabelValues("session").Inc,
		Logger:      c.log(),
	}))
	c.endPID = c.session
	c.identified.Store(true)
	c.log().Info("session identified", "priority", prio, "max_priority", claims.MaxPriority)
	return false
}

func newSessionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// writeLoop is the only writer of the socket. It also closes connections that miss the
// IDENTIFY or heartbeat deadline, and all of them at shutdown.
func (c *conn) writeLoop() {
	g := c.gw
	timer := time.NewTimer(c.untilDeadline())
	defer timer.Stop()
	for {
		// A close request goes before queued frames: after an overflow (4006) the queue holds
		// frames a slow reader would take long to drain, and the close must not wait for them.
		select {
		case cr := <-c.closeReq:
			c.closeFor(cr)
			return
		default:
		}
		select {
		case v := <-c.out:
			if !c.write(v) {
				return
			}
		case cr := <-c.closeReq:
			c.closeFor(cr)
			return
		case <-timer.C:
			if code, reason := c.deadlineMissed(); code != 0 {
				c.closing.Store(true)
				c.noteClose(code, reason)
				c.close(code, reason)
				return
			}
			timer.Reset(c.untilDeadline())
		case <-g.ctx.Done():
			c.closing.Store(true)
			c.flush()
			c.close(CloseShutdown, "server shutting down")
			return
		}
	}
}

// zombieAfter is how long a connection may stay silent: 2 × heartbeat interval + grace.
func (c *conn) zombieAfter() time.Duration {
	return 2*c.gw.opts.HeartbeatInterval + c.gw.opts.HeartbeatGrace
}

func (c *conn) untilDeadline() time.Duration {
	now := c.gw.opts.Now()
	d := time.Unix(0, c.lastSeen.Load()).Add(c.zombieAfter()).Sub(now)
	if !c.identified.Load() {
		d = min(d, c.connectedAt.Add(c.gw.opts.IdentifyTimeout).Sub(now))
	}
	return max(d, time.Millisecond)
}

func (c *conn) deadlineMissed() (int, string) {
	now := c.gw.opts.Now()
	if !c.identified.Load() && now.Sub(c.connectedAt) >= c.gw.opts.IdentifyTimeout {
		return CloseIdentifyTimeout, "no IDENTIFY within " + c.gw.opts.IdentifyTimeout.String()
	}
	if now.Sub(time.Unix(0, c.lastSeen.Load())) >= c.zombieAfter() {
		return CloseHeartbeat, "heartbeat timeout: no frame for " + c.zombieAfter().String()
	}
	return 0, ""
}

// flush writes what is queued now, so that an ERROR explaining a close reaches the client.
func (c *conn) flush() {
	for n := len(c.out); n > 0; n-- {
		if !c.write(<-c.out) {
			return
		}
	}
}

// write encodes and writes one frame; false means the socket is gone. A value that cannot
// be encoded (a panic in a marshaler included) is dropped and logged.
func (c *conn) write(v any) (alive bool) {
	defer func() {
		if r := recover(); r != nil {
			c.gw.m.ActorPanics.WithLabelValues("gateway").Inc()
			c.log().Error("recovered from a panic writing a frame", "type", fmtType(v), "panic", fmt.Sprint(r))
			alive = true
		}
	}()
	b, op, errCode, ok, err := encodeFrame(v)
	if err != nil || !ok {
		c.log().Error("dropping a value that is no client frame", "type", fmtType(v), "err", err)
		return true
	}
	if op == OpError {
		c.gw.m.WSErrors.WithLabelValues(strconv.Itoa(errCode)).Inc()
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.gw.opts.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.closing.Store(true)
		c.log().Debug("write failed", "op", op, "err", err)
		return false
	}
	return true
}

func (c *conn) closeFor(cr closeRequest) {
	if cr.flush {
		c.flush()
	}
	c.close(cr.code, cr.reason)
}

// close ends the session at once, then runs the close handshake (RFC 6455 §7.1.2) for at most
// CloseTimeout: a peer that is gone (heartbeat timeout) or does not read (slow consumer) never
// answers, and neither its session's end nor Shutdown may wait the library's 5 s for it.
func (c *conn) close(code int, reason string) {
	c.endSession()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.ws.Close(websocket.StatusCode(code), reason)
	}()
	t := time.NewTimer(c.gw.opts.CloseTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		if c.raw != nil {
			_ = c.raw.Close() // the library's Close then fails fast and returns
		} else {
			_ = c.ws.CloseNow()
		}
		<-done
	}
}

// log is the connection's logger; safe from any goroutine.
func (c *conn) log() *slog.Logger { return c.logger.Load() }
