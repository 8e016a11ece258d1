package gateway

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/media/clock"
)

// writeLoop is the only writer of the socket. It also closes connections that miss the
// IDENTIFY or heartbeat deadline, and all of them at shutdown.
func (c *conn) writeLoop() {
	g := c.gw
	// The deadline timer runs on the gateway's clock; its callback only wakes this loop.
	due := make(chan struct{}, 1)
	arm := func() clock.Timer {
		return g.opts.Clock.AfterFunc(c.untilDeadline(), func() {
			select {
			case due <- struct{}{}:
			default:
			}
		})
	}
	timer := arm()
	defer func() { timer.Stop() }()
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
		case <-c.out.ready:
			if v, ok := c.out.pop(); ok && !c.write(v) {
				return
			}
		case cr := <-c.closeReq:
			c.closeFor(cr)
			return
		case <-due:
			if code, reason := c.deadlineMissed(); code != 0 {
				c.closing.Store(true)
				c.noteClose(code, reason)
				c.close(code, reason)
				return
			}
			timer = arm()
		case <-g.ctx.Done():
			c.closing.Store(true)
			c.flush()
			c.close(CloseShutdown, "server shutting down")
			return
		}
	}
}

// flush writes what is queued now, so that an ERROR explaining a close reaches the client.
func (c *conn) flush() {
	for n := c.out.len(); n > 0; n-- {
		v, ok := c.out.pop()
		if !ok || !c.write(v) {
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
