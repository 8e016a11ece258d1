package msg

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/media"
)

// Request/reply convention
//
// A session sends a request with ctx.Request(directory, req) so that the request's sender is
// the session. The directory answers it or forwards it (ctx.Forward keeps the sender) to the
// channel actor named by ChannelID. Whoever handles it answers with ctx.Respond(*Result). The
// admin API asks the same way with RequestFuture, so one code path serves both.
//
// Floor requests (RequestFloor, ReleaseFloor, PingFloor) are answered with floor events sent to
// Call.Session, not with a Result, except that an unknown channel is a Result with code 2000.

// Call identifies who asks and which client request a reply answers.
type Call struct {
	Op      int        // opcode of the request, echoed as req_op
	Nonce   string     // client nonce, echoed when non-empty
	UserID  string     // the identified user; empty for the admin API
	Session *actor.PID // the asking session; nil for the admin API
	Admin   bool       // the admin API asks: permission checks pass
}

// Result answers a request: an ACK with Data (merged into the ACK's `d` next to req_op and
// nonce), or an ERROR when Err is set.
type Result struct {
	Call Call
	Data any
	Err  *Error
}

// Fail builds the error Result for a call.
func (c Call) Fail(err *Error) *Result { return &Result{Call: c, Err: err} }

// OK builds the success Result for a call.
func (c Call) OK(data any) *Result { return &Result{Call: c, Data: data} }

// ---- directory requests ----

// RegisterSession tells the directory that a session identified as UserID. A previous
// session of the same user gets Replaced.
type RegisterSession struct {
	UserID   string
	Priority int
	Session  *actor.PID
	// LastSeen reports the time of the session's last application frame (the gateway's
	// connection records it; the admin API reads it for since_heartbeat_s).
	LastSeen func() time.Time
}

// UnregisterSession removes a session that has ended. It is ignored when Session is not the
// user's current session (it was already replaced).
type UnregisterSession struct {
	UserID  string
	Session *actor.PID
}

// Replaced is sent to a session whose user identified again elsewhere; it closes its
// WebSocket with 4002 and leaves its channels.
type Replaced struct{}

// CreateChannel is CHANNEL_CREATE; Result.Data is *ChannelInfo.
type CreateChannel struct {
	Call Call
	Spec ChannelSpec
}

// ListChannels is CHANNEL_LIST and GET /channels; Result.Data is *ChannelList.
type ListChannels struct{ Call Call }

// ChannelList is the ACK of CHANNEL_LIST.
type ChannelList struct {
	Channels []ChannelInfo
}

// ChannelChanged is sent by a channel actor to the directory after any change of its channel
// object (members, floor, name, capacity), so that CHANNEL_LIST needs no fan-out. Event is
// EventUpdate when the directory must also broadcast CHANNEL_EVENT update; empty otherwise.
type ChannelChanged struct {
	Info  ChannelInfo
	Event string
}

// ChannelDeleted is sent by a channel actor to the directory once it has accepted a delete;
// the directory drops it from its table, broadcasts CHANNEL_EVENT delete and stops it.
type ChannelDeleted struct{ ChannelID string }

// ---- channel requests (sent to the directory, forwarded to the channel) ----

// ChannelRequest is implemented by every request that names a channel; the directory uses it
// to forward the request or to answer 2000 for an unknown channel.
type ChannelRequest interface {
	Target() (channelID string, call Call)
}

// JoinChannel is CHANNEL_JOIN; Result.Data is *JoinAck. Priority is the session's priority;
// 0 means PriorityNormal unless PrioritySet says it is a real priority 0.
type JoinChannel struct {
	Call      Call
	ChannelID string
	Priority  int
	// PrioritySet marks Priority as given, so that 0 is the lowest priority rather than
	// "absent" (a token with max_priority 0 must not be promoted to 100).
	PrioritySet bool
	SSRC        uint32
	Ufrag       string
	// Offer is the member's SDP offer, parsed and validated by the gateway (nil: a
	// signaling-only join). A bad offer is refused with 2006 before it reaches a channel.
	Offer *media.Offer
}

// JoinAck is the ACK of CHANNEL_JOIN.
type JoinAck struct {
	ChannelID     string
	SDPAnswer     string
	ActiveMembers []MemberInfo
	Floor         FloorInfo
	// Messages is the channel's recent chat, oldest first, also from before a restart
	// (docs/protocol.md, "Chat history"); absent when there is none.
	Messages []MessageEvent
}

// LeaveChannel is CHANNEL_LEAVE, and what a session sends for each joined channel when its
// WebSocket closes (Disconnect set). Result.Data is *LeaveAck.
type LeaveChannel struct {
	Call       Call
	ChannelID  string
	Disconnect bool
}

// LeaveAck is the ACK of CHANNEL_LEAVE.
type LeaveAck struct {
	ChannelID string
}

// UpdateChannel is CHANNEL_UPDATE; nil fields are unchanged. Result.Data is *ChannelInfo.
type UpdateChannel struct {
	Call        Call
	ChannelID   string
	ChannelName *string
	Capacity    *int
}

// DeleteChannel is CHANNEL_DELETE; Result.Data is *ChannelInfo (the channel as it was).
type DeleteChannel struct {
	Call      Call
	ChannelID string
}

// GetChannel is CHANNEL_INFO and GET /channels/{id}; Result.Data is *ChannelDetail, or
// *AdminChannelDetail when Call.Admin is set.
type GetChannel struct {
	Call      Call
	ChannelID string
}

// AdminChannelDetail is the admin view of a channel: the detail plus its media peers.
type AdminChannelDetail struct {
	ChannelDetail
	Peers []PeerInfo
}

// PostMessage is MESSAGE_CREATE; Result.Data is *MessageAck.
type PostMessage struct {
	Call      Call
	ChannelID string
	Content   string
}

// MessageAck is the ACK of MESSAGE_CREATE.
type MessageAck struct {
	MessageID string
}

// RequestFloor is FLOOR_REQUEST. Priority is already capped by the token's max_priority;
// 0 means the member's join priority unless PrioritySet says it is a real priority 0.
type RequestFloor struct {
	Call      Call
	ChannelID string
	Priority  int
	// PrioritySet marks Priority as given (see JoinChannel.PrioritySet).
	PrioritySet bool
}

// ReleaseFloor is FLOOR_RELEASE.
type ReleaseFloor struct {
	Call      Call
	ChannelID string
}

// PingFloor is FLOOR_PING.
type PingFloor struct {
	Call      Call
	ChannelID string
}

// RevokeFloor is POST /admin/floor-revoke/{id}; Result.Data is *RevokeResult.
type RevokeFloor struct {
	Call      Call
	ChannelID string
	Reason    string // FLOOR_REVOKE reason; empty means RevokeAdmin
}

// RevokeResult answers RevokeFloor.
type RevokeResult struct {
	ChannelID   string
	RevokedFrom *string
}

func (r *JoinChannel) Target() (string, Call)   { return r.ChannelID, r.Call }
func (r *LeaveChannel) Target() (string, Call)  { return r.ChannelID, r.Call }
func (r *UpdateChannel) Target() (string, Call) { return r.ChannelID, r.Call }
func (r *DeleteChannel) Target() (string, Call) { return r.ChannelID, r.Call }
func (r *GetChannel) Target() (string, Call)    { return r.ChannelID, r.Call }
func (r *PostMessage) Target() (string, Call)   { return r.ChannelID, r.Call }
func (r *RequestFloor) Target() (string, Call)  { return r.ChannelID, r.Call }
func (r *ReleaseFloor) Target() (string, Call)  { return r.ChannelID, r.Call }
func (r *PingFloor) Target() (string, Call)     { return r.ChannelID, r.Call }
func (r *RevokeFloor) Target() (string, Call)   { return r.ChannelID, r.Call }

// Responder is the part of actor.Context that answers the request being handled.
type Responder interface {
	Sender() *actor.PID
	Respond(response any)
}

// Reply answers the request being handled with r. A message sent with a plain Send has no
// sender and gets no answer (protoactor would route the answer to dead letters).
func Reply(ctx Responder, r *Result) {
	if ctx.Sender() != nil {
		ctx.Respond(r)
	}
}

// SamePID reports whether two PIDs name the same actor (two nils count as the same).
func SamePID(x, y *actor.PID) bool {
	if x == nil || y == nil {
		return x == y
	}
	return x.Equal(y)
}
