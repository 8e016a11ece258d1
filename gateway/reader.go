package gateway

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/session"
)

// fail answers a frame with ERROR and counts it as a bad frame when it is a protocol error
// (1xxx). It reports whether the connection must close for too many bad frames.
func (c *conn) fail(e *msg.Error, reqOp *int, nonce string) bool {
	b, err := errorFrame(e, reqOp, nonce)
	if err == nil {
		c.send(rawFrame{data: b, op: OpError, errCode: int(e.Code)})
	}
	if e.Code >= 1000 && e.Code < 2000 && c.bad.add(c.gw.opts.Clock.Now()) {
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

	// The writer runs only while there is something to write (writeLoop); the deadlines and
	// the shutdown start it with a close request when they come.
	c.armDeadline()
	c.watchShutdown()
	c.send(mustFrame(OpHello, HelloPayload{HeartbeatInterval: g.opts.HeartbeatInterval.Milliseconds()}))

	c.readLoop()

	// However the reader ended, the session ends now and the writer closes the socket.
	c.endSession()
	c.requestClose(int(websocket.StatusNormalClosure), "connection closed", false)
	<-c.writerDone
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
		now := c.gw.opts.Clock.Now()
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
