package gateway

import (
	"time"

	"github.com/minilivechat/minilivechat/gateway/channelobj"
)

// Server payloads that carry what the actors decided: the `d` of each event frame and the
// data of each ACK, with the field names of docs/protocol.md. The actors' messages
// (actors/msg) have no JSON form; wire.go maps them onto these structs, so the wire format
// lives in this package only.

// The channel object and its parts are one shape on both APIs (gateway/channelobj).
type (
	FloorInfo     = channelobj.FloorInfo
	ChannelInfo   = channelobj.ChannelInfo
	MemberInfo    = channelobj.MemberInfo
	ChannelDetail = channelobj.ChannelDetail
	ChannelList   = channelobj.ChannelList
)

// ChannelEvent is CHANNEL_EVENT's `d` (op 100).
type ChannelEvent struct {
	ChannelID string       `json:"channel_id"`
	Event     string       `json:"event"`
	UserID    string       `json:"user_id,omitempty"`
	Channel   *ChannelInfo `json:"channel,omitempty"`
}

// MessageEvent is MESSAGE_EVENT's `d` (op 101), and one message of a JOIN ACK's history.
type MessageEvent struct {
	ChannelID string `json:"channel_id"`
	MessageID string `json:"message_id"`
	UserID    string `json:"user_id"`
	Content   string `json:"content"`
	Timestamp string `json:"timestamp"` // RFC 3339 with milliseconds, UTC
}

// FloorGranted is FLOOR_GRANTED's `d` (op 110).
type FloorGranted struct {
	ChannelID     string `json:"channel_id"`
	Priority      int    `json:"priority"`
	MaxDurationMs int64  `json:"max_duration_ms"`
}

// FloorDeny is FLOOR_DENY's `d` (op 111).
type FloorDeny struct {
	ChannelID string `json:"channel_id"`
	Reason    string `json:"reason"`
}

// FloorTaken is FLOOR_TAKEN's `d` (op 112).
type FloorTaken struct {
	ChannelID string `json:"channel_id"`
	UserID    string `json:"user_id"`
	Priority  int    `json:"priority"`
}

// FloorIdle is FLOOR_IDLE's `d` (op 113).
type FloorIdle struct {
	ChannelID string `json:"channel_id"`
}

// FloorRevoke is FLOOR_REVOKE's `d` (op 114).
type FloorRevoke struct {
	ChannelID string `json:"channel_id"`
	Reason    string `json:"reason"`
}

// FloorQueuePos is FLOOR_QUEUE_POS_INFO's `d` (op 115).
type FloorQueuePos struct {
	ChannelID string `json:"channel_id"`
	Position  int    `json:"position"`
	Size      int    `json:"size"`
}

// FloorPong is FLOOR_PONG's `d` (op 116).
type FloorPong struct {
	ChannelID string `json:"channel_id"`
}

// JoinAck is the ACK of CHANNEL_JOIN.
type JoinAck struct {
	ChannelID     string       `json:"channel_id"`
	SDPAnswer     string       `json:"sdp_answer,omitempty"`
	ActiveMembers []MemberInfo `json:"active_members"`
	Floor         FloorInfo    `json:"floor"`
	// Messages is the channel's recent chat, oldest first; absent when there is none.
	Messages []MessageEvent `json:"messages,omitempty"`
}

// LeaveAck is the ACK of CHANNEL_LEAVE.
type LeaveAck struct {
	ChannelID string `json:"channel_id"`
}

// MessageAck is the ACK of MESSAGE_CREATE.
type MessageAck struct {
	MessageID string `json:"message_id"`
}

// ChannelBurstList is the ACK of HISTORY_LIST (docs/history.md).
type ChannelBurstList struct {
	ChannelID string         `json:"channel_id"`
	Bursts    []ChannelBurst `json:"bursts"`
}

// ChannelBurst is one burst as a member sees it.
type ChannelBurst struct {
	ID               int64      `json:"id"`
	UserID           string     `json:"user_id"`
	Priority         int        `json:"priority"`
	Emergency        bool       `json:"emergency"`
	GrantedAt        time.Time  `json:"granted_at"`
	EndedAt          *time.Time `json:"ended_at"`
	EndReason        string     `json:"end_reason"`
	DurationS        *float64   `json:"duration_s"`
	Packets          uint64     `json:"packets"`
	HasRecording     bool       `json:"has_recording"`
	RecordingURL     string     `json:"recording_url,omitempty"`
	RecordingExpires *time.Time `json:"recording_expires_at,omitempty"`
}
