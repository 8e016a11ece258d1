package msg

import "github.com/minilivechat/minilivechat/actors/floor"

// Floor events sent by a channel actor to member sessions (docs/floor-control.md). Each is the `d`
// of the frame with the opcode in its comment.

// FloorGranted (op 110) goes to the new holder only.
type FloorGranted struct {
	ChannelID     string
	Priority      int
	MaxDurationMs int64
}

// FloorDeny (op 111) answers a FLOOR_REQUEST or FLOOR_RELEASE that cannot be honoured.
type FloorDeny struct {
	ChannelID string
	Reason    string
}

// FloorDeny reasons; the floor state machine defines those it decides.
const (
	DenyQueueFull      = floor.DenyQueueFull
	DenyNotMember      = floor.DenyNotMember
	DenyAlreadyGranted = floor.DenyAlreadyGranted
	DenyNotHolder      = floor.DenyNotHolder
	// DenyListenOnly: the member joined with an offer that does not send audio (recvonly or
	// inactive), so it cannot talk in this channel until it leaves and joins with one that does.
	DenyListenOnly = "listen_only"
)

// FloorTaken (op 112) goes to every member but the new holder.
type FloorTaken struct {
	ChannelID string
	UserID    string
	Priority  int
}

// FloorIdle (op 113) goes to every member, the releasing holder included.
type FloorIdle struct {
	ChannelID string
}

// FloorRevoke (op 114) goes only to the holder the floor is taken from.
type FloorRevoke struct {
	ChannelID string
	Reason    string
}

// FloorRevoke reasons. RevokeDisconnect is never sent (the holder is gone); it labels metrics
// and logs.
const (
	RevokePreempted   = floor.RevokePreempted
	RevokePingTimeout = floor.RevokePingTimeout
	RevokeMaxDuration = floor.RevokeMaxDuration
	RevokeDisconnect  = floor.RevokeDisconnect
	RevokeAdmin       = floor.RevokeAdmin
	RevokeShutdown    = "shutdown" // the server is stopping (SIGTERM); sent before the 1001 close
)

// FloorQueuePos (op 115) tells a queued requester its place; position 1 is next.
type FloorQueuePos struct {
	ChannelID string
	Position  int
	Size      int
}

// FloorPong (op 116) answers FLOOR_PING.
type FloorPong struct {
	ChannelID string
}
