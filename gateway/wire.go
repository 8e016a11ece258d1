package gateway

import (
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/gateway/channelobj"
)

// Mapping from the actors' messages to the wire structs of events.go. Each function copies
// field by field; slices keep nil as nil so that an absent list stays `null` and an empty
// one `[]`, as the protocol's examples show.

// wireEvent maps an actor event (pointer or value) to its opcode and its wire payload.
func wireEvent(v any) (Op, any, bool) {
	switch m := v.(type) {
	case *msg.ChannelEvent:
		return OpChannelEvent, channelEvent(*m), true
	case msg.ChannelEvent:
		return OpChannelEvent, channelEvent(m), true
	case *msg.MessageEvent:
		return OpMessageEvent, messageEvent(*m), true
	case msg.MessageEvent:
		return OpMessageEvent, messageEvent(m), true
	case *msg.FloorGranted:
		return OpFloorGranted, floorGranted(*m), true
	case msg.FloorGranted:
		return OpFloorGranted, floorGranted(m), true
	case *msg.FloorDeny:
		return OpFloorDeny, FloorDeny{ChannelID: m.ChannelID, Reason: m.Reason}, true
	case msg.FloorDeny:
		return OpFloorDeny, FloorDeny{ChannelID: m.ChannelID, Reason: m.Reason}, true
	case *msg.FloorTaken:
		return OpFloorTaken, floorTaken(*m), true
	case msg.FloorTaken:
		return OpFloorTaken, floorTaken(m), true
	case *msg.FloorIdle:
		return OpFloorIdle, FloorIdle{ChannelID: m.ChannelID}, true
	case msg.FloorIdle:
		return OpFloorIdle, FloorIdle{ChannelID: m.ChannelID}, true
	case *msg.FloorRevoke:
		return OpFloorRevoke, FloorRevoke{ChannelID: m.ChannelID, Reason: m.Reason}, true
	case msg.FloorRevoke:
		return OpFloorRevoke, FloorRevoke{ChannelID: m.ChannelID, Reason: m.Reason}, true
	case *msg.FloorQueuePos:
		return OpFloorQueuePos, floorQueuePos(*m), true
	case msg.FloorQueuePos:
		return OpFloorQueuePos, floorQueuePos(m), true
	case *msg.FloorPong:
		return OpFloorPong, FloorPong{ChannelID: m.ChannelID}, true
	case msg.FloorPong:
		return OpFloorPong, FloorPong{ChannelID: m.ChannelID}, true
	}
	return 0, nil, false
}

// wireResult maps the data of an ACK to its wire payload. A nil pointer is nil (an empty
// ACK). Data that is no actor message is returned as it is.
func wireResult(data any) any {
	switch m := data.(type) {
	case *msg.JoinAck:
		if m == nil {
			return nil
		}
		return JoinAck{ChannelID: m.ChannelID, SDPAnswer: m.SDPAnswer,
			ActiveMembers: channelobj.Map(m.ActiveMembers, channelobj.Member), Floor: channelobj.Floor(m.Floor),
			Messages: channelobj.Map(m.Messages, messageEvent)}
	case *msg.LeaveAck:
		if m == nil {
			return nil
		}
		return LeaveAck{ChannelID: m.ChannelID}
	case *msg.ChannelInfo:
		if m == nil {
			return nil
		}
		return channelobj.Channel(*m)
	case *msg.ChannelList:
		if m == nil {
			return nil
		}
		return channelobj.List(*m)
	case *msg.ChannelDetail:
		if m == nil {
			return nil
		}
		return channelobj.Detail(*m)
	case *msg.MessageAck:
		if m == nil {
			return nil
		}
		return MessageAck{MessageID: m.MessageID}
	case *msg.ChannelBurstList:
		if m == nil {
			return nil
		}
		return ChannelBurstList{ChannelID: m.ChannelID, Bursts: channelobj.Map(m.Bursts, channelBurst)}
	}
	return data
}

func channelEvent(e msg.ChannelEvent) ChannelEvent {
	out := ChannelEvent{ChannelID: e.ChannelID, Event: e.Event, UserID: e.UserID}
	if e.Channel != nil {
		c := channelobj.Channel(*e.Channel)
		out.Channel = &c
	}
	return out
}

func messageEvent(m msg.MessageEvent) MessageEvent {
	return MessageEvent{ChannelID: m.ChannelID, MessageID: m.MessageID, UserID: m.UserID,
		Content: m.Content, Timestamp: m.Timestamp}
}

func floorGranted(g msg.FloorGranted) FloorGranted {
	return FloorGranted{ChannelID: g.ChannelID, Priority: g.Priority, MaxDurationMs: g.MaxDurationMs}
}

func floorTaken(t msg.FloorTaken) FloorTaken {
	return FloorTaken{ChannelID: t.ChannelID, UserID: t.UserID, Priority: t.Priority}
}

func floorQueuePos(q msg.FloorQueuePos) FloorQueuePos {
	return FloorQueuePos{ChannelID: q.ChannelID, Position: q.Position, Size: q.Size}
}

func channelBurst(b msg.ChannelBurst) ChannelBurst {
	return ChannelBurst{ID: b.ID, UserID: b.UserID, Priority: b.Priority, Emergency: b.Emergency,
		GrantedAt: b.GrantedAt, EndedAt: b.EndedAt, EndReason: b.EndReason, DurationS: b.DurationS,
		Packets: b.Packets, HasRecording: b.HasRecording, RecordingURL: b.RecordingURL,
		RecordingExpires: b.RecordingExpires}
}
