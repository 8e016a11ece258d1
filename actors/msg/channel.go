package msg

import (
	"time"

	"github.com/minilivechat/minilivechat/actors/floor"
)

// Priorities of floor requests (3GPP TS 24.380 terms).
const (
	PriorityNormal    = 100
	PriorityPeril     = 200 // imminent peril
	PriorityEmergency = 255
)

// ChannelSpec is what CHANNEL_CREATE (or the --channels preset file) defines.
type ChannelSpec struct {
	ChannelID   string `json:"channel_id"`
	Freq        string `json:"freq"`
	ChannelName string `json:"channel_name"`
	Capacity    int    `json:"capacity"`
}

// FloorInfo is the floor part of a channel object.
type FloorInfo struct {
	State    string     `json:"state"` // "idle" or "taken"
	Holder   *string    `json:"holder"`
	Priority int        `json:"priority"`
	Since    *time.Time `json:"since"`
}

// Floor states as they appear in FloorInfo.State.
const (
	FloorStateIdle  = floor.IdleName
	FloorStateTaken = floor.TakenName
)

// ChannelInfo is the channel object of docs/protocol.md ("Example frames"): CHANNEL_LIST items,
// CHANNEL_EVENT `channel`, and the REST channel list.
type ChannelInfo struct {
	ChannelID   string    `json:"channel_id"`
	Freq        string    `json:"freq"`
	ChannelName string    `json:"channel_name"`
	Capacity    int       `json:"capacity"`
	MemberCount int       `json:"member_count"`
	CreatedAt   time.Time `json:"created_at"`
	Floor       FloorInfo `json:"floor"`
	QueueSize   int       `json:"queue_size"`        // this server's addition: what `lcadmin channels` shows as Q
	Creator     string    `json:"creator,omitempty"` // user id; empty for preset channels
}

// MemberInfo names a channel member or a queued floor requester.
type MemberInfo struct {
	UserID   string `json:"user_id"`
	Priority int    `json:"priority"`
	// ListenOnly: the member joined with an offer that does not send (recvonly or inactive);
	// its FLOOR_REQUESTs are denied with reason listen_only (docs/floor-control.md).
	ListenOnly bool `json:"listen_only,omitempty"`
}

// PeerInfo describes one media peer, keyed by the server's ICE ufrag (docs/operations.md §1).
type PeerInfo struct {
	Ufrag      string  `json:"ufrag"`
	UserID     string  `json:"user_id"`
	ChannelID  string  `json:"channel_id"`
	Address    string  `json:"address"`
	IdleS      float64 `json:"idle_s"`
	SRTPReady  bool    `json:"srtp_ready"`
	ListenOnly bool    `json:"listen_only"` // the client's offer does not send (recvonly or inactive)
	PacketsIn  uint64  `json:"packets_in"`
	PacketsOut uint64  `json:"packets_out"`
	BytesIn    uint64  `json:"bytes_in"`
	BytesOut   uint64  `json:"bytes_out"`
	// Receiver-report figures the client sent about the server's stream to it.
	FractionLost float64 `json:"fraction_lost"`
	PacketsLost  int64   `json:"packets_lost"`
	JitterMs     float64 `json:"jitter_ms"`
}

// TrackInfo describes one RTP stream of a peer: what it sends us and what we send it.
type TrackInfo struct {
	Kind        string `json:"kind"` // "audio"
	Mid         string `json:"mid"`
	PayloadType uint8  `json:"payload_type"` // Opus payload type of the peer's offer
	Direction   string `json:"direction"`    // the client's direction in its offer: sendrecv, recvonly (listen-only), sendonly, inactive
	SSRCIn      uint32 `json:"ssrc_in"`      // the client's SSRC, 0 until its first packet
	SSRCOut     uint32 `json:"ssrc_out"`     // the server's SSRC announced in the answer
}

// PeerDetail is GET /admin/peers/{ufrag}.
type PeerDetail struct {
	PeerInfo
	Tracks []TrackInfo `json:"tracks"`
}

// ChannelDetail is CHANNEL_INFO's ACK and GET /channels/{id}: the channel object plus its
// members and floor queue (queue in grant order, position 1 first).
type ChannelDetail struct {
	ChannelInfo
	Members []MemberInfo `json:"members"`
	Queue   []MemberInfo `json:"queue"`
}

// Channel events (CHANNEL_EVENT `event`).
const (
	EventCreate = "create"
	EventUpdate = "update"
	EventDelete = "delete"
	EventJoin   = "join"
	EventLeave  = "leave"
)

// ChannelEvent is CHANNEL_EVENT (op 100). create/update/delete go to every identified session,
// join/leave to the channel's members.
type ChannelEvent struct {
	ChannelID string       `json:"channel_id"`
	Event     string       `json:"event"`
	UserID    string       `json:"user_id,omitempty"`
	Channel   *ChannelInfo `json:"channel,omitempty"`
}

// MessageEvent is MESSAGE_EVENT (op 101), sent to every member of the channel.
type MessageEvent struct {
	ChannelID string `json:"channel_id"`
	MessageID string `json:"message_id"`
	UserID    string `json:"user_id"`
	Content   string `json:"content"`
	Timestamp string `json:"timestamp"` // RFC 3339 with milliseconds, UTC
}

// TimestampFormat is the layout of MessageEvent.Timestamp.
const TimestampFormat = "2006-01-02T15:04:05.000Z07:00"
