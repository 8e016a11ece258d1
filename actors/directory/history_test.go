package directory

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
)

var historyPID = actor.NewPID("nonhost", "history")

func historyFixture(t *testing.T, stored []msg.StoredChannel) *fixture {
	t.Helper()
	return newFixtureConfig(t, Config{Presets: DefaultPresets(), History: historyPID, Stored: stored})
}

// TestStoredChannelsRestored: stored user channels come back with their creator and creation
// time after the presets, count against their creator's limit, and one that collides with a
// preset is skipped (the preset wins).
func TestStoredChannelsRestored(t *testing.T) {
	created := t0.Add(-48 * time.Hour)
	f := historyFixture(t, []msg.StoredChannel{
		{Spec: msg.ChannelSpec{ChannelID: "OPS", Freq: "9", ChannelName: "ops", Capacity: 5}, Creator: "alice", CreatedAt: created},
		{Spec: msg.ChannelSpec{ChannelID: "CH_0001", ChannelName: "hijack"}, Creator: "mallory", CreatedAt: created},
	})
	list := actortest.OK(t, f.do(&msg.ListChannels{})).(*msg.ChannelList).Channels
	if got := ids(list); len(got) != 4 {
		t.Fatalf("channels %v, want the 3 presets and OPS", got)
	}
	for _, c := range list {
		switch c.ChannelID {
		case "OPS":
			if c.Creator != "alice" || !c.CreatedAt.Equal(created) || c.Capacity != 5 {
				t.Errorf("restored OPS: %+v", c)
			}
		case "CH_0001":
			if c.Creator != "" || c.ChannelName == "hijack" {
				t.Errorf("a stored channel replaced the preset: %+v", c)
			}
		}
	}
	if f.d.owned["alice"] != 1 {
		t.Errorf("alice owns %d channels after the restore, want 1", f.d.owned["alice"])
	}
}

// TestChannelWritesReachHistory: create and update of a user channel are saved, a preset's
// update is not, a delete forgets, and a channel that ends with the server is not forgotten.
func TestChannelWritesReachHistory(t *testing.T) {
	f := historyFixture(t, nil)
	recs := f.ctx.Deliver(f.d, &msg.CreateChannel{Call: msg.Call{UserID: "alice"},
		Spec: msg.ChannelSpec{ChannelID: "OPS", Freq: "1"}}, asker)
	if h := actortest.SentTo(recs, historyPID); len(h) != 1 || h[0].(*msg.ChannelSaved).Channel.Creator != "alice" {
		t.Fatalf("create sent %#v to history", h)
	}
	info := f.d.channels["OPS"].info
	info.ChannelName = "renamed"
	h := actortest.SentTo(f.ctx.Deliver(f.d, &msg.ChannelChanged{Info: info, Event: msg.EventUpdate}, nil), historyPID)
	if len(h) != 1 || h[0].(*msg.ChannelSaved).Channel.Spec.ChannelName != "renamed" {
		t.Fatalf("update sent %#v", h)
	}
	preset := f.d.channels["CH_0002"].info
	if h := actortest.SentTo(f.ctx.Deliver(f.d, &msg.ChannelChanged{Info: preset, Event: msg.EventUpdate}, nil), historyPID); len(h) != 0 {
		t.Errorf("a preset's update was stored: %#v", h)
	}
	h = actortest.SentTo(f.ctx.Deliver(f.d, &msg.ChannelDeleted{ChannelID: "OPS"}, nil), historyPID)
	if len(h) != 1 || h[0].(*msg.ChannelForgotten).ChannelID != "OPS" {
		t.Errorf("delete sent %#v", h)
	}
	pid := f.d.channels["CH_0003"].pid
	if h := actortest.SentTo(f.ctx.Deliver(f.d, &actor.Terminated{Who: pid}, nil), historyPID); len(h) != 0 {
		t.Errorf("a channel that ended without a delete was forgotten: %#v", h)
	}
}
