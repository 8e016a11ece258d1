package gateway

import (
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
)

// TestWireStructsCoverTheMessages: a field added to an actor message that clients get must
// be added to its wire struct (and its mapping), or the client never sees it.
func TestWireStructsCoverTheMessages(t *testing.T) {
	actortest.SameFields(t, [][2]any{
		{msg.FloorInfo{}, FloorInfo{}}, {msg.ChannelInfo{}, ChannelInfo{}}, {msg.MemberInfo{}, MemberInfo{}},
		{msg.ChannelDetail{}, ChannelDetail{}}, {msg.ChannelList{}, ChannelList{}}, {msg.ChannelEvent{}, ChannelEvent{}},
		{msg.MessageEvent{}, MessageEvent{}}, {msg.FloorGranted{}, FloorGranted{}}, {msg.FloorDeny{}, FloorDeny{}},
		{msg.FloorTaken{}, FloorTaken{}}, {msg.FloorIdle{}, FloorIdle{}}, {msg.FloorRevoke{}, FloorRevoke{}},
		{msg.FloorQueuePos{}, FloorQueuePos{}}, {msg.FloorPong{}, FloorPong{}}, {msg.JoinAck{}, JoinAck{}},
		{msg.LeaveAck{}, LeaveAck{}}, {msg.MessageAck{}, MessageAck{}}, {msg.ChannelBurstList{}, ChannelBurstList{}},
		{msg.ChannelBurst{}, ChannelBurst{}},
	})
}

// TestWireMappingCopiesEveryField: a fully set message maps onto a wire value with every
// field set (no field left out of a mapping function).
func TestWireMappingCopiesEveryField(t *testing.T) {
	holder, d := "alice", 1.5
	ch := msg.ChannelInfo{ChannelID: "A", Freq: "1", ChannelName: "n", Capacity: 2, MemberCount: 3,
		Floor: msg.FloorInfo{State: msg.FloorStateTaken, Holder: &holder, Priority: 4}, QueueSize: 5, Creator: "c"}
	ch.CreatedAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ch.Floor.Since = &ch.CreatedAt
	member := msg.MemberInfo{UserID: "u", Priority: 6, ListenOnly: true}
	chat := msg.MessageEvent{ChannelID: "A", MessageID: "m", UserID: "u", Content: "x", Timestamp: "t"}
	burst := msg.ChannelBurst{ID: 7, UserID: "u", Priority: 8, Emergency: true, GrantedAt: ch.CreatedAt,
		EndedAt: &ch.CreatedAt, EndReason: "release", DurationS: &d, Packets: 9, HasRecording: true,
		RecordingURL: "/r", RecordingExpires: &ch.CreatedAt}
	values := []any{
		wireResult(&ch),
		wireResult(&msg.ChannelDetail{ChannelInfo: ch, Members: []msg.MemberInfo{member}, Queue: []msg.MemberInfo{member}}),
		wireResult(&msg.JoinAck{ChannelID: "A", SDPAnswer: "v=0", ActiveMembers: []msg.MemberInfo{member},
			Floor: ch.Floor, Messages: []msg.MessageEvent{chat}}),
		wireResult(&msg.ChannelBurstList{ChannelID: "A", Bursts: []msg.ChannelBurst{burst}}),
	}
	for _, e := range []any{
		&msg.ChannelEvent{ChannelID: "A", Event: msg.EventUpdate, UserID: "u", Channel: &ch}, &chat,
		&msg.FloorGranted{ChannelID: "A", Priority: 1, MaxDurationMs: 2}, &msg.FloorDeny{ChannelID: "A", Reason: "r"},
		&msg.FloorTaken{ChannelID: "A", UserID: "u", Priority: 1}, &msg.FloorRevoke{ChannelID: "A", Reason: "r"},
		&msg.FloorQueuePos{ChannelID: "A", Position: 1, Size: 2},
	} {
		_, w, ok := wireEvent(e)
		if !ok {
			t.Fatalf("%T has no wire form", e)
		}
		values = append(values, w)
	}
	actortest.AllSet(t, values...)
}
