package admin

import (
	"time"

	"github.com/minilivechat/minilivechat/gateway/channelobj"
)

// The JSON bodies of the HTTP API's answers (docs/operations.md §1). The Backend answers
// with the actors' views (actors/msg), which have no JSON form; the handlers map them onto
// these structs (mapping.go), and Client decodes them, so the wire format lives here.

// The channel object and its parts are one shape on both APIs (gateway/channelobj).
type (
	FloorInfo     = channelobj.FloorInfo
	ChannelInfo   = channelobj.ChannelInfo
	MemberInfo    = channelobj.MemberInfo
	ChannelDetail = channelobj.ChannelDetail
	ChannelList   = channelobj.ChannelList
)

// AdminChannelDetail is GET /admin/channels/{id}: the detail plus the channel's media peers.
type AdminChannelDetail struct {
	ChannelDetail
	Peers []PeerInfo `json:"peers"`
}

// PeerInfo describes one media peer, keyed by the server's ICE ufrag.
type PeerInfo struct {
	Ufrag        string  `json:"ufrag"`
	UserID       string  `json:"user_id"`
	ChannelID    string  `json:"channel_id"`
	Address      string  `json:"address"`
	IdleS        float64 `json:"idle_s"`
	SRTPReady    bool    `json:"srtp_ready"`
	ListenOnly   bool    `json:"listen_only"`
	PacketsIn    uint64  `json:"packets_in"`
	PacketsOut   uint64  `json:"packets_out"`
	BytesIn      uint64  `json:"bytes_in"`
	BytesOut     uint64  `json:"bytes_out"`
	FractionLost float64 `json:"fraction_lost"`
	PacketsLost  int64   `json:"packets_lost"`
	JitterMs     float64 `json:"jitter_ms"`
}

// PeerList is GET /admin/peers.
type PeerList struct {
	Peers []PeerInfo `json:"peers"`
}

// TrackInfo describes one RTP stream of a peer: what it sends us and what we send it.
type TrackInfo struct {
	Kind        string `json:"kind"`
	Mid         string `json:"mid"`
	PayloadType uint8  `json:"payload_type"`
	Direction   string `json:"direction"`
	SSRCIn      uint32 `json:"ssrc_in"`
	SSRCOut     uint32 `json:"ssrc_out"`
}

// PeerDetail is GET /admin/peers/{ufrag}.
type PeerDetail struct {
	PeerInfo
	Tracks []TrackInfo `json:"tracks"`
}

// UserInfo is one row of GET /admin/users.
type UserInfo struct {
	UserID          string    `json:"user_id"`
	Priority        int       `json:"priority"`
	ConnectedAt     time.Time `json:"connected_at"`
	SinceHeartbeatS float64   `json:"since_heartbeat_s"`
}

// UserList is GET /admin/users.
type UserList struct {
	Users []UserInfo `json:"users"`
}

// UserDetail is GET /admin/users/{id}: the row plus the channels the user has joined.
type UserDetail struct {
	UserInfo
	Channels []string `json:"channels"`
}

// Burst is one floor grant: a row of GET /admin/bursts and `lcadmin history`.
type Burst struct {
	ID        int64      `json:"id"`
	ChannelID string     `json:"channel_id"`
	UserID    string     `json:"user_id"`
	Priority  int        `json:"priority"`
	Emergency bool       `json:"emergency"`
	GrantedAt time.Time  `json:"granted_at"`
	EndedAt   *time.Time `json:"ended_at"`   // nil while open, and for interrupted bursts
	EndReason string     `json:"end_reason"` // empty while open
	Packets   uint64     `json:"packets"`
	DurationS *float64   `json:"duration_s"` // nil while open or interrupted
	// Recording is the path of the burst's Ogg Opus file under /admin/recordings/, empty
	// when the burst was not recorded.
	Recording string `json:"recording,omitempty"`
}

// BurstList is GET /admin/bursts, newest first.
type BurstList struct {
	Bursts []Burst `json:"bursts"`
}

// RevokeResult is POST /admin/floor-revoke/{id}.
type RevokeResult struct {
	ChannelID   string  `json:"channel_id"`
	RevokedFrom *string `json:"revoked_from"`
}
