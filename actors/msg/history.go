package msg

import "time"

// Messages to the history actor (actors/history), which owns the database (docs/history.md).
// Channels and the directory only ever Send them: nothing waits for a write.

// BurstBegan is sent by a channel actor when it grants the floor.
type BurstBegan struct {
	ChannelID string
	UserID    string
	Priority  int
	At        time.Time
	Record    bool // the channel records: RecordedPackets of this burst follow
}

// RecordedPacket is one relayed RTP packet of a recording channel's current burst, sent to
// the history actor with a reference of its own that the receiver releases.
type RecordedPacket struct {
	ChannelID string
	Packet    interface {
		Bytes() []byte
		Release()
	}
}

// GetRecording asks for the file of burst ID's recording; Result.Data is *Recording.
type GetRecording struct {
	Call Call
	ID   int64
}

// Recording is where a burst's Ogg Opus file is.
type Recording struct {
	Path string
}

// BurstEnded is sent by a channel actor when a holder's tenure ends. Reason is a FloorRevoke
// reason, "release", or BurstChannelDeleted.
type BurstEnded struct {
	ChannelID string
	Reason    string
	At        time.Time
	Packets   uint64 // media packets relayed from the holder during the burst
}

// End reasons of bursts beyond the floor's own (release and the Revoke* reasons).
const (
	BurstChannelDeleted = "channel_deleted" // the channel was deleted (or reaped) mid-burst
	BurstInterrupted    = "interrupted"     // the server died mid-burst (found at the next start)
)

// ChatPosted is sent by a channel actor for every chat message it delivered.
type ChatPosted struct{ Message MessageEvent }

// ChannelSaved is sent by the directory when a user-created channel is created or changed.
type ChannelSaved struct{ Channel StoredChannel }

// ChannelForgotten is sent by the directory when a channel was deleted (or reaped): its
// stored row and its chat go.
type ChannelForgotten struct{ ChannelID string }

// StoredChannel is a user-created channel as the database keeps it.
type StoredChannel struct {
	Spec      ChannelSpec
	Creator   string
	CreatedAt time.Time
}

// Burst is one floor grant: a row of GET /admin/bursts and `lcadmin history`.
type Burst struct {
	ID        int64
	ChannelID string
	UserID    string
	Priority  int
	Emergency bool
	GrantedAt time.Time
	EndedAt   *time.Time // nil while open, and for interrupted bursts
	EndReason string     // empty while open
	Packets   uint64
	DurationS *float64 // nil while open or interrupted
	// Recording is the path of the burst's Ogg Opus file under /admin/recordings/, empty
	// when the burst was not recorded (or its recording failed at the start).
	Recording string
}

// ListBursts is GET /admin/bursts; Result.Data is *BurstList, newest first. Zero ChannelID
// means every channel, zero Since no lower bound, Limit ≤ 0 the default.
type ListBursts struct {
	Call      Call
	ChannelID string
	Since     time.Time
	Limit     int
}

// BurstList is the answer of ListBursts.
type BurstList struct {
	Bursts []Burst
}

// ListChannelBursts is HISTORY_LIST: a member asks for its channel's recent bursts over its own
// session. The directory forwards it to the channel actor, which owns the members: a member's
// request goes on to the history actor (with the session still the sender), anyone else's is
// answered 3002. Result.Data is *ChannelBurstList, newest first (docs/history.md).
type ListChannelBursts struct {
	Call      Call
	ChannelID string
	Limit     int // 1..MaxChannelBursts; ≤ 0 takes DefaultChannelBursts
}

func (r *ListChannelBursts) Target() (string, Call) { return r.ChannelID, r.Call }

// Bounds of HISTORY_LIST's limit.
const (
	DefaultChannelBursts = 20
	MaxChannelBursts     = 100
)

// ChannelBurstList is the ACK of HISTORY_LIST.
type ChannelBurstList struct {
	ChannelID string
	Bursts    []ChannelBurst
}

// ChannelBurst is one burst as a member sees it: the admin row without the server's file
// names, and with a short-lived URL signed for the asking user when the burst was recorded.
type ChannelBurst struct {
	ID        int64
	UserID    string
	Priority  int
	Emergency bool
	GrantedAt time.Time
	EndedAt   *time.Time
	EndReason string
	DurationS *float64
	Packets   uint64
	// HasRecording is set when the burst's Ogg Opus file exists; RecordingURL (a path with
	// its signature in the query) then plays it until RecordingExpires.
	HasRecording     bool
	RecordingURL     string
	RecordingExpires *time.Time
}
