package floor

import "time"

// Target says who an event goes to.
type Target int

// Targets of an event. ToAll and ToAllBut are resolved by the caller against the channel's
// current members, so a member that has just left is never addressed.
const (
	ToUser   Target = iota // Effect.User only
	ToAll                  // every member
	ToAllBut               // every member except Effect.User
)

// EventKind is the floor event to send; each becomes one wire opcode.
type EventKind int

// Floor events (docs/protocol.md opcodes in brackets).
const (
	EventGranted  EventKind = iota // FLOOR_GRANTED (110)
	EventDeny                      // FLOOR_DENY (111)
	EventTaken                     // FLOOR_TAKEN (112)
	EventIdle                      // FLOOR_IDLE (113)
	EventRevoke                    // FLOOR_REVOKE (114)
	EventQueuePos                  // FLOOR_QUEUE_POS_INFO (115)
	EventPong                      // FLOOR_PONG (116)
)

// String names the event as the protocol does.
func (k EventKind) String() string {
	switch k {
	case EventGranted:
		return "FLOOR_GRANTED"
	case EventDeny:
		return "FLOOR_DENY"
	case EventTaken:
		return "FLOOR_TAKEN"
	case EventIdle:
		return "FLOOR_IDLE"
	case EventRevoke:
		return "FLOOR_REVOKE"
	case EventQueuePos:
		return "FLOOR_QUEUE_POS_INFO"
	case EventPong:
		return "FLOOR_PONG"
	}
	return "unknown"
}

// Event is the content of a floor event; which fields matter depends on Kind.
type Event struct {
	Kind        EventKind
	User        string        // EventTaken: the new holder
	Priority    int           // EventGranted, EventTaken
	MaxDuration time.Duration // EventGranted
	Reason      string        // EventDeny, EventRevoke
	Position    int           // EventQueuePos: 1 = next; 0 = no longer queued
	Size        int           // EventQueuePos: queue length
}

// EffectKind says what an Effect asks the caller to do.
type EffectKind int

// Effect kinds.
const (
	EffectSend        EffectKind = iota // send Event to Target/User
	EffectArmTimer                      // (re)arm Timer to fire after After with Generation
	EffectCancelTimer                   // stop Timer; a late firing would be stale anyway
)

// Effect is one thing the caller must do, in order.
type Effect struct {
	Kind EffectKind

	// EffectSend
	Target Target
	User   string
	Event  Event

	// EffectArmTimer, EffectCancelTimer
	Timer      TimerKind
	Generation uint64
	After      time.Duration
}

// Grant describes a grant that happened in a transition (for metrics and logs).
type Grant struct {
	User        string
	Priority    int
	RequestedAt time.Time // when the granted request arrived (queued requests: their first)
	At          time.Time
	FromQueue   bool // granted from the queue, not at once on its request
}

// Tenure describes a holder's tenure that ended in a transition.
type Tenure struct {
	User     string
	Priority int
	Since    time.Time
	Held     time.Duration
	Reason   string // EndRelease or a Revoke* reason
}

// Result is what a transition produced.
type Result struct {
	Effects []Effect
	Granted *Grant  // a new holder, if any
	Ended   *Tenure // the holder whose tenure ended, if any
	Denied  string  // the deny reason, if the input was denied
	// Changed is set when the channel object changed: state, holder or queue length.
	Changed bool
}

func (r *Result) send(t Target, user string, ev Event) {
	r.Effects = append(r.Effects, Effect{Kind: EffectSend, Target: t, User: user, Event: ev})
}

func (r Result) deny(user, reason string) Result {
	r.Denied = reason
	r.send(ToUser, user, Event{Kind: EventDeny, Reason: reason})
	return r
}
