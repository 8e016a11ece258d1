package channel

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/cluster"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/metrics"
)

const clusterTTL = time.Second

// clusterNode is one node of a test cluster: its own actor system, NATS connection, cluster
// node and the channel's actor.
type clusterNode struct {
	id   string
	fm   *fakeMedia
	sys  *actor.ActorSystem
	nc   *nats.Conn
	node *cluster.Node
	ch   *actor.PID
	m    *metrics.Metrics // the node's, shared by its cluster node and its channel
}

// startNATS runs a NATS server with JetStream for the test; its cleanup stops it.
func startNATS(t testing.TB) *cluster.Server {
	t.Helper()
	ns, err := cluster.StartServer(cluster.ServerConfig{Dir: t.TempDir(), JetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

func startClusterNode(t testing.TB, ns *cluster.Server, id, channel string) *clusterNode {
	t.Helper()
	return startClusterNodeAt(t, ns.ClientURL(), "", id, channel)
}

// startClusterNodeAt joins the NATS server at url, whose JetStream is in domain ("" for its
// own).
func startClusterNodeAt(t testing.TB, url, domain, id, channel string) *clusterNode {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	m := metrics.New()
	node, err := cluster.Start(context.Background(), cluster.Config{ID: id, Conn: nc, TTL: clusterTTL, Domain: domain,
		Logger: slog.New(slog.DiscardHandler), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	fm := &fakeMedia{spawn: func(string) *actor.PID { return actortest.NewProbe(t, sys).PID() }}
	pid := sys.Root.Spawn(Props(Config{
		Spec:    msg.ChannelSpec{ChannelID: channel, Freq: "1", ChannelName: channel, Capacity: 10},
		Metrics: m, Logger: slog.New(slog.DiscardHandler), Media: fm,
		Cluster: func(id string, post func(any)) (Link, error) {
			l, err := node.Link(id, func(m *cluster.ChannelMsg) { post(m) })
			if err == nil {
				l.SetMedia(cluster.MediaConfig{Deliver: func(p *media.RelayPacket) { post(p) }})
			}
			return l, err
		},
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return &clusterNode{id: id, fm: fm, sys: sys, nc: nc, node: node, ch: pid, m: m}
}

func (n *clusterNode) detail(t testing.TB) *msg.ChannelDetail {
	t.Helper()
	res, err := n.sys.Root.RequestFuture(n.ch, &msg.GetChannel{Call: msg.Call{Admin: true}}, wait).Result()
	if err != nil {
		t.Fatalf("node %s: %v", n.id, err)
	}
	return &res.(*msg.Result).Data.(*msg.AdminChannelDetail).ChannelDetail
}

// member is a session probe joined to the channel on n.
func (n *clusterNode) member(t testing.TB, user string) *actortest.Probe {
	t.Helper()
	p := actortest.NewProbe(t, n.sys)
	res, err := n.sys.Root.RequestFuture(n.ch, &msg.JoinChannel{Call: msg.Call{Op: 11, UserID: user, Session: p.PID()},
		ChannelID: "CH", Priority: msg.PriorityNormal, Offer: offer("offer")}, wait).Result()
	if err != nil || res.(*msg.Result).Err != nil {
		t.Fatalf("join %s on %s: %v %v", user, n.id, err, res)
	}
	return p
}

// await skips messages until one of type T that satisfies ok arrives.
func await[T any](t *testing.T, p *actortest.Probe, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if m, is := p.Next(t, time.Until(deadline)).Message.(T); is && (ok == nil || ok(m)) {
			return m
		}
	}
	t.Fatalf("%s: not within %v", what, wait)
	panic("unreachable")
}

// TestFloorArbitratedOnceAcrossNodes: members on three nodes share one floor run by the
// owner node; a preemption across nodes works; when the owner dies another node runs the
// floor, idle, and the surviving members take it again.
func TestFloorArbitratedOnceAcrossNodes(t *testing.T) {
	ns := startNATS(t)
	a := startClusterNode(t, ns, "a", "CH")
	a.node.Want("CH")
	actortest.Eventually(t, wait, "a owns CH", func() bool { return a.node.Status().Owners["CH"] == "a" })
	b, c := startClusterNode(t, ns, "b", "CH"), startClusterNode(t, ns, "c", "CH")
	b.node.Want("CH")
	c.node.Want("CH")
	nodes := []*clusterNode{a, b, c}

	alice, bob, carol := a.member(t, "alice"), b.member(t, "bob"), c.member(t, "carol")
	actortest.Eventually(t, wait, "every node lists the three members", func() bool {
		for _, n := range nodes {
			if len(n.detail(t).Members) != 3 {
				return false
			}
		}
		return true
	})

	// bob (node b) asks; the owner (a) grants; everyone hears it on their own node.
	b.sys.Root.Send(b.ch, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "bob", Session: bob.PID()}, ChannelID: "CH"})
	await[*msg.FloorGranted](t, bob, "bob granted", nil)
	await[*msg.FloorTaken](t, alice, "alice hears bob took it", func(m *msg.FloorTaken) bool { return m.UserID == "bob" })
	await[*msg.FloorTaken](t, carol, "carol hears bob took it", func(m *msg.FloorTaken) bool { return m.UserID == "bob" })
	// alice (a) at the same priority is queued behind him, not granted.
	a.sys.Root.Send(a.ch, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "alice", Session: alice.PID()}, ChannelID: "CH"})
	await[*msg.FloorQueuePos](t, alice, "alice queued", func(m *msg.FloorQueuePos) bool { return m.Position == 1 })

	// carol (node c) preempts bob (node b) with a higher priority.
	c.sys.Root.Send(c.ch, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "carol", Session: carol.PID()}, ChannelID: "CH",
		Priority: msg.PriorityPeril, PrioritySet: true})
	await[*msg.FloorGranted](t, carol, "carol granted", nil)
	if r := await[*msg.FloorRevoke](t, bob, "bob revoked", nil); r.Reason != msg.RevokePreempted {
		t.Fatalf("bob revoked for %q", r.Reason)
	}
	actortest.Eventually(t, wait, "every node shows carol holding the floor", func() bool {
		for _, n := range nodes {
			if f := n.detail(t).Floor; f.Holder == nil || *f.Holder != "carol" {
				return false
			}
		}
		return true
	})

	// carol's packets reach the listeners on a and b, once each; bob's (no longer the
	// holder) reach nobody.
	pool := media.NewRelayPacketPool()
	c.sys.Root.Send(c.ch, packet(pool, "carol"))
	for _, l := range []struct {
		n    *clusterNode
		user string
	}{{a, "alice"}, {b, "bob"}} {
		select {
		case got := <-l.n.fm.streams[l.user].log:
			if got != "rtp-payload" {
				t.Fatalf("%s on %s got %q", l.user, l.n.id, got)
			}
		case <-time.After(wait):
			t.Fatalf("%s on %s got no packet from carol on c", l.user, l.n.id)
		}
	}
	labelled := func(from string) *media.RelayPacket {
		p := pool.Get()
		p.From, p.N = from, copy(p.Buf[:], "from-"+from)
		return p
	}
	b.sys.Root.Send(b.ch, labelled("bob"))   // dropped at b: its mirror says carol holds
	c.sys.Root.Send(c.ch, labelled("carol")) // sent after it
	if got := <-a.fm.streams["alice"].log; got != "from-carol" {
		t.Fatalf("alice got %q, want carol's packet only", got)
	}
	// What an operator's /metrics shows of it: c published carol's two packets once each, a
	// and b received them, every node saw a become the owner, and the floor requests b and c
	// forwarded to the owner were answered (bob's grant, carol's preemption).
	trunk := func(n *clusterNode, dir string) float64 {
		return testutil.ToFloat64(n.m.ClusterTrunkPackets.WithLabelValues(dir))
	}
	if out := trunk(c, "out"); out != 2 {
		t.Fatalf("c published %v trunk packets, want 2", out)
	}
	// b's copy of the second packet may still be on its way (only alice's was awaited).
	actortest.Eventually(t, wait, "a and b count carol's two packets in", func() bool {
		return trunk(a, "in") == 2 && trunk(b, "in") == 2
	})
	for _, n := range nodes {
		if got := testutil.ToFloat64(n.m.ClusterLeaseChanges); got < 1 {
			t.Fatalf("node %s counted %v lease changes", n.id, got)
		}
	}
	for _, n := range []*clusterNode{b, c} {
		if got := histogramCount(t, n.m.ClusterProxyLatency); got != 1 {
			t.Fatalf("node %s observed %d floor answers from the owner, want 1", n.id, got)
		}
	}

	// The owner dies (no lease release): b or c owns CH within the bound, the floor is idle,
	// alice is gone from the survivors' lists, and bob can take the floor.
	a.nc.Close()
	took := actortest.Eventually(t, clusterTTL+clusterTTL/3+time.Second, "a survivor owns CH", func() bool {
		o := b.node.Status().Owners["CH"]
		return (o == "b" || o == "c") && c.node.Status().Owners["CH"] == o
	})
	t.Logf("owner died; new owner after %v", took)
	await[*msg.FloorIdle](t, bob, "bob hears the floor is idle", nil)
	await[*msg.FloorIdle](t, carol, "carol hears the floor is idle", nil)
	actortest.Eventually(t, 3*clusterTTL, "alice gone from the survivors", func() bool {
		return len(b.detail(t).Members) == 2 && len(c.detail(t).Members) == 2
	})
	b.sys.Root.Send(b.ch, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "bob", Session: bob.PID()}, ChannelID: "CH"})
	await[*msg.FloorGranted](t, bob, "bob granted after the failover", nil)
	await[*msg.FloorTaken](t, carol, "carol hears bob took it after the failover", func(m *msg.FloorTaken) bool { return m.UserID == "bob" })
}

// TestChannelSpansLeafSites (issue 12, must-show 3): two sites whose NATS servers are linked
// as hub and leaf node share a channel: a member at the site takes the floor the hub's node
// runs, and a listener at the hub hears the site's talker.
func TestChannelSpansLeafSites(t *testing.T) {
	hub, err := cluster.StartServer(cluster.ServerConfig{Name: "hub", Dir: t.TempDir(), JetStream: true, Domain: "hub", LeafListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	site, err := cluster.StartServer(cluster.ServerConfig{Name: "site", LeafRemotes: []string{hub.LeafURL()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Shutdown)
	actortest.Eventually(t, wait, "leaf link up", func() bool { return site.LeafConnections() == 1 })
	h := startClusterNode(t, hub, "hub-1", "CH")
	h.node.Want("CH")
	actortest.Eventually(t, wait, "hub owns CH", func() bool { return h.node.Status().Owners["CH"] == "hub-1" })
	var s *clusterNode
	actortest.Eventually(t, wait, "site node joins through the leaf", func() bool {
		// The leaf's interest in the hub's JetStream API propagates just after the link.
		defer func() { _ = recover() }()
		s = startClusterNodeAt(&quietTB{TB: t}, site.ClientURL(), "hub", "yard-1", "CH")
		return s != nil
	})
	actortest.Eventually(t, wait, "site sees the hub's lease", func() bool { return s.node.Status().Owners["CH"] == "hub-1" })
	listener, talker := h.member(t, "dispatch"), s.member(t, "forklift")
	actortest.Eventually(t, wait, "both sites list both members", func() bool {
		return len(h.detail(t).Members) == 2 && len(s.detail(t).Members) == 2
	})
	s.sys.Root.Send(s.ch, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "forklift", Session: talker.PID()}, ChannelID: "CH"})
	await[*msg.FloorGranted](t, talker, "the site's member granted by the hub", nil)
	await[*msg.FloorTaken](t, listener, "the hub's member hears it", func(m *msg.FloorTaken) bool { return m.UserID == "forklift" })
	actortest.Eventually(t, wait, "the site mirrors the floor", func() bool {
		f := s.detail(t).Floor
		return f.Holder != nil && *f.Holder == "forklift"
	})
	s.sys.Root.Send(s.ch, packet(media.NewRelayPacketPool(), "forklift"))
	select {
	case got := <-h.fm.streams["dispatch"].log:
		if got != "rtp-payload" {
			t.Fatalf("hub listener got %q", got)
		}
	case <-time.After(wait):
		t.Fatal("the hub's listener got nothing from the site's talker")
	}
}

// quietTB turns Fatal into a panic the caller recovers from, to retry a start that may fail
// while a leaf link settles.
type quietTB struct{ testing.TB }

func (q *quietTB) Fatal(args ...any) { panic(args) }
func (q *quietTB) Helper()           {}

// histogramCount is how many observations h holds.
func histogramCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestChatSpansNodes: a chat message posted on one node reaches the channel's members on the
// other, with the id its ACK gave, and a member who joins there later gets it in its JOIN ACK.
func TestChatSpansNodes(t *testing.T) {
	ns := startNATS(t)
	a, b := startClusterNode(t, ns, "a", "CH"), startClusterNode(t, ns, "b", "CH")
	a.node.Want("CH")
	b.node.Want("CH")
	alice, bob := a.member(t, "alice"), b.member(t, "bob")
	actortest.Eventually(t, wait, "both nodes list both members", func() bool {
		return len(a.detail(t).Members) == 2 && len(b.detail(t).Members) == 2
	})

	res, err := a.sys.Root.RequestFuture(a.ch, &msg.PostMessage{Call: msg.Call{Op: 20, UserID: "alice", Session: alice.PID()},
		ChannelID: "CH", Content: "gate 3 is open"}, wait).Result()
	if err != nil || res.(*msg.Result).Err != nil {
		t.Fatalf("post: %v %v", err, res)
	}
	id := res.(*msg.Result).Data.(*msg.MessageAck).MessageID
	if id != "a-1" {
		t.Fatalf("message id %q, want a-1 (node-qualified)", id)
	}
	got := await[*msg.MessageEvent](t, bob, "bob on b hears alice's chat", nil)
	if got.MessageID != id || got.UserID != "alice" || got.Content != "gate 3 is open" {
		t.Fatalf("bob got %+v", got)
	}
	if e := await[*msg.MessageEvent](t, alice, "alice hears her own chat", nil); e.MessageID != id {
		t.Fatalf("alice got %+v", e)
	}

	carol := actortest.NewProbe(t, b.sys)
	res, err = b.sys.Root.RequestFuture(b.ch, &msg.JoinChannel{Call: msg.Call{Op: 11, UserID: "carol", Session: carol.PID()},
		ChannelID: "CH", Priority: msg.PriorityNormal}, wait).Result()
	if err != nil || res.(*msg.Result).Err != nil {
		t.Fatalf("carol joins on b: %v %v", err, res)
	}
	if msgs := res.(*msg.Result).Data.(*msg.JoinAck).Messages; len(msgs) != 1 || msgs[0].MessageID != id {
		t.Fatalf("carol's JOIN ACK on b carries %+v, want alice's message", msgs)
	}
}

// TestLateNodeLearnsTheMembers: a node that links the channel after members joined elsewhere
// missed their announcements; the repeat (AnnounceEvery) brings them into its list.
func TestLateNodeLearnsTheMembers(t *testing.T) {
	ns := startNATS(t)
	a := startClusterNode(t, ns, "a", "CH")
	a.node.Want("CH")
	a.member(t, "alice")
	b := startClusterNode(t, ns, "b", "CH") // after alice's member_up was published
	b.node.Want("CH")
	actortest.Eventually(t, AnnounceEvery+wait, "b lists alice", func() bool {
		for _, m := range b.detail(t).Members {
			if m.UserID == "alice" {
				return true
			}
		}
		return false
	})
}
