package main

import (
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/admin"
)

// A cluster node's status shows the node, the nodes alive, each channel's owner and the
// node's cross-node media.
func TestStatusShowsTheCluster(t *testing.T) {
	started := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	var b strings.Builder
	err := renderStatus(&b, &admin.Status{Version: "v1", Cluster: &admin.ClusterStatus{
		NodeID: "node-a", LeaseTTLS: 3,
		Nodes: []admin.ClusterNode{{ID: "node-a", Address: "10.0.0.1", Started: started},
			{ID: "node-b", Address: "10.0.0.2", Started: started}},
		Owners: map[string]string{"CH_0002": "node-b", "CH_0001": "node-a"},
		Held:   []string{"CH_0001"}, LeaseChanges: 4,
		Trunk: admin.TrunkTraffic{PacketsOut: 1500, PacketsIn: 250},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"Node:            node-a (2 nodes, lease TTL 3s)",
		"Owned Channels:  1 of 2",
		"Lease Changes:   4",
		"Trunk Packets:   1500 out, 250 in",
		"node-b  10.0.0.2  2026-05-06 07:08:09 UTC",
		"CH_0001  node-a",
		"CH_0002  node-b",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}
	if strings.Index(out, "CH_0001") > strings.Index(out, "CH_0002") {
		t.Error("channel owners are not sorted by channel")
	}
	b.Reset()
	if err := renderStatus(&b, &admin.Status{Version: "v1"}); err != nil || strings.Contains(b.String(), "Node") {
		t.Errorf("a node on its own shows cluster fields:\n%s", b.String())
	}
}
