package actortest

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Op is what an actor under test did through its Context.
type Op int

// Recorded operations.
const (
	OpSend Op = iota
	OpRequest
	OpRespond
	OpForward
	OpSpawn
	OpStop
	OpPoison
	OpWatch
	OpUnwatch
)

// String names the operation.
func (o Op) String() string {
	return [...]string{"Send", "Request", "Respond", "Forward", "Spawn", "Stop", "Poison", "Watch", "Unwatch"}[o]
}

// Record is one recorded operation. To is the target PID (for Respond: the sender of the
// message being handled, nil when it had none). Sender is the sender the message would carry
// (Request: Self; Forward: the original sender).
type Record struct {
	Op      Op
	To      *actor.PID
	Message any
	Sender  *actor.PID
	Props   *actor.Props // OpSpawn
}

// Context implements actor.Context for one actor driven directly by a test: Deliver calls the
// actor's Receive with a message, and every Send, Request, Respond, Forward, Spawn, Stop and
// Watch is recorded instead of performed. Methods the actors do not use are left to the
// embedded nil interface and panic if called. It is used from the test goroutine only.
//
// Self is a Probe, so messages an actor sends to itself from outside Receive (timer functions
// posting through the actor system) can be taken with DeliverSelf.
type Context struct {
	actor.Context

	System    *actor.ActorSystem
	ParentPID *actor.PID
	// SelfProbe receives what is sent to Self through the actor system.
	SelfProbe *Probe
	// OnSpawn, when set, decides the PID a Spawn returns (e.g. spawn a probe); by default a
	// fresh PID that names no running actor.
	OnSpawn func(props *actor.Props, name string) *actor.PID

	Records []Record

	message  any
	sender   *actor.PID
	children []*actor.PID
	spawned  int
	timeout  time.Duration
	logger   *slog.Logger
	actor    actor.Actor
}

// NewContext returns a Context whose Self is a new probe in system.
func NewContext(t testing.TB, system *actor.ActorSystem) *Context {
	p := NewProbe(t, system)
	return &Context{System: system, SelfProbe: p, logger: slog.New(slog.DiscardHandler)}
}

// Deliver runs a.Receive with msg from sender (nil for a plain Send) and returns the
// operations recorded while it ran.
func (c *Context) Deliver(a actor.Actor, msg any, sender *actor.PID) []Record {
	c.actor, c.message, c.sender = a, msg, sender
	n := len(c.Records)
	a.Receive(c)
	c.message, c.sender = nil, nil
	return c.Records[n:]
}

// DeliverSelf waits for the next message sent to Self through the actor system and delivers
// it to a.
func (c *Context) DeliverSelf(t testing.TB, a actor.Actor, timeout time.Duration) []Record {
	t.Helper()
	env := c.SelfProbe.Next(t, timeout)
	return c.Deliver(a, env.Message, env.Sender)
}

// Take returns and forgets every record so far.
func (c *Context) Take() []Record {
	r := c.Records
	c.Records = nil
	return r
}

// Responses filters the Respond records' messages.
func Responses(rs []Record) []any {
	var out []any
	for _, r := range rs {
		if r.Op == OpRespond {
			out = append(out, r.Message)
		}
	}
	return out
}

// SentTo filters the messages sent (Send or Request) to pid.
func SentTo(rs []Record, pid *actor.PID) []any {
	var out []any
	for _, r := range rs {
		if (r.Op == OpSend || r.Op == OpRequest) && r.To.Equal(pid) {
			out = append(out, r.Message)
		}
	}
	return out
}

// Filter returns the records of one operation.
func Filter(rs []Record, op Op) []Record {
	var out []Record
	for _, r := range rs {
		if r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

func (c *Context) rec(r Record) { c.Records = append(c.Records, r) }

// Self is the self probe's PID.
func (c *Context) Self() *actor.PID { return c.SelfProbe.PID() }

// Parent returns c.ParentPID.
func (c *Context) Parent() *actor.PID { return c.ParentPID }

// Actor is the actor being driven.
func (c *Context) Actor() actor.Actor { return c.actor }

// ActorSystem is the system the probes live in.
func (c *Context) ActorSystem() *actor.ActorSystem { return c.System }

// Logger discards.
func (c *Context) Logger() *slog.Logger { return c.logger }

// Message is the message being delivered.
func (c *Context) Message() any { return c.message }

// MessageHeader is empty.
func (c *Context) MessageHeader() actor.ReadonlyMessageHeader { return nil }

// Sender is the sender of the message being delivered.
func (c *Context) Sender() *actor.PID { return c.sender }

// Send records a Send.
func (c *Context) Send(pid *actor.PID, m any) { c.rec(Record{Op: OpSend, To: pid, Message: m}) }

// Request records a Request with Self as sender.
func (c *Context) Request(pid *actor.PID, m any) {
	c.rec(Record{Op: OpRequest, To: pid, Message: m, Sender: c.Self()})
}

// RequestWithCustomSender records a Request with the given sender.
func (c *Context) RequestWithCustomSender(pid *actor.PID, m any, sender *actor.PID) {
	c.rec(Record{Op: OpRequest, To: pid, Message: m, Sender: sender})
}

// Respond records a reply to the current sender.
func (c *Context) Respond(m any) { c.rec(Record{Op: OpRespond, To: c.sender, Message: m}) }

// Forward records the current message forwarded to pid with its sender kept.
func (c *Context) Forward(pid *actor.PID) {
	c.rec(Record{Op: OpForward, To: pid, Message: c.message, Sender: c.sender})
}

// Spawn records a spawn and returns OnSpawn's PID or a fresh one.
func (c *Context) Spawn(props *actor.Props) *actor.PID { return c.spawn(props, "child") }

// SpawnPrefix is Spawn with a name prefix.
func (c *Context) SpawnPrefix(props *actor.Props, prefix string) *actor.PID {
	return c.spawn(props, prefix)
}

// SpawnNamed is Spawn with a name.
func (c *Context) SpawnNamed(props *actor.Props, name string) (*actor.PID, error) {
	return c.spawn(props, name), nil
}

func (c *Context) spawn(props *actor.Props, name string) *actor.PID {
	c.spawned++
	var pid *actor.PID
	if c.OnSpawn != nil {
		pid = c.OnSpawn(props, name)
	} else {
		pid = actor.NewPID(c.System.Address(), fmt.Sprintf("%s/%s$%d", c.Self().Id, strings.TrimSuffix(name, "$"), c.spawned))
	}
	c.children = append(c.children, pid)
	c.rec(Record{Op: OpSpawn, To: pid, Props: props})
	return pid
}

// Children are the PIDs spawned and not stopped.
func (c *Context) Children() []*actor.PID { return append([]*actor.PID(nil), c.children...) }

// Stop records a stop.
func (c *Context) Stop(pid *actor.PID) {
	c.dropChild(pid)
	c.rec(Record{Op: OpStop, To: pid})
}

// Poison records a poison.
func (c *Context) Poison(pid *actor.PID) {
	c.dropChild(pid)
	c.rec(Record{Op: OpPoison, To: pid})
}

func (c *Context) dropChild(pid *actor.PID) {
	for i, p := range c.children {
		if p.Equal(pid) {
			c.children = append(c.children[:i], c.children[i+1:]...)
			return
		}
	}
}

// Watch records a watch.
func (c *Context) Watch(pid *actor.PID) { c.rec(Record{Op: OpWatch, To: pid}) }

// Unwatch records an unwatch.
func (c *Context) Unwatch(pid *actor.PID) { c.rec(Record{Op: OpUnwatch, To: pid}) }

// SetReceiveTimeout stores d.
func (c *Context) SetReceiveTimeout(d time.Duration) { c.timeout = d }

// CancelReceiveTimeout clears it.
func (c *Context) CancelReceiveTimeout() { c.timeout = 0 }

// ReceiveTimeout is the stored receive timeout.
func (c *Context) ReceiveTimeout() time.Duration { return c.timeout }

func describe(envs []Envelope) string {
	var b strings.Builder
	for i, e := range envs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%T%+v", e.Message, e.Message)
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}
