package mailbox

import (
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

type (
	media   struct{ n int }
	block   struct{ release chan struct{} }
	control struct{ n int }
)

type recorder struct {
	entered chan struct{}
	got     chan any
}

func (r *recorder) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *block:
		r.entered <- struct{}{}
		<-m.release
	case *media, *control:
		r.got <- m
	}
}

func created() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestBusyActorQueuesMediaBoundedAndControlInFull: while the actor runs on another
// goroutine, media messages queue up to the capacity and the newest beyond it are dropped
// through Dropped; control messages are never dropped; everything queued is handled, in
// order, by the goroutine already running the actor.
func TestBusyActorQueuesMediaBoundedAndControlInFull(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	r := &recorder{entered: make(chan struct{}), got: make(chan any, 1000)}
	var dropped []int
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return r }, Options(Config{
		IsMedia:  func(m any) bool { _, ok := m.(*media); return ok },
		Capacity: 8,
		Dropped:  func(m any) { dropped = append(dropped, m.(*media).n) },
	})...))
	release := make(chan struct{})
	go sys.Root.Send(pid, &block{release: release}) // the actor now runs on that goroutine
	<-r.entered
	for i := range 20 {
		sys.Root.Send(pid, &media{n: i})
		sys.Root.Send(pid, &control{n: i})
	}
	if len(dropped) != 12 || dropped[0] != 8 || dropped[11] != 19 {
		t.Fatalf("dropped %v, want media 8..19 (the newest)", dropped)
	}
	close(release)
	var mediaSeen, controlSeen []int
	for len(mediaSeen)+len(controlSeen) < 28 {
		select {
		case m := <-r.got:
			switch m := m.(type) {
			case *media:
				mediaSeen = append(mediaSeen, m.n)
			case *control:
				controlSeen = append(controlSeen, m.n)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("handled media %v control %v", mediaSeen, controlSeen)
		}
	}
	for i, n := range mediaSeen {
		if n != i {
			t.Fatalf("media out of order: %v", mediaSeen)
		}
	}
	for i, n := range controlSeen {
		if n != i {
			t.Fatalf("control out of order: %v", controlSeen)
		}
	}
}

// TestIdleActorRunsOnTheSendersGoroutine: a message to an idle actor is handled before Send
// returns, and no goroutine is started for it.
func TestIdleActorRunsOnTheSendersGoroutine(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	r := &recorder{got: make(chan any, 2000)}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return r }, Options(Config{
		IsMedia: func(m any) bool { _, ok := m.(*media); return ok },
	})...))
	var handled atomic.Int64
	before := created()
	for i := range 1000 {
		sys.Root.Send(pid, &media{n: i})
		select {
		case <-r.got:
			handled.Add(1)
		default:
			t.Fatalf("message %d not handled when Send returned", i)
		}
	}
	if n := created() - before; n > 2 { // slack for the runtime's own
		t.Fatalf("1000 messages started %d goroutines", n)
	}
}
