package channel

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

var historyPID = actor.NewPID("nonhost", "history")

func withHistory(c *Config) { c.History = historyPID }

// TestBurstLogCountsRelayedPackets: a grant and its end each send one message to the history
// actor, before the floor events; the end carries the packets relayed from the holder.
func TestBurstLogCountsRelayedPackets(t *testing.T) {
	f := newFixture(t, withHistory)
	f.joinMedia("alice", "bob")
	recs := f.do(&msg.RequestFloor{Call: call(30, "alice"), ChannelID: "CH"})
	h := actortest.SentTo(recs, historyPID)
	if len(h) != 1 {
		t.Fatalf("grant sent %d history messages, want 1", len(h))
	}
	if b, ok := h[0].(*msg.BurstBegan); !ok || b.UserID != "alice" || b.Priority != 100 || !b.At.Equal(t0) {
		t.Fatalf("grant logged %#v", h[0])
	}
	pool := media.NewRelayPacketPool()
	for range 7 {
		f.ctx.Deliver(f.a, packet(pool, "alice"), nil)
	}
	f.ctx.Deliver(f.a, packet(pool, "bob"), nil) // not the holder: dropped, not counted
	f.clk.Advance(1200 * time.Millisecond)
	recs = f.do(&msg.ReleaseFloor{Call: call(31, "alice"), ChannelID: "CH"})
	h = actortest.SentTo(recs, historyPID)
	if len(h) != 1 {
		t.Fatalf("release sent %d history messages, want 1", len(h))
	}
	e, ok := h[0].(*msg.BurstEnded)
	if !ok || e.Reason != "release" || e.Packets != 7 || !e.At.Equal(t0.Add(1200*time.Millisecond)) {
		t.Fatalf("release logged %#v, want release with 7 packets at +1.2 s", h[0])
	}
	// History before the members hear of it (docs/history.md).
	if first := actortest.Filter(recs, actortest.OpSend)[0]; !msg.SamePID(first.To, historyPID) && name(first.To) != "directory" {
		t.Errorf("first send of the release went to %s", name(first.To))
	}
}

// TestBurstLogEndReasons: preemption ends one burst and begins the next in that order; a
// delete and a stop during a burst end it too.
func TestBurstLogEndReasons(t *testing.T) {
	f := newFixture(t, withHistory)
	f.join("alice", "bob")
	f.do(&msg.RequestFloor{Call: call(30, "alice"), ChannelID: "CH"})
	h := actortest.SentTo(f.do(&msg.RequestFloor{Call: call(30, "bob"), ChannelID: "CH", Priority: msg.PriorityEmergency, PrioritySet: true}), historyPID)
	if len(h) != 2 {
		t.Fatalf("preemption sent %d history messages, want end then begin", len(h))
	}
	if e, ok := h[0].(*msg.BurstEnded); !ok || e.Reason != msg.RevokePreempted {
		t.Errorf("first: %#v, want the end (preempted)", h[0])
	}
	if b, ok := h[1].(*msg.BurstBegan); !ok || b.UserID != "bob" || b.Priority != msg.PriorityEmergency {
		t.Errorf("second: %#v, want bob's emergency burst", h[1])
	}
	h = actortest.SentTo(f.do(&msg.DeleteChannel{Call: adminCall(14), ChannelID: "CH"}), historyPID)
	if len(h) != 1 || h[0].(*msg.BurstEnded).Reason != msg.BurstChannelDeleted {
		t.Errorf("delete mid-burst logged %#v", h)
	}

	g := newFixture(t, withHistory)
	g.join("alice")
	g.do(&msg.RequestFloor{Call: call(30, "alice"), ChannelID: "CH"})
	h = actortest.SentTo(g.ctx.Deliver(g.a, &actor.Stopping{}, nil), historyPID)
	if len(h) != 1 || h[0].(*msg.BurstEnded).Reason != msg.RevokeShutdown {
		t.Errorf("stop mid-burst logged %#v", h)
	}
}

// TestChatHistoryInJoinAck: chat restored from before a restart and chat posted since are in a
// joiner's ACK, oldest first, capped at RecentLimit, and ids go on after the restored ones.
func TestChatHistoryInJoinAck(t *testing.T) {
	restored := []msg.MessageEvent{
		{ChannelID: "CH", MessageID: "41", UserID: "old", Content: "before"},
		{ChannelID: "CH", MessageID: "42", UserID: "old", Content: "restart"},
	}
	f := newFixture(t, withHistory, func(c *Config) { c.Recent, c.RecentLimit = restored, 3 })
	f.join("alice")
	recs := f.do(&msg.PostMessage{Call: call(20, "alice"), ChannelID: "CH", Content: "one"})
	if ack := actortest.OK(f.t, recs).(*msg.MessageAck); ack.MessageID != "43" {
		t.Errorf("first id after restart %s, want 43", ack.MessageID)
	}
	if h := actortest.SentTo(recs, historyPID); len(h) != 1 || h[0].(*msg.ChatPosted).Message.Content != "one" {
		t.Errorf("chat logged %#v", h)
	}
	f.do(&msg.PostMessage{Call: call(20, "alice"), ChannelID: "CH", Content: "two"})
	ack := actortest.OK(f.t, f.do(&msg.JoinChannel{Call: call(11, "bob"), ChannelID: "CH"})).(*msg.JoinAck)
	var got []string
	for _, m := range ack.Messages {
		got = append(got, m.Content)
	}
	if want := []string{"restart", "one", "two"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("JOIN ACK messages %q, want %q", got, want)
	}
}
