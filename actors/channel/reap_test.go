package channel

import (
	"slices"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
)

// An empty user-created channel is deleted after ReapAfter without a member, through the same
// path as a delete (the directory hears ChannelDeleted and broadcasts it); a join stops the
// idle time and the last leave starts it again.
func TestEmptyUserChannelIsReapedAfterIdleTime(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ReapAfter = time.Minute })
	f.join("a")
	f.clk.Advance(2 * time.Minute) // a member: the timer armed at start was stopped
	f.ctx.SelfProbe.ExpectNone(t, wait)

	actortest.OK(t, f.do(&msg.LeaveChannel{Call: call(12, "a"), ChannelID: "CH"}))
	f.clk.Advance(59 * time.Second)
	f.ctx.SelfProbe.ExpectNone(t, wait)
	f.clk.Advance(time.Second)
	recs := f.ctx.DeliverSelf(t, f.a, wait)
	if got := toDirectory(recs); !slices.Equal(got, []string{"DELETED CH"}) {
		t.Fatalf("reap told the directory %q, want DELETED CH", got)
	}
	if got := value(t, f.met.ChannelsReaped); got != 1 {
		t.Fatalf("channels_reaped_total = %v, want 1", got)
	}
	// Requests still on their way are answered like after a delete.
	actortest.FailCode(t, f.do(&msg.JoinChannel{Call: call(11, "b"), ChannelID: "CH"}), msg.CodeNoSuchChannel)
	if f.clk.Pending() != 0 {
		t.Fatalf("%d timers armed after the reap", f.clk.Pending())
	}
}

// A reap timer that fired just before a join reached the channel finds it in use and does
// nothing; presets are never reaped.
func TestReapSkipsChannelsInUseAndPresets(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ReapAfter = time.Minute })
	f.clk.Advance(time.Minute) // fires: the timer message is in the mailbox…
	f.join("a")                // …but the join is handled first
	if recs := f.ctx.DeliverSelf(t, f.a, wait); len(recs) != 0 {
		t.Fatalf("a stale reap acted: %s", render(recs))
	}

	p := newFixture(t, func(c *Config) { c.ReapAfter = time.Minute; c.Creator = "" })
	if p.clk.Pending() != 0 {
		t.Fatal("a preset armed a reap timer")
	}
	p.join("a")
	actortest.OK(t, p.do(&msg.LeaveChannel{Call: call(12, "a"), ChannelID: "CH"}))
	p.clk.Advance(time.Hour)
	p.ctx.SelfProbe.ExpectNone(t, wait)
}
