// Package actortest holds test helpers for mini-livechat's actors: a Probe actor that records
// every message it receives, and a Context that drives an actor's Receive directly and records
// what it sends, spawns and stops. Neither sleeps: waits are on channels with a timeout.
package actortest

import (
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Envelope is a received message with the PID that sent it (nil for a plain Send).
type Envelope struct {
	Message any
	Sender  *actor.PID
}

// Probe is an actor that records the user messages it receives, in order.
type Probe struct {
	system *actor.ActorSystem
	pid    *actor.PID
	reply  func(msg any) any

	mu      sync.Mutex
	pending []Envelope
	notify  chan struct{} // signalled (non-blocking, capacity 1) when pending grows
}

// syncMark is the sentinel Sync sends through the probe's own mailbox.
type syncMark struct{ done chan struct{} }

// NewProbe spawns a probe in system; the test's cleanup stops it.
func NewProbe(t testing.TB, system *actor.ActorSystem) *Probe {
	return NewReplyingProbe(t, system, nil)
}

// NewReplyingProbe spawns a probe that also answers every request (a message with a sender):
// reply(msg) is sent back unless it returns nil. The message is recorded either way.
func NewReplyingProbe(t testing.TB, system *actor.ActorSystem, reply func(msg any) any) *Probe {
	t.Helper()
	p := &Probe{system: system, reply: reply, notify: make(chan struct{}, 1)}
	p.pid = system.Root.Spawn(actor.PropsFromFunc(p.receive))
	t.Cleanup(func() { _ = system.Root.StopFuture(p.pid).Wait() })
	return p
}

// PID is the probe's address.
func (p *Probe) PID() *actor.PID { return p.pid }

func (p *Probe) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		return
	case *syncMark:
		close(m.done)
		return
	}
	if p.reply != nil && ctx.Sender() != nil {
		if r := p.reply(ctx.Message()); r != nil {
			ctx.Respond(r)
		}
	}
	p.mu.Lock()
	p.pending = append(p.pending, Envelope{Message: ctx.Message(), Sender: ctx.Sender()})
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Next waits up to timeout for the next message and fails the test if none comes.
func (p *Probe) Next(t testing.TB, timeout time.Duration) Envelope {
	t.Helper()
	got := p.NextN(t, 1, timeout)
	return got[0]
}

// NextN waits up to timeout (in all) for the next n messages and fails the test with what it
// did get if fewer come.
func (p *Probe) NextN(t testing.TB, n int, timeout time.Duration) []Envelope {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		if len(p.pending) >= n {
			out := append([]Envelope(nil), p.pending[:n]...)
			p.pending = p.pending[n:]
			p.mu.Unlock()
			return out
		}
		have := len(p.pending)
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-deadline.C:
			t.Fatalf("probe %s: %d of %d messages after %s: %s", p.pid.Id, have, n, timeout, describe(p.Drain()))
			return nil
		}
	}
}

// Sync waits until every message sent to the probe before the call has been received, then
// returns (and consumes) everything not yet taken with Next. Because a mailbox is a FIFO, a
// sender that finished sending before Sync (e.g. an actor that has since answered a request)
// has all its messages in the result.
func (p *Probe) Sync(t testing.TB, timeout time.Duration) []Envelope {
	t.Helper()
	mark := &syncMark{done: make(chan struct{})}
	p.system.Root.Send(p.pid, mark)
	select {
	case <-mark.done:
	case <-time.After(timeout):
		t.Fatalf("probe %s: sync timed out after %s", p.pid.Id, timeout)
	}
	return p.Drain()
}

// ExpectNone syncs and fails the test if any message is waiting.
func (p *Probe) ExpectNone(t testing.TB, timeout time.Duration) {
	t.Helper()
	if got := p.Sync(t, timeout); len(got) > 0 {
		t.Fatalf("probe %s: unexpected messages: %s", p.pid.Id, describe(got))
	}
}

// Drain takes every message received so far without waiting.
func (p *Probe) Drain() []Envelope {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.pending
	p.pending = nil
	return out
}

// Expect waits for the next message and fails the test unless it is a T.
func Expect[T any](t testing.TB, p *Probe, timeout time.Duration) T {
	t.Helper()
	env := p.Next(t, timeout)
	m, ok := env.Message.(T)
	if !ok {
		var zero T
		t.Fatalf("probe %s: got %T %+v, want %T", p.pid.Id, env.Message, env.Message, zero)
	}
	return m
}
