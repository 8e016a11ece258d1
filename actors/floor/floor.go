// Package floor is mini-livechat's floor-control state machine (docs/floor-control.md, after 3GPP
// TS 24.380 §6.3 "floor control server"). It is plain code: no actors, no goroutines, no clock. The
// channel actor owns one Machine, calls a transition function for every floor-related input and
// carries out the Effects it returns (send an event, arm or cancel a timer).
//
//	                  Request (member, any priority)
//	      ┌──────────────────────────────────────────────────┐
//	      │                                                  ▼
//	┌───────────┐   Release by holder, queue empty     ┌───────────┐
//	│           │◄─────────────────────────────────────│           │──┐ Request, priority > holder's:
//	│   Idle    │   Leave of holder, queue empty        │   Taken   │  │   REVOKE preempted → old holder,
//	│ (G: Floor │◄─────────────────────────────────────│ (G: Floor │◄─┘   GRANTED/TAKEN to the new one
//	│   Idle)   │   Timer ping/max, queue empty         │  Taken)   │──┐ Request, priority ≤ holder's:
//	│           │◄─────────────────────────────────────│           │◄─┘   queued (QUEUE_POS_INFO)
//	│           │   Revoke (admin): queue cleared       │           │──┐ Release/Leave/Timer with a queue:
//	└───────────┘◄─────────────────────────────────────└───────────┘◄─┘   head of queue granted
//
// Invariants: the queue is empty while Idle; the holder is never in the queue; every queued user
// and the holder are members. A timer carries the generation it was armed with; a timer whose
// generation is no longer current is stale and does nothing.
package floor

import (
	"slices"
	"time"
)

// State is the floor state of one channel.
type State int

// Floor states, named after TS 24.380's "G: Floor Idle" and "G: Floor Taken".
const (
	Idle State = iota
	Taken
)

// The states as they appear on the wire (channel info's floor.state); actors/msg uses these.
const (
	IdleName  = "idle"
	TakenName = "taken"
)

// String returns the state as it appears on the wire (IdleName, TakenName).
func (s State) String() string {
	switch s {
	case Idle:
		return IdleName
	case Taken:
		return TakenName
	}
	return "unknown"
}

// TimerKind names one of the two floor timers a holder runs under.
type TimerKind int

// Timer kinds. TimerPing is re-armed by every FLOOR_PING (the analogue of TS 24.380's T1
// "End of RTP media", with pings standing in for media); TimerMaxDuration runs once per grant
// (the analogue of T2 "Stop talking").
const (
	TimerPing TimerKind = iota
	TimerMaxDuration
)

// String returns the timer's name for logs.
func (k TimerKind) String() string {
	switch k {
	case TimerPing:
		return "ping"
	case TimerMaxDuration:
		return "max_duration"
	}
	return "unknown"
}

// Deny and revoke reasons as they appear on the wire. They are defined here, where the state
// machine decides them; actors/msg names the same constants for the actors and the gateway.
const (
	DenyQueueFull      = "queue_full"
	DenyNotMember      = "not_member"
	DenyAlreadyGranted = "already_granted"
	DenyNotHolder      = "not_holder"

	RevokePreempted   = "preempted"
	RevokePingTimeout = "ping_timeout"
	RevokeMaxDuration = "max_duration"
	RevokeDisconnect  = "disconnect"
	RevokeAdmin       = "admin"

	// EndRelease labels a tenure that ended with the holder's own FLOOR_RELEASE.
	EndRelease = "release"
)

// Config sets a Machine's limits.
type Config struct {
	// QueueLimit is the most requests that may wait; 0 means no room (every queued request is
	// denied queue_full). The channel actor sets it to the channel capacity by default.
	QueueLimit int
	// PingTimeout is how long a holder may go without FLOOR_PING (6 s: docs/floor-control.md,
	// "Timers").
	PingTimeout time.Duration
	// MaxDuration is the longest a holder may keep the floor (30 s: docs/floor-control.md,
	// "Timers").
	MaxDuration time.Duration
}

// Defaults of docs/floor-control.md, "Timers".
const (
	DefaultPingTimeout = 6 * time.Second
	DefaultMaxDuration = 30 * time.Second
)

// Entry is a queued request: who asked and at which priority.
type Entry struct {
	User     string
	Priority int
	seq      uint64    // arrival order, for FIFO among equal priorities
	at       time.Time // when the request arrived, for grant latency
}

// Machine is the floor of one channel. The zero value is not usable; call New.
type Machine struct {
	cfg     Config
	members map[string]struct{}

	state          State
	holder         string
	holderPriority int
	since          time.Time // when the holder was granted

	queue []Entry // ordered by priority (high first), then arrival
	seq   uint64

	gen      uint64 // last generation handed out
	pingGen  uint64 // generation of the armed ping timer, 0 when none
	maxGen   uint64 // generation of the armed max-duration timer, 0 when none
	queueCap int
}

// New returns an idle floor with no members.
func New(cfg Config) *Machine {
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = DefaultMaxDuration
	}
	return &Machine{cfg: cfg, members: make(map[string]struct{})}
}

// SetQueueLimit changes the queue limit. Requests already queued stay queued even when the new
// limit is smaller; only new requests are refused.
func (m *Machine) SetQueueLimit(n int) { m.cfg.QueueLimit = n }

// QueueLimit is the current queue limit.
func (m *Machine) QueueLimit() int { return m.cfg.QueueLimit }

// MaxDuration is the longest a holder may keep the floor.
func (m *Machine) MaxDuration() time.Duration { return m.cfg.MaxDuration }

// State is the current floor state.
func (m *Machine) State() State { return m.state }

// Holder returns the holder, its priority and when it was granted; ok is false while Idle.
func (m *Machine) Holder() (user string, priority int, since time.Time, ok bool) {
	if m.state != Taken {
		return "", 0, time.Time{}, false
	}
	return m.holder, m.holderPriority, m.since, true
}

// IsHolder reports whether user holds the floor. It allocates nothing (the relay path calls it
// per packet).
func (m *Machine) IsHolder(user string) bool { return m.state == Taken && m.holder == user }

// Queue returns a copy of the queue in grant order (position 1 first).
func (m *Machine) Queue() []Entry { return slices.Clone(m.queue) }

// QueueLen is the number of queued requests.
func (m *Machine) QueueLen() int { return len(m.queue) }

// IsMember reports whether user has joined.
func (m *Machine) IsMember(user string) bool { _, ok := m.members[user]; return ok }

// Position is user's 1-based place in the queue, 0 when not queued.
func (m *Machine) Position(user string) int {
	for i, e := range m.queue {
		if e.User == user {
			return i + 1
		}
	}
	return 0
}

// Join makes user a member. It has no effects: a joining member learns the floor state from
// its JOIN ACK.
func (m *Machine) Join(user string) { m.members[user] = struct{}{} }

// Request handles FLOOR_REQUEST from user at priority, received at now.
func (m *Machine) Request(user string, priority int, now time.Time) Result {
	var r Result
	if !m.IsMember(user) {
		return r.deny(user, DenyNotMember)
	}
	if m.state == Idle {
		m.grant(&r, user, priority, now, now)
		return r
	}
	if m.holder == user {
		return r.deny(user, DenyAlreadyGranted)
	}
	before := m.positions()
	old := m.Position(user)
	at, seq := now, uint64(0)
	if old > 0 {
		// A repeated request re-positions the member with its new priority but keeps its
		// original arrival, so asking again never costs it its place among equals.
		e := m.queue[old-1]
		at, seq = e.at, e.seq
		m.queue = slices.Delete(m.queue, old-1, old)
	}
	if priority > m.holderPriority {
		// Preemption (TS 24.380 "G: Floor Taken", request with pre-emptive priority): the
		// old holder is revoked and not re-queued.
		r.send(ToUser, m.holder, Event{Kind: EventRevoke, Reason: RevokePreempted})
		m.endTenure(&r, RevokePreempted, now)
		m.grant(&r, user, priority, at, now)
		m.queueUpdates(&r, before, "")
		return r
	}
	if old == 0 && len(m.queue) >= m.cfg.QueueLimit {
		return r.deny(user, DenyQueueFull)
	}
	if seq == 0 {
		m.seq++
		seq = m.seq
	}
	m.insert(Entry{User: user, Priority: priority, seq: seq, at: at})
	r.Changed = true
	m.queueUpdates(&r, before, user)
	return r
}

// Release handles FLOOR_RELEASE from user. A queued member that releases is taken out of the
// queue and told so with FLOOR_QUEUE_POS_INFO position 0 (its request is withdrawn).
func (m *Machine) Release(user string, now time.Time) Result {
	var r Result
	switch {
	case !m.IsMember(user):
		return r.deny(user, DenyNotMember)
	case m.IsHolder(user):
		m.endTenure(&r, EndRelease, now)
		m.next(&r, now)
		return r
	}
	pos := m.Position(user)
	if pos == 0 {
		return r.deny(user, DenyNotHolder)
	}
	before := m.positions()
	m.queue = slices.Delete(m.queue, pos-1, pos)
	r.Changed = true
	r.send(ToUser, user, Event{Kind: EventQueuePos, Position: 0, Size: len(m.queue)})
	m.queueUpdates(&r, before, "")
	return r
}

// Ping handles FLOOR_PING from user: the holder gets FLOOR_PONG and its ping timer starts
// again; anyone else is denied (not_member, or not_holder).
func (m *Machine) Ping(user string) Result {
	var r Result
	switch {
	case !m.IsMember(user):
		return r.deny(user, DenyNotMember)
	case !m.IsHolder(user):
		return r.deny(user, DenyNotHolder)
	}
	r.send(ToUser, user, Event{Kind: EventPong})
	m.arm(&r, TimerPing)
	return r
}

// Leave removes user (CHANNEL_LEAVE, disconnect, or a membership taken over by a new session).
// A leaving holder is told nothing; the floor moves to the head of the queue or goes idle.
// A leaving queued member drops out of the queue and the members behind it move up.
func (m *Machine) Leave(user string, now time.Time) Result {
	var r Result
	if !m.IsMember(user) {
		return r
	}
	delete(m.members, user)
	if m.IsHolder(user) {
		m.endTenure(&r, RevokeDisconnect, now)
		m.next(&r, now)
		return r
	}
	if pos := m.Position(user); pos > 0 {
		before := m.positions()
		m.queue = slices.Delete(m.queue, pos-1, pos)
		r.Changed = true
		m.queueUpdates(&r, before, "")
	}
	return r
}

// Revoke handles the admin API's floor revoke: the holder gets FLOOR_REVOKE admin, the queue is
// cleared, and every member gets FLOOR_IDLE. It returns whom the floor was taken from ("" when
// it was idle; then nothing happens).
func (m *Machine) Revoke(now time.Time) (string, Result) { return m.RevokeFor(RevokeAdmin, now) }

// RevokeFor is Revoke with another reason for the holder's FLOOR_REVOKE (server shutdown).
func (m *Machine) RevokeFor(reason string, now time.Time) (string, Result) {
	var r Result
	if m.state != Taken {
		return "", r
	}
	holder := m.holder
	r.send(ToUser, holder, Event{Kind: EventRevoke, Reason: reason})
	m.endTenure(&r, reason, now)
	m.queue = m.queue[:0]
	m.becomeIdle(&r)
	return holder, r
}

// Timer handles the expiry of a timer armed with generation gen. A stale timer (the floor was
// released, re-granted, or the ping timer re-armed since) does nothing.
func (m *Machine) Timer(kind TimerKind, gen uint64, now time.Time) Result {
	var r Result
	if m.state != Taken || gen == 0 {
		return r
	}
	reason := ""
	switch {
	case kind == TimerPing && gen == m.pingGen:
		reason = RevokePingTimeout
	case kind == TimerMaxDuration && gen == m.maxGen:
		reason = RevokeMaxDuration
	default:
		return r
	}
	r.send(ToUser, m.holder, Event{Kind: EventRevoke, Reason: reason})
	m.endTenure(&r, reason, now)
	m.next(&r, now)
	return r
}

// grant makes user the holder: GRANTED to it, TAKEN to every other member, both timers armed.
func (m *Machine) grant(r *Result, user string, priority int, requested, now time.Time) {
	m.state, m.holder, m.holderPriority, m.since = Taken, user, priority, now
	r.Changed = true
	r.Granted = &Grant{User: user, Priority: priority, RequestedAt: requested, At: now}
	r.send(ToUser, user, Event{Kind: EventGranted, Priority: priority, MaxDuration: m.cfg.MaxDuration})
	r.send(ToAllBut, user, Event{Kind: EventTaken, User: user, Priority: priority})
	m.arm(r, TimerPing)
	m.arm(r, TimerMaxDuration)
}

// endTenure ends the current holder's tenure and cancels its timers; the caller decides what
// happens next.
func (m *Machine) endTenure(r *Result, reason string, now time.Time) {
	r.Ended = &Tenure{User: m.holder, Priority: m.holderPriority, Since: m.since, Reason: reason, Held: now.Sub(m.since)}
	r.Changed = true
	m.state, m.holder, m.holderPriority, m.since = Idle, "", 0, time.Time{}
	if m.pingGen != 0 {
		r.Effects = append(r.Effects, Effect{Kind: EffectCancelTimer, Timer: TimerPing})
	}
	if m.maxGen != 0 {
		r.Effects = append(r.Effects, Effect{Kind: EffectCancelTimer, Timer: TimerMaxDuration})
	}
	m.pingGen, m.maxGen = 0, 0
}

// next grants the floor to the head of the queue, or goes idle when nobody waits.
func (m *Machine) next(r *Result, now time.Time) {
	if len(m.queue) == 0 {
		m.becomeIdle(r)
		return
	}
	before := m.positions()
	head := m.queue[0]
	m.queue = slices.Delete(m.queue, 0, 1)
	m.grant(r, head.User, head.Priority, head.at, now)
	r.Granted.FromQueue = true
	m.queueUpdates(r, before, "")
}

func (m *Machine) becomeIdle(r *Result) {
	r.Changed = true
	r.send(ToAll, "", Event{Kind: EventIdle})
}

// arm arms (or re-arms) a timer with a fresh generation.
func (m *Machine) arm(r *Result, kind TimerKind) {
	m.gen++
	after := m.cfg.PingTimeout
	if kind == TimerPing {
		m.pingGen = m.gen
	} else {
		m.maxGen = m.gen
		after = m.cfg.MaxDuration
	}
	r.Effects = append(r.Effects, Effect{Kind: EffectArmTimer, Timer: kind, Generation: m.gen, After: after})
}

// insert puts e in the queue after every entry of higher or equal priority that arrived
// earlier.
func (m *Machine) insert(e Entry) {
	i, _ := slices.BinarySearchFunc(m.queue, e, func(q, t Entry) int {
		if q.Priority != t.Priority {
			return t.Priority - q.Priority // higher priority sorts first
		}
		switch {
		case q.seq < t.seq:
			return -1
		case q.seq > t.seq:
			return 1
		}
		return 0
	})
	m.queue = slices.Insert(m.queue, i, e)
}

// positions maps each queued user to its position.
func (m *Machine) positions() map[string]int {
	p := make(map[string]int, len(m.queue))
	for i, e := range m.queue {
		p[e.User] = i + 1
	}
	return p
}

// queueUpdates sends FLOOR_QUEUE_POS_INFO to every queued user whose position differs from
// before, and always to force (the member that just asked).
func (m *Machine) queueUpdates(r *Result, before map[string]int, force string) {
	for i, e := range m.queue {
		if before[e.User] != i+1 || e.User == force {
			r.send(ToUser, e.User, Event{Kind: EventQueuePos, Position: i + 1, Size: len(m.queue)})
		}
	}
}
