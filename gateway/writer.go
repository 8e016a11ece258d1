package gateway

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// kick starts the writer unless one is running (or the connection's close is done).
func (c *conn) kick() {
	if c.writing.CompareAndSwap(false, true) {
		go c.writeLoop()
	}
}

// writeLoop is the only writer of the socket. It runs while there is something to write and
// ends when the queue is empty, so an idle connection has no writer goroutine parked with its
// stack; the next frame or close request starts it again (kick). A close request goes before
// queued frames: after an overflow (4006) the queue holds frames a slow reader would take
// long to drain, and the close must not wait for them. After the close, or a failed write,
// no writer starts again.
func (c *conn) writeLoop() {
	for {
		select {
		case cr := <-c.closeReq:
			c.closeFor(cr)
			c.finish()
			return
		default:
		}
		v, ok := c.out.pop()
		if !ok {
			c.writing.Store(false)
			// A frame or close request that came after pop but before the flag went down
			// found a writer running and started none.
			if c.out.len() == 0 && len(c.closeReq) == 0 {
				return
			}
			if !c.writing.CompareAndSwap(false, true) {
				return // another writer has started
			}
			continue
		}
		if !c.write(v) {
			c.finish()
			return
		}
	}
}

// finish ends the connection's writing for good: the deadline timer and the shutdown watch
// stop, and run learns that the socket is closed (or failed). Called once, by the writer that
// closed or failed; writing stays set, so no writer starts after it.
func (c *conn) finish() {
	c.stopWatches()
	close(c.writerDone)
}

// armDeadline arms the deadline timer for the next deadline check, on the gateway's clock.
func (c *conn) armDeadline() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.timerStopped {
		return
	}
	c.timer = c.gw.opts.Clock.AfterFunc(c.untilDeadline(), c.deadlineDue)
}

// watchShutdown closes the connection with 1001 when the gateway shuts down, flushing what
// is queued first.
func (c *conn) watchShutdown() {
	stop := context.AfterFunc(c.gw.ctx, func() {
		c.requestClose(CloseShutdown, "server shutting down", true)
	})
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.timerStopped { // the connection's writing ended first
		stop()
		return
	}
	c.stopShutdown = stop
}

// stopWatches stops the deadline timer and the shutdown watch, for good.
func (c *conn) stopWatches() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	c.timerStopped = true
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stopShutdown != nil {
		c.stopShutdown()
	}
}

// checkDeadline runs on the clock's timer: it closes a connection that missed the IDENTIFY or
// heartbeat deadline (the writer sends the close) and otherwise arms the next check.
func (c *conn) checkDeadline() {
	if code, reason := c.deadlineMissed(); code != 0 {
		c.requestClose(code, reason, false)
		return
	}
	c.armDeadline()
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
