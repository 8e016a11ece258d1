package actortest

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

const wait = 5 * time.Second

func TestProbeRecordsInOrderAndSyncs(t *testing.T) {
	sys := actor.NewActorSystem()
	p := NewProbe(t, sys)
	for i := 0; i < 3; i++ {
		sys.Root.Send(p.PID(), i)
	}
	got := p.NextN(t, 2, wait)
	if got[0].Message != 0 || got[1].Message != 1 {
		t.Fatalf("got %v", got)
	}
	rest := p.Sync(t, wait)
	if len(rest) != 1 || rest[0].Message != 2 {
		t.Fatalf("sync returned %v", rest)
	}
	p.ExpectNone(t, wait)
}

func TestReplyingProbeAnswersRequests(t *testing.T) {
	sys := actor.NewActorSystem()
	p := NewReplyingProbe(t, sys, func(m any) any { return m.(string) + "!" })
	res, err := sys.Root.RequestFuture(p.PID(), "hi", wait).Result()
	if err != nil || res != "hi!" {
		t.Fatalf("reply %v, %v", res, err)
	}
	if got := Expect[string](t, p, wait); got != "hi" {
		t.Fatalf("recorded %q", got)
	}
}

// echo is a tiny actor to drive through Context.
type echo struct{ seen int }

func (e *echo) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case string:
		e.seen++
		ctx.Respond(m)
		ctx.Forward(actor.NewPID("nonhost", "fwd"))
		child := ctx.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		ctx.Stop(child)
		ctx.ActorSystem().Root.Send(ctx.Self(), 42)
	case int:
		ctx.Send(actor.NewPID("nonhost", "out"), m+1)
	}
}

func TestContextRecordsAndDeliversSelf(t *testing.T) {
	sys := actor.NewActorSystem()
	c := NewContext(t, sys)
	e := &echo{}
	from := actor.NewPID("nonhost", "asker")
	recs := c.Deliver(e, "ping", from)
	if len(recs) != 4 {
		t.Fatalf("records %+v", recs)
	}
	if recs[0].Op != OpRespond || !recs[0].To.Equal(from) || recs[0].Message != "ping" {
		t.Fatalf("respond %+v", recs[0])
	}
	if recs[1].Op != OpForward || !recs[1].Sender.Equal(from) {
		t.Fatalf("forward %+v", recs[1])
	}
	if recs[2].Op != OpSpawn || recs[3].Op != OpStop || !recs[2].To.Equal(recs[3].To) || len(c.Children()) != 0 {
		t.Fatalf("spawn/stop %+v %+v children %v", recs[2], recs[3], c.Children())
	}
	recs = c.DeliverSelf(t, e, wait)
	if got := SentTo(recs, actor.NewPID("nonhost", "out")); len(got) != 1 || got[0] != 43 {
		t.Fatalf("self delivery sent %v", got)
	}
}
