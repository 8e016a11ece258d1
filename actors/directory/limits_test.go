package directory

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
)

func (f *fixture) create(user, id string) []actortest.Record {
	return f.do(&msg.CreateChannel{Call: msg.Call{Op: 10, UserID: user, Session: sess(user)},
		Spec: msg.ChannelSpec{ChannelID: id, Freq: "1"}})
}

func limitFixture(t *testing.T, edit func(*Config)) *fixture {
	f := newFixture(t, DefaultPresets())
	cfg := f.d.cfg
	edit(&cfg)
	f.d = New(cfg)
	f.ctx.Deliver(f.d, &actor.Started{}, nil)
	return f
}

func TestChannelCapsPerUserAndServer(t *testing.T) {
	f := limitFixture(t, func(c *Config) {
		c.MaxChannelsPerUser, c.MaxUserChannels, c.CreateBurst = 2, 3, -1
		c.Logger = slog.New(slog.DiscardHandler)
	})
	f.register("alice", sess("alice"))
	f.register("bob", sess("bob"))
	actortest.OK(t, f.create("alice", "a1"))
	actortest.OK(t, f.create("alice", "a2"))
	recs := f.create("alice", "a3")
	actortest.FailCode(t, recs, msg.CodeChannelLimit)
	if evs := actortest.SentTo(recs, sess("bob")); len(evs) != 0 {
		t.Fatalf("a refused create was broadcast: %v", evs)
	}
	actortest.OK(t, f.create("bob", "b1"))
	// Three user channels exist (presets do not count): the server cap refuses bob's second.
	actortest.FailCode(t, f.create("bob", "b2"), msg.CodeChannelLimit)
	if got := gauge(t, f.met.ChannelCreatesRefused.WithLabelValues(RefusedUserCap)); got != 1 {
		t.Fatalf("refused{user_cap} = %v, want 1", got)
	}
	if got := gauge(t, f.met.ChannelCreatesRefused.WithLabelValues(RefusedServerCap)); got != 1 {
		t.Fatalf("refused{server_cap} = %v, want 1", got)
	}
	// A deleted channel gives its slot back.
	f.do(&msg.ChannelDeleted{ChannelID: "a1"})
	actortest.OK(t, f.create("bob", "b2"))
}

func TestChannelCreationRatePerUser(t *testing.T) {
	f := limitFixture(t, func(c *Config) {
		c.MaxChannelsPerUser, c.MaxUserChannels = -1, -1
		c.CreateBurst, c.CreateInterval = 3, 10*time.Second
	})
	f.register("alice", sess("alice"))
	f.register("bob", sess("bob"))
	n := 0
	create := func(user string) []actortest.Record {
		n++
		return f.create(user, fmt.Sprintf("c%d", n))
	}
	for i := 0; i < 3; i++ {
		actortest.OK(t, create("alice"))
	}
	actortest.FailCode(t, create("alice"), msg.CodeChannelLimit)
	actortest.OK(t, create("bob")) // budgets are per user
	f.clk.Advance(10 * time.Second)
	actortest.OK(t, create("alice"))
	actortest.FailCode(t, create("alice"), msg.CodeChannelLimit)
	if got := gauge(t, f.met.ChannelCreatesRefused.WithLabelValues(RefusedRate)); got != 2 {
		t.Fatalf("refused{rate} = %v, want 2", got)
	}
}
