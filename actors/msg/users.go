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
	UserID          string
	Priority        int
	ConnectedAt     time.Time
	SinceHeartbeatS float64
}

// UserList wraps the user rows.
type UserList struct {
	Users []UserInfo
}

// UserDetail is GET /admin/users/{id}: the row plus the channels the user has joined.
type UserDetail struct {
	UserInfo
	Channels []string
}

// DirectoryStatus is the directory's part of GET /admin/status.
type DirectoryStatus struct {
	Users       int
	Channels    int
	FloorActive int
}

// CodeNoSuchUser is used only between actors and the admin API (HTTP 404); clients never see it.
const CodeNoSuchUser Code = 2100
