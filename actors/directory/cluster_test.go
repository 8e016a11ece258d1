package directory

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// fakeLeases records what the directory tells the cluster node.
type fakeLeases struct{ calls []string }

func (l *fakeLeases) Want(id string) { l.calls = append(l.calls, "want "+id) }
func (l *fakeLeases) Drop(id string) { l.calls = append(l.calls, "drop "+id) }

// TestClusterContendsForEveryChannel: a clustered node contends for the owner lease of every
// channel it has (presets, then created ones) and gives it up when the channel ends.
func TestClusterContendsForEveryChannel(t *testing.T) {
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	leases := &fakeLeases{}
	f := &fixture{t: t, ctx: actortest.NewContext(t, sys), clk: clock.NewFake(t0), met: metrics.New()}
	f.d = New(Config{Presets: DefaultPresets()[:2], Cluster: leases, Clock: f.clk, Metrics: f.met, Logger: slog.New(slog.DiscardHandler)})
	f.ctx.Deliver(f.d, &actor.Started{}, nil)
	f.register("u1", sess("u1"))
	actortest.OK(t, f.ctx.Deliver(f.d, &msg.CreateChannel{Call: msg.Call{UserID: "u1", Session: sess("u1")},
		Spec: msg.ChannelSpec{ChannelID: "room"}}, sess("u1")))
	f.do(&msg.ChannelDeleted{ChannelID: "room"})
	want := []string{"want CH_0001", "want CH_0002", "want room", "drop room"}
	if !slices.Equal(leases.calls, want) {
		t.Fatalf("cluster told %q, want %q", leases.calls, want)
	}
}
