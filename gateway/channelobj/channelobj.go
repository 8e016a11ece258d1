// Package channelobj is the channel object of docs/protocol.md ("Example frames") in JSON,
// with its floor and member parts: one shape that the WebSocket protocol (gateway) and the
// HTTP API (admin) both serve, so it is defined once. It maps the actors' views (actors/msg),
// which have no JSON form, field by field; slices keep nil as nil, so a list the actors left
// out stays `null` and an empty one `[]`. It imports nothing of the WebSocket stack, so admin's
// client (and lcadmin) can use it.
package channelobj

import (
	"time"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// FloorInfo is the floor part of a channel object.
type FloorInfo struct {
	State    string     `json:"state"` // "idle" or "taken"
	Holder   *string    `json:"holder"`
	Priority int        `json:"priority"`
	Since    *time.Time `json:"since"`
}

// ChannelInfo is the channel object: CHANNEL_LIST items, CHANNEL_EVENT `channel`, the ACKs of
// CHANNEL_CREATE, CHANNEL_UPDATE and CHANNEL_DELETE, and GET /channels items.
type ChannelInfo struct {
	ChannelID   string    `json:"channel_id"`
	Freq        string    `json:"freq"`
	ChannelName string    `json:"channel_name"`
	Capacity    int       `json:"capacity"`
	MemberCount int       `json:"member_count"`
	CreatedAt   time.Time `json:"created_at"`
	Floor       FloorInfo `json:"floor"`
	QueueSize   int       `json:"queue_size"`        // what `lcadmin channels` shows as Q
	Creator     string    `json:"creator,omitempty"` // user id; empty for preset channels
}

// MemberInfo names a channel member or a queued floor requester.
type MemberInfo struct {
	UserID     string `json:"user_id"`
	Priority   int    `json:"priority"`
	ListenOnly bool   `json:"listen_only,omitempty"`
}

// ChannelDetail is the channel object plus its members and floor queue (in grant order,
// position 1 first): the ACK of CHANNEL_INFO and GET /channels/{id}.
type ChannelDetail struct {
	ChannelInfo
	Members []MemberInfo `json:"members"`
	Queue   []MemberInfo `json:"queue"`
}

// ChannelList is the ACK of CHANNEL_LIST and GET /channels, GET /admin/channels.
type ChannelList struct {
	Channels []ChannelInfo `json:"channels"`
}

// Map applies f to each element of in, keeping nil as nil.
func Map[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// Floor maps a floor view.
func Floor(f msg.FloorInfo) FloorInfo {
	return FloorInfo{State: f.State, Holder: f.Holder, Priority: f.Priority, Since: f.Since}
}

// Channel maps a channel view.
func Channel(c msg.ChannelInfo) ChannelInfo {
	return ChannelInfo{ChannelID: c.ChannelID, Freq: c.Freq, ChannelName: c.ChannelName,
		Capacity: c.Capacity, MemberCount: c.MemberCount, CreatedAt: c.CreatedAt,
		Floor: Floor(c.Floor), QueueSize: c.QueueSize, Creator: c.Creator}
}

// Member maps a member view.
func Member(m msg.MemberInfo) MemberInfo {
	return MemberInfo{UserID: m.UserID, Priority: m.Priority, ListenOnly: m.ListenOnly}
}

// Detail maps a channel detail view.
func Detail(d msg.ChannelDetail) ChannelDetail {
	return ChannelDetail{ChannelInfo: Channel(d.ChannelInfo), Members: Map(d.Members, Member), Queue: Map(d.Queue, Member)}
}

// List maps a channel list view.
func List(l msg.ChannelList) ChannelList {
	return ChannelList{Channels: Map(l.Channels, Channel)}
}
