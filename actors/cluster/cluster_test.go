package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// testTTL is short so takeovers happen within a test; renewals run every testTTL/3.
const testTTL = 1 * time.Second

func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := StartServer(ServerConfig{Dir: t.TempDir(), JetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func startNode(t *testing.T, s *Server, id string) *Node {
	t.Helper()
	n, err := Start(context.Background(), Config{ID: id, Conn: connect(t, s.ClientURL()), TTL: testTTL, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not synchronisation
	}
	return time.Since(start)
}

// owners is the owner each node believes channel has, and how many nodes hold it.
func owners(nodes []*Node, channel string) (views []string, holders int) {
	for _, n := range nodes {
		st := n.Status()
		views = append(views, st.Owners[channel])
		for _, h := range st.Held {
			if h == channel {
				holders++
			}
		}
	}
	return views, holders
}

// agreed is the owner all nodes agree on with exactly one holder, or "".
func agreed(nodes []*Node, channel string) string {
	views, holders := owners(nodes, channel)
	if holders != 1 {
		return ""
	}
	for _, v := range views[1:] {
		if v != views[0] {
			return ""
		}
	}
	return views[0]
}

func TestExactlyOneOwner(t *testing.T) {
	s := startServer(t)
	nodes := []*Node{startNode(t, s, "a"), startNode(t, s, "b"), startNode(t, s, "c")}
	for _, n := range nodes {
		n.Want("CH_0001")
	}
	var owner string
	waitFor(t, 5*time.Second, "one agreed owner", func() bool { owner = agreed(nodes, "CH_0001"); return owner != "" })
	// It stays one owner across several renewals.
	deadline := time.Now().Add(2 * testTTL)
	for time.Now().Before(deadline) {
		views, holders := owners(nodes, "CH_0001")
		if holders != 1 {
			t.Fatalf("%d holders, views %v", holders, views)
		}
		time.Sleep(50 * time.Millisecond) // sampling period of the check
	}
	if got := agreed(nodes, "CH_0001"); got != owner {
		t.Fatalf("owner changed from %s to %q without failure", owner, got)
	}
}

func TestNodeRegistry(t *testing.T) {
	s := startServer(t)
	a, b := startNode(t, s, "a"), startNode(t, s, "b")
	waitFor(t, 5*time.Second, "both nodes listed", func() bool { return len(a.Status().Nodes) == 2 && len(b.Status().Nodes) == 2 })
	if _, err := Start(context.Background(), Config{ID: "a", Conn: connect(t, s.ClientURL()), TTL: testTTL}); err == nil {
		t.Fatal("a second node with a live node's id joined")
	}
	if _, err := Start(context.Background(), Config{ID: "bad id", Conn: connect(t, s.ClientURL())}); err == nil {
		t.Fatal("a node id with a space was accepted")
	}
	b.Stop()
	waitFor(t, 5*time.Second, "stopped node gone", func() bool { return len(a.Status().Nodes) == 1 })
}

// TestTakeoverAfterOwnerDies: the owner loses NATS without releasing (a crash, as far as the
// cluster can tell); another node owns the channel within TTL + renew interval (+ slack for
// the shared machine).
func TestTakeoverAfterOwnerDies(t *testing.T) {
	s := startServer(t)
	conns := map[string]*nats.Conn{}
	var nodes []*Node
	for _, id := range []string{"a", "b", "c"} {
		nc := connect(t, s.ClientURL())
		n, err := Start(context.Background(), Config{ID: id, Conn: nc, TTL: testTTL, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		conns[id] = nc
		nodes = append(nodes, n)
		n.Want("CH_0001")
	}
	var owner string
	waitFor(t, 5*time.Second, "first owner", func() bool { owner = agreed(nodes, "CH_0001"); return owner != "" })
	var survivors []*Node
	for _, n := range nodes {
		if n.ID() != owner {
			survivors = append(survivors, n)
		}
	}
	var dead *Node
	for _, n := range nodes {
		if n.ID() == owner {
			dead = n
		}
	}
	conns[owner].Close() // no release, no heartbeat: a dead node, as far as the others can tell
	bound := testTTL + testTTL/3
	gaveUp := false // seen, at a poll before the takeover, to claim the channel no more
	took := waitFor(t, bound+time.Second, "takeover", func() bool {
		o := agreed(survivors, "CH_0001")
		if o != "" && o != owner {
			return true
		}
		gaveUp = gaveUp || len(dead.Status().Held) == 0
		return false
	})
	t.Logf("takeover after owner died: %v (bound %v + slack)", took, bound)
	if took < testTTL/2 {
		t.Fatalf("took over after %v, before the dead owner's lease could have expired", took)
	}
	// The cut-off owner gave the channel up before anybody else could take it: never two
	// owners at once.
	if !gaveUp {
		t.Fatalf("the cut-off owner still claims the channel when %s took it over", agreed(survivors, "CH_0001"))
	}
}

func TestReleaseHandsOverAtOnce(t *testing.T) {
	s := startServer(t)
	a, b := startNode(t, s, "a"), startNode(t, s, "b")
	a.Want("CH_0002")
	waitFor(t, 5*time.Second, "a owns", func() bool { return agreed([]*Node{a, b}, "CH_0002") == "a" })
	b.Want("CH_0002")
	start := time.Now()
	a.Drop("CH_0002")
	waitFor(t, 5*time.Second, "b owns", func() bool { return agreed([]*Node{a, b}, "CH_0002") == "b" })
	if took := time.Since(start); took >= testTTL {
		t.Fatalf("hand-over after release took %v, as long as an expiry (%v)", took, testTTL)
	}
}

func TestLeaseCASRace(t *testing.T) {
	s := startServer(t)
	const contenders = 8
	leases := make([]*Leases, contenders)
	for i := range leases {
		js := jetStream(t, connect(t, s.ClientURL()))
		l, err := OpenLeases(context.Background(), js, "race", testTTL, 1)
		if err != nil {
			t.Fatal(err)
		}
		leases[i] = l
	}
	for round := range 3 {
		key := fmt.Sprintf("CH_%d", round)
		var wg sync.WaitGroup
		won := make([]Lease, contenders)
		errs := make([]error, contenders)
		start := make(chan struct{})
		for i := range contenders {
			wg.Go(func() {
				<-start
				won[i], errs[i] = leases[i].Acquire(context.Background(), key, fmt.Sprintf("n%d", i))
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		var w Lease
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				w = won[i]
			case !errors.Is(err, ErrHeld):
				t.Fatalf("contender %d: %v", i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners", round, winners)
		}
		if got, err := leases[0].Owner(context.Background(), key); err != nil || got != w.Owner {
			t.Fatalf("round %d: stored owner %q (%v), winner %s", round, got, err, w.Owner)
		}
	}
}

// TestStaleHolderIsFenced: a holder whose lease expired and was taken cannot renew or release
// it (the revision is the fencing token).
func TestStaleHolderIsFenced(t *testing.T) {
	s := startServer(t)
	js := jetStream(t, connect(t, s.ClientURL()))
	l, err := OpenLeases(context.Background(), js, "fence", testTTL, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old, err := l.Acquire(ctx, "CH_1", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, "CH_1", "b"); !errors.Is(err, ErrHeld) {
		t.Fatalf("second acquire: %v, want ErrHeld", err)
	}
	var taken Lease
	waitFor(t, 3*testTTL, "expiry lets b take it", func() bool {
		taken, err = l.Acquire(ctx, "CH_1", "b")
		return err == nil
	})
	if _, err := l.Renew(ctx, old); !errors.Is(err, ErrLost) {
		t.Fatalf("stale renew: %v, want ErrLost", err)
	}
	if err := l.Release(ctx, old); !errors.Is(err, ErrLost) {
		t.Fatalf("stale release: %v, want ErrLost", err)
	}
	if got, _ := l.Owner(ctx, "CH_1"); got != "b" {
		t.Fatalf("owner %q after stale writes, want b", got)
	}
	if _, err := l.Renew(ctx, taken); err != nil {
		t.Fatalf("owner's renew: %v", err)
	}
}
