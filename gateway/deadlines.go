package gateway

import "time"

// zombieAfter is how long a connection may stay silent: 2 × heartbeat interval + grace.
func (c *conn) zombieAfter() time.Duration {
	return 2*c.gw.opts.HeartbeatInterval + c.gw.opts.HeartbeatGrace
}

// untilDeadline is how long the writer may wait before the next deadline check: until the
// heartbeat deadline or, before IDENTIFY, the identify deadline, whichever is first.
func (c *conn) untilDeadline() time.Duration {
	now := c.gw.opts.Clock.Now()
	d := time.Unix(0, c.lastSeen.Load()).Add(c.zombieAfter()).Sub(now)
	if !c.identified.Load() {
		d = min(d, c.connectedAt.Add(c.gw.opts.IdentifyTimeout).Sub(now))
	}
	return max(d, time.Millisecond)
}

// deadlineMissed names the close a missed deadline calls for (code 0: none missed).
func (c *conn) deadlineMissed() (int, string) {
	now := c.gw.opts.Clock.Now()
	if !c.identified.Load() && now.Sub(c.connectedAt) >= c.gw.opts.IdentifyTimeout {
		return CloseIdentifyTimeout, "no IDENTIFY within " + c.gw.opts.IdentifyTimeout.String()
	}
	if now.Sub(time.Unix(0, c.lastSeen.Load())) >= c.zombieAfter() {
		return CloseHeartbeat, "heartbeat timeout: no frame for " + c.zombieAfter().String()
	}
	return 0, ""
}
