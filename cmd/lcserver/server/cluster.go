package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/minilivechat/minilivechat/actors/channel"
	"github.com/minilivechat/minilivechat/actors/cluster"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/media"
)

// ClusterConfig is the cluster part of Config (docs/cluster.md). With neither NATSURL nor
// Listen the server is a node on its own and starts nothing of NATS.
type ClusterConfig struct {
	// NATSURL joins an existing NATS network (comma-separated URLs of its servers).
	NATSURL string
	// Listen runs an embedded NATS server with JetStream on host:port and joins it: a
	// cluster in one binary that other nodes join with NATSURL.
	Listen string
	// LeafListen (with Listen): the embedded server also accepts leaf links from other
	// sites' servers on host:port.
	LeafListen string
	// Hub (with Listen): the embedded server links to the hub's leaf port (a
	// nats-leaf://host:port URL) as a leaf node and runs no JetStream of its own; the
	// buckets are the hub's, in JetStream domain Domain.
	Hub string
	// Domain is the JetStream domain of the hub: set on the hub's embedded server and used
	// by every node that reaches JetStream through a leaf.
	Domain string
	// NodeID names this node, [A-Za-z0-9_-]{1,64}, unique in the cluster; default the host
	// name when it is one.
	NodeID string
	// LeaseTTL is how long a channel's owner lease lasts without renewal (default
	// cluster.DefaultTTL): the failover bound is about LeaseTTL + LeaseTTL/3.
	LeaseTTL time.Duration
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Enabled reports whether the server joins a cluster.
func (c ClusterConfig) Enabled() bool { return c.NATSURL != "" || c.Listen != "" }

// nodeID is the configured id or the host name.
func (c ClusterConfig) nodeID() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	h, _ := os.Hostname()
	return h
}

func (c ClusterConfig) validate(bad func(string, ...any)) {
	if !c.Enabled() {
		if c.LeafListen != "" || c.Hub != "" || c.NodeID != "" || c.Domain != "" {
			bad("--cluster-leaf-listen, --cluster-hub, --cluster-domain and --node-id need --nats or --cluster-listen")
		}
		return
	}
	if c.NATSURL != "" && c.Listen != "" {
		bad("--nats joins an existing NATS network and --cluster-listen runs one: give one of them")
	}
	if (c.LeafListen != "" || c.Hub != "") && c.Listen == "" {
		bad("--cluster-leaf-listen and --cluster-hub configure the embedded NATS server: they need --cluster-listen")
	}
	if c.Hub != "" && c.Domain == "" {
		bad("--cluster-hub needs --cluster-domain, the hub's JetStream domain")
	}
	if id := c.nodeID(); !nodeIDPattern.MatchString(id) {
		bad("node id %q must match [A-Za-z0-9_-]{1,64}: set --node-id", id)
	}
	if c.LeaseTTL != 0 && c.LeaseTTL < 300*time.Millisecond {
		bad("cluster lease TTL %v below 300ms", c.LeaseTTL)
	}
}

// clusterState is what startCluster started, stopped by stopCluster in reverse order.
type clusterState struct {
	embedded *cluster.Server
	storeDir string // removed at stop when the server made it
	conn     *nats.Conn
	node     *cluster.Node
}

// startCluster runs the embedded NATS server (with --cluster-listen), connects and joins.
func (s *Server) startCluster() error {
	cc := s.cfg.Cluster
	if !cc.Enabled() {
		return nil
	}
	st := &clusterState{}
	url := cc.NATSURL
	domain := ""
	if cc.Listen != "" {
		sc := cluster.ServerConfig{Name: cc.nodeID(), Listen: cc.Listen, LeafListen: cc.LeafListen}
		if cc.Hub != "" {
			sc.LeafRemotes, domain = []string{cc.Hub}, cc.Domain
		} else {
			sc.JetStream, sc.Domain = true, cc.Domain
			if s.cfg.DataDir != "" {
				sc.Dir = filepath.Join(s.cfg.DataDir, "nats")
			} else {
				dir, err := os.MkdirTemp("", "lcserver-nats-")
				if err != nil {
					return fmt.Errorf("cluster: nats store directory: %w", err)
				}
				sc.Dir, st.storeDir = dir, dir
			}
		}
		srv, err := cluster.StartServer(sc)
		if err != nil {
			st.stop()
			return fmt.Errorf("cluster: %w", err)
		}
		st.embedded, url = srv, srv.ClientURL()
		s.log.Info("embedded nats server", "url", url, "leaf_url", srv.LeafURL(), "hub", cc.Hub)
	}
	conn, err := nats.Connect(url, nats.Name("lcserver "+cc.nodeID()), nats.MaxReconnects(-1))
	if err != nil {
		st.stop()
		return fmt.Errorf("cluster: connect to nats %s: %w", url, err)
	}
	st.conn = conn
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node, err := cluster.Start(ctx, cluster.Config{
		ID: cc.nodeID(), Conn: conn, TTL: cc.LeaseTTL, Domain: domain,
		Address: s.advertise.String(), Logger: s.log.With("component", "cluster"), Metrics: s.m,
	})
	if err != nil {
		st.stop()
		return fmt.Errorf("cluster: %w", err)
	}
	st.node = node
	s.cluster = st
	s.log.Info("joined cluster", "node_id", node.ID(), "nats", url, "lease_ttl", node.TTL())
	return nil
}

// stop leaves the cluster (releasing the leases, so other nodes take over at once) and stops
// what startCluster started.
func (st *clusterState) stop() {
	if st == nil {
		return
	}
	if st.node != nil {
		st.node.Stop()
	}
	if st.conn != nil {
		st.conn.Close()
	}
	if st.embedded != nil {
		st.embedded.Shutdown()
	}
	if st.storeDir != "" {
		_ = os.RemoveAll(st.storeDir)
	}
}

// clusterStatus is the cluster part of /admin/status; nil on a node on its own.
func (s *Server) clusterStatus() *admin.ClusterStatus {
	if s.cluster == nil {
		return nil
	}
	st := s.cluster.node.Status()
	out := &admin.ClusterStatus{NodeID: st.ID, LeaseTTLS: s.cluster.node.TTL().Seconds(),
		Owners: st.Owners, Held: st.Held, LeaseChanges: st.LeaseChanges,
		Trunk: admin.TrunkTraffic{
			PacketsOut: uint64(media.CounterValue(s.m.ClusterTrunkPackets.WithLabelValues("out"))),
			PacketsIn:  uint64(media.CounterValue(s.m.ClusterTrunkPackets.WithLabelValues("in"))),
		}}
	if out.Owners == nil {
		out.Owners = map[string]string{}
	}
	if out.Held == nil {
		out.Held = []string{}
	}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, admin.ClusterNode{ID: n.ID, Address: n.Address, Started: n.Started})
	}
	return out
}

// linkFunc links each channel to the cluster (nil on a node on its own): its messages and
// its media, whose fan-out to this node's listeners goes out on the media plane's socket.
func (s *Server) linkFunc() channel.LinkFunc {
	if s.cluster == nil {
		return nil
	}
	node := s.cluster.node
	var via func() *media.Worker
	if s.media != nil {
		via = s.media.Worker
	}
	return func(id string, post func(any)) (channel.Link, error) {
		l, err := node.Link(id, func(m *cluster.ChannelMsg) { post(m) })
		if err != nil {
			return nil, err
		}
		l.SetMedia(cluster.MediaConfig{Deliver: func(p *media.RelayPacket) { post(p) }, Via: via})
		return l, nil
	}
}
