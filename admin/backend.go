// Package admin is mini-livechat's HTTP API (docs/operations.md §1): the public channel routes, the
// operator routes under /admin, /healthz and /metrics, and the typed client that lcadmin uses.
// Handlers are thin: request → Backend call with a timeout → JSON.
package admin

import (
	"context"
	"time"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// Backend is what the HTTP API asks; it answers with the actors' views, which the handlers
// map onto the JSON bodies of views.go. The server implements it by asking its actors with a
// timeout (never blocking one); tests may fake it. Errors are *msg.Error where the code says
// what went wrong (2000 / msg.CodeNoSuchUser → 404); a context deadline → 503.
type Backend interface {
	Status(ctx context.Context) (*Status, error)
	Users(ctx context.Context) (*msg.UserList, error)
	User(ctx context.Context, userID string) (*msg.UserDetail, error)
	Channels(ctx context.Context) (*msg.ChannelList, error)
	Channel(ctx context.Context, channelID string) (*msg.ChannelDetail, error)
	AdminChannel(ctx context.Context, channelID string) (*msg.AdminChannelDetail, error)
	Peers(ctx context.Context) ([]msg.PeerInfo, error)
	Peer(ctx context.Context, ufrag string) (*msg.PeerDetail, error)
	RevokeFloor(ctx context.Context, channelID string) (*msg.RevokeResult, error)
	// Bursts is the burst log, newest first (docs/history.md); msg.CodeNoHistory when the
	// server keeps none.
	Bursts(ctx context.Context, q msg.ListBursts) (*msg.BurstList, error)
	// Recording is the file of burst id's Ogg Opus recording; msg.CodeNoSuchRecording when
	// it has none.
	Recording(ctx context.Context, id int64) (path string, err error)
}

// Status is GET /admin/status.
type Status struct {
	UptimeS     float64 `json:"uptime_s"`
	Users       int     `json:"users"`
	Channels    int     `json:"channels"`
	Peers       int     `json:"peers"`
	FloorActive int     `json:"floor_active"`
	Version     string  `json:"version"`
	// Recording is present when some channel is recorded (docs/history.md).
	Recording *RecordingStatus `json:"recording,omitempty"`
	// Cluster is present when the server is a cluster node (docs/cluster.md).
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// ClusterStatus is the cluster part of GET /admin/status: this node's view.
type ClusterStatus struct {
	NodeID    string        `json:"node_id"`
	LeaseTTLS float64       `json:"lease_ttl_s"`
	Nodes     []ClusterNode `json:"nodes"` // alive nodes, by id, this one included
	// Owners maps every channel with a held lease to its owner node.
	Owners map[string]string `json:"owners"`
	// Held lists the channels this node owns.
	Held []string `json:"held"`
	// LeaseChanges counts the owner changes this node has seen since it started.
	LeaseChanges uint64 `json:"lease_changes"`
	// Trunk is this node's cross-node media since it started.
	Trunk TrunkTraffic `json:"trunk"`
}

// TrunkTraffic counts media packets between nodes: Out those this node published for the
// others (once per local talker packet, whatever the number of nodes), In those it received
// from other nodes' talkers.
type TrunkTraffic struct {
	PacketsOut uint64 `json:"packets_out"`
	PacketsIn  uint64 `json:"packets_in"`
}

// ClusterNode is one alive node of the cluster.
type ClusterNode struct {
	ID      string    `json:"id"`
	Address string    `json:"address,omitempty"`
	Started time.Time `json:"started"`
}

// RecordingStatus is the recording part of GET /admin/status.
type RecordingStatus struct {
	Channels []string `json:"channels"` // the recorded channel ids
	Packets  uint64   `json:"packets"`  // Opus packets written
	Errors   uint64   `json:"errors"`   // recordings stopped or not started (full disk, …)
}
