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
	ChannelID   string
	Freq        string
	ChannelName string
	Capacity    int
}

// FloorInfo is the floor part of a channel object.
type FloorInfo struct {
	State    string // "idle" or "taken"
	Holder   *string
	Priority int
	Since    *time.Time
}

// Floor states as they appear in FloorInfo.State.
const (
	FloorStateIdle  = floor.IdleName
	FloorStateTaken = floor.TakenName
)

// ChannelInfo is the channel object of docs/protocol.md ("Example frames"): CHANNEL_LIST items,
// CHANNEL_EVENT `channel`, and the REST channel list.
type ChannelInfo struct {
	ChannelID   string
	Freq        string
	ChannelName string
	Capacity    int
	MemberCount int
	CreatedAt   time.Time
	Floor       FloorInfo
	QueueSize   int    // this server's addition: what `lcadmin channels` shows as Q
	Creator     string // user id; empty for preset channels
}

// MemberInfo names a channel member or a queued floor requester.
type MemberInfo struct {
	UserID   string
	Priority int
	// ListenOnly: the member joined with an offer that does not send (recvonly or inactive);
	// its FLOOR_REQUESTs are denied with reason listen_only (docs/floor-control.md).
	ListenOnly bool
}

// PeerInfo describes one media peer, keyed by the server's ICE ufrag (docs/operations.md §1).
type PeerInfo struct {
	Ufrag      string
	UserID     string
	ChannelID  string
	Address    string
	IdleS      float64
	SRTPReady  bool
	ListenOnly bool // the client's offer does not send (recvonly or inactive)
	PacketsIn  uint64
	PacketsOut uint64
	BytesIn    uint64
	BytesOut   uint64
	// Receiver-report figures the client sent about the server's stream to it.
	FractionLost float64
	PacketsLost  int64
	JitterMs     float64
}

// TrackInfo describes one RTP stream of a peer: what it sends us and what we send it.
type TrackInfo struct {
	Kind        string // "audio"
	Mid         string
	PayloadType uint8  // Opus payload type of the peer's offer
	Direction   string // the client's direction in its offer: sendrecv, recvonly (listen-only), sendonly, inactive
	SSRCIn      uint32 // the client's SSRC, 0 until its first packet
	SSRCOut     uint32 // the server's SSRC announced in the answer
}

// PeerDetail is GET /admin/peers/{ufrag}.
type PeerDetail struct {
	PeerInfo
	Tracks []TrackInfo
}

// ChannelDetail is CHANNEL_INFO's ACK and GET /channels/{id}: the channel object plus its
// members and floor queue (queue in grant order, position 1 first).
type ChannelDetail struct {
	ChannelInfo
	Members []MemberInfo
	Queue   []MemberInfo
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
	ChannelID string
	Event     string
	UserID    string
	Channel   *ChannelInfo
}

// MessageEvent is MESSAGE_EVENT (op 101), sent to every member of the channel.
type MessageEvent struct {
	ChannelID string
	MessageID string
	UserID    string
	Content   string
	Timestamp string // RFC 3339 with milliseconds, UTC
}

// TimestampFormat is the layout of MessageEvent.Timestamp.
const TimestampFormat = "2006-01-02T15:04:05.000Z07:00"
