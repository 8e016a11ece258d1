package server

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/admin"
)

func TestClusterConfigMistakesAreNamed(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    ClusterConfig
		want string
	}{
		{"both engines", ClusterConfig{NATSURL: "nats://127.0.0.1:4222", Listen: "127.0.0.1:0", NodeID: "a"}, "give one of them"},
		{"leaf without embedded server", ClusterConfig{NATSURL: "nats://127.0.0.1:4222", Hub: "nats-leaf://h:7422", Domain: "hub", NodeID: "a"}, "need --cluster-listen"},
		{"hub without domain", ClusterConfig{Listen: "127.0.0.1:0", Hub: "nats-leaf://h:7422", NodeID: "a"}, "--cluster-domain"},
		{"bad node id", ClusterConfig{Listen: "127.0.0.1:0", NodeID: "node a"}, "--node-id"},
		{"short TTL", ClusterConfig{Listen: "127.0.0.1:0", NodeID: "a", LeaseTTL: time.Millisecond}, "lease TTL"},
		{"cluster options without a cluster", ClusterConfig{NodeID: "a"}, "need --nats or --cluster-listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{Secret: "s", Cluster: tc.c}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if err := (Config{Secret: "s", Cluster: ClusterConfig{NATSURL: "nats://127.0.0.1:4222", NodeID: "n-1"}}).Validate(); err != nil {
		t.Fatalf("a valid cluster config refused: %v", err)
	}
}

// TestUnreachableNATSIsAClearStartError: a node whose NATS cannot be reached does not start,
// and says which URL failed.
func TestUnreachableNATSIsAClearStartError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + ln.Addr().String()
	ln.Close() // a port nobody listens on
	_, err = New(Config{Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Secret: testSecret,
		Logger: testLogger(), Cluster: ClusterConfig{NATSURL: url, NodeID: "lonely"}})
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("New: %v, want an error naming %s", err, url)
	}
}

// TestClusterListenIsAOneNodeCluster: with --cluster-listen the server runs its own NATS and
// owns every channel; /admin/status says so. Its goroutines end with it.
func TestClusterListenIsAOneNodeCluster(t *testing.T) {
	before := goroutines()
	cfg := Config{Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Secret: testSecret, Logger: testLogger(),
		Cluster: ClusterConfig{Listen: "127.0.0.1:0", NodeID: "solo", LeaseTTL: time.Second}}
	srv, stop, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, srv: srv, ws: "ws://" + srv.Addr() + "/ws", http: "http://" + srv.Addr()}
	var st admin.Status
	status := func() *admin.ClusterStatus {
		st = admin.Status{}
		if code, body := s.get("/admin/status"); code != 200 || json.Unmarshal([]byte(body), &st) != nil {
			return nil
		}
		return st.Cluster
	}
	eventually(t, 5*time.Second, "the node owns the three presets", func() bool {
		c := status()
		return c != nil && slices.Equal(c.Held, []string{"CH_0001", "CH_0002", "CH_0003"})
	})
	if c := st.Cluster; c.NodeID != "solo" || len(c.Nodes) != 1 || c.Nodes[0].ID != "solo" || c.Owners["CH_0002"] != "solo" || c.LeaseTTLS != 1 {
		t.Fatalf("cluster status %+v", c)
	}
	// A channel created here is owned here too.
	u := s.client("alice", 100)
	u.Request(opChannelCreate, d{"channel_id": "ROOM_1", "freq": "1", "channel_name": "Room"})
	eventually(t, 5*time.Second, "the new channel is owned", func() bool {
		c := status()
		return c != nil && c.Owners["ROOM_1"] == "solo"
	})
	u.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The embedded NATS server, the connection and the node's loop end with the server.
	eventually(t, 10*time.Second, "goroutines back to baseline", func() bool { return goroutines() <= before+2 })
}
