package cluster

import (
	"context"
	"testing"
	"time"
)

// TestLeafSiteSharesLeases: a site's NATS server linked to the hub as a leaf node (one
// outbound connection, no JetStream of its own) reaches the hub's buckets through the hub's
// JetStream domain, so a node at the
// site and a node at the hub see each other and agree on one owner per channel.
func TestLeafSiteSharesLeases(t *testing.T) {
	hub, err := StartServer(ServerConfig{Name: "hub", Dir: t.TempDir(), JetStream: true, Domain: "hub", LeafListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	site, err := StartServer(ServerConfig{Name: "site", LeafRemotes: []string{hub.LeafURL()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Shutdown)
	waitFor(t, 5*time.Second, "leaf link up", func() bool { return site.LeafConnections() == 1 && hub.LeafConnections() == 1 })

	a := startNode(t, hub, "hub-1")
	var b *Node
	// The leaf's interest in the hub's JetStream API propagates just after the link is up.
	waitFor(t, 5*time.Second, "site node joins through the leaf", func() bool {
		n, err := Start(context.Background(), Config{ID: "site-1", Conn: connect(t, site.ClientURL()), Domain: "hub", TTL: testTTL, Logger: testLogger(t)})
		if err != nil {
			t.Logf("site node: %v", err)
			return false
		}
		b = n
		return true
	})
	t.Cleanup(b.Stop)
	nodes := []*Node{a, b}
	waitFor(t, 5*time.Second, "both sites listed", func() bool { return len(a.Status().Nodes) == 2 && len(b.Status().Nodes) == 2 })
	b.Want("CH_0001")
	waitFor(t, 5*time.Second, "site owns the channel", func() bool { return agreed(nodes, "CH_0001") == "site-1" })
	a.Want("CH_0001")
	b.Drop("CH_0001")
	waitFor(t, 5*time.Second, "hub takes it over", func() bool { return agreed(nodes, "CH_0001") == "hub-1" })
}
