package msg

import "time"

// ListUsers asks the directory for every identified user; Result.Data is *UserList.
type ListUsers struct{ Call Call }

// GetUser asks for one user; the directory forwards it to the user's session, which answers
// with *UserDetail (unknown user: 404-style Result with CodeNoSuchUser).
type GetUser struct {
	Call   Call
	UserID string
}

// GetStatus asks the directory for its counts; Result.Data is *DirectoryStatus.
type GetStatus struct{ Call Call }

// UserInfo is one row of GET /admin/users.
type UserInfo struct {
	UserID          string    `json:"user_id"`
	Priority        int       `json:"priority"`
	ConnectedAt     time.Time `json:"connected_at"`
	SinceHeartbeatS float64   `json:"since_heartbeat_s"`
}

// UserList wraps the user rows.
type UserList struct {
	Users []UserInfo `json:"users"`
}

// UserDetail is GET /admin/users/{id}: the row plus the channels the user has joined.
type UserDetail struct {
	UserInfo
	Channels []string `json:"channels"`
}

// DirectoryStatus is the directory's part of GET /admin/status.
type DirectoryStatus struct {
	Users       int `json:"users"`
	Channels    int `json:"channels"`
	FloorActive int `json:"floor_active"`
}

// CodeNoSuchUser is used only between actors and the admin API (HTTP 404); clients never see it.
const CodeNoSuchUser Code = 2100
