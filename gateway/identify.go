package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/actors/session"
)

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
			c.gw.ips.failedIdentify(c.ip, c.gw.opts.Clock.Now())
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
		Now:         c.gw.opts.Clock.Now,
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
