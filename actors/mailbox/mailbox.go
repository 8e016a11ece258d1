// Package mailbox is the mailbox of the actors on the media path (peers and channels): the
// message is handled on the goroutine that sends it when the actor is idle (run to
// completion), media messages wait in a bounded queue whose overflow is dropped and counted,
// and scheduling a run allocates nothing (docs/architecture.md, "Run to completion").
//
// protoactor's own mailbox does the first with actor.NewSynchronizedDispatcher, but it binds
// a method value on every schedule (one allocation per message that finds the actor idle) and
// its queues are unbounded or drop without telling; this one implements the same
// actor.Mailbox contract — system messages first, suspend/resume, a throughput after which
// the run yields, failures escalated — with those two differences.
package mailbox

import (
	"runtime"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Config says which user messages are media and what happens to those that do not fit.
type Config struct {
	// IsMedia picks the messages that go to the bounded media queue; all others (requests,
	// timers, handshake results) queue without bound, as their senders are bounded already.
	IsMedia func(msg any) bool
	// Capacity of the media queue [256].
	Capacity int
	// Dropped is called, on the sender's goroutine, with each media message that found the
	// queue full (the newest is dropped); it releases and counts it.
	Dropped func(msg any)
	// Throughput is the number of messages one run handles before it yields the processor [300].
	Throughput int
}

// Options are the props options of an actor on the media path.
func Options(cfg Config) []actor.PropsOption {
	if cfg.Capacity <= 0 {
		cfg.Capacity = 256
	}
	if cfg.Throughput <= 0 {
		cfg.Throughput = 300
	}
	return []actor.PropsOption{
		actor.WithDispatcher(actor.NewSynchronizedDispatcher(cfg.Throughput)),
		actor.WithMailbox(func() actor.Mailbox { return newMailbox(cfg) }),
	}
}

const (
	idle int32 = iota
	running
)

type mailbox struct {
	cfg        Config
	system     queue
	control    queue
	media      chan any
	sysCount   atomic.Int32
	userCount  atomic.Int32 // control + media
	status     atomic.Int32
	suspended  atomic.Bool
	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	process    func() // m.processMessages, bound once
}

var _ actor.Mailbox = (*mailbox)(nil)

func newMailbox(cfg Config) *mailbox {
	m := &mailbox{cfg: cfg, media: make(chan any, cfg.Capacity)}
	m.system.init()
	m.control.init()
	m.process = m.processMessages
	return m
}

func (m *mailbox) PostUserMessage(msg any) {
	if m.cfg.IsMedia != nil && m.cfg.IsMedia(msg) {
		select {
		case m.media <- msg:
		default:
			if m.cfg.Dropped != nil {
				m.cfg.Dropped(msg)
			}
			return
		}
	} else {
		m.control.push(msg)
	}
	m.userCount.Add(1)
	m.schedule()
}

func (m *mailbox) PostSystemMessage(msg any) {
	m.system.push(msg)
	m.sysCount.Add(1)
	m.schedule()
}

func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
}

func (m *mailbox) Start() {}

func (m *mailbox) UserMessageCount() int { return int(m.userCount.Load()) }

func (m *mailbox) schedule() {
	if m.status.CompareAndSwap(idle, running) {
		m.dispatcher.Schedule(m.process)
	}
}

func (m *mailbox) processMessages() {
	for {
		m.run()
		m.status.Store(idle)
		// A message posted after run found the queues empty but before the status went idle
		// would otherwise wait for the next post.
		if m.sysCount.Load() == 0 && (m.suspended.Load() || m.userCount.Load() == 0) {
			return
		}
		if !m.status.CompareAndSwap(idle, running) {
			return // another sender has started a run
		}
	}
}

func (m *mailbox) run() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	for i := 0; ; i++ {
		if i > m.cfg.Throughput {
			i = 0
			runtime.Gosched()
		}
		if msg = m.system.pop(); msg != nil {
			m.sysCount.Add(-1)
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(true)
			case *actor.ResumeMailbox:
				m.suspended.Store(false)
			default:
				m.invoker.InvokeSystemMessage(msg)
			}
			continue
		}
		if m.suspended.Load() {
			return
		}
		if msg = m.control.pop(); msg == nil {
			select {
			case msg = <-m.media:
			default:
				return
			}
		}
		m.userCount.Add(-1)
		m.invoker.InvokeUserMessage(msg)
	}
}

// queue is an unbounded multi-producer, single-consumer queue (Vyukov's): producers swap the
// head, the one running mailbox pops at the tail.
type queue struct {
	head atomic.Pointer[node]
	tail *node // consumer only
}

type node struct {
	next atomic.Pointer[node]
	val  any
}

func (q *queue) init() {
	n := &node{}
	q.head.Store(n)
	q.tail = n
}

func (q *queue) push(v any) {
	n := &node{val: v}
	q.head.Swap(n).next.Store(n)
}

// pop returns the oldest value, or nil when the queue is empty (or a push is half done: its
// producer schedules the mailbox again after it).
func (q *queue) pop() any {
	next := q.tail.next.Load()
	if next == nil {
		return nil
	}
	q.tail = next
	v := next.val
	next.val = nil
	return v
}
