// Package cluster lets several lcserver nodes share channels through NATS. A node joins a
// NATS network (an embedded server, see StartServer, or an existing one), announces itself in
// a JetStream KV bucket of nodes, and holds the leases of the channels it owns in another: at
// most one node owns a channel at a time, and when an owner stops renewing (it died, or lost
// NATS) another node that wants the channel takes it once the lease ages out. Membership,
// election and failure detection are NATS's: this package only reads and writes KV entries
// with compare-and-set and watches them. docs/cluster.md is the operator's view.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/minilivechat/minilivechat/media/metrics"
)

// DefaultTTL is the lease and heartbeat TTL: an owner that stops renewing loses its channels
// within TTL + one renew interval (docs/cluster.md, "Failover bound").
const DefaultTTL = 3 * time.Second

var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// NodeInfo is what a node announces in the node registry.
type NodeInfo struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
	// Address tells an operator where the node is (lcserver announces its advertise IP).
	Address string `json:"address,omitempty"`
}

// Ownership is a change of a channel's owner as this node sees it. Owner "" means nobody
// holds the lease (it was released or expired and nobody took it yet).
type Ownership struct {
	Channel string
	Owner   string
	Local   bool // Owner is this node
}

// Config is what a node needs.
type Config struct {
	ID   string     // node id, [A-Za-z0-9_-]{1,64}, unique in the cluster
	Conn *nats.Conn // connected; the caller closes it after Stop
	// TTL of leases and of the heartbeat; default DefaultTTL. Renew is how often they are
	// rewritten; default TTL/3, so two lost renewals in a row still keep a lease.
	TTL   time.Duration
	Renew time.Duration
	// Replicas of the KV buckets; 1 for one NATS server, 3 for a NATS cluster of 3.
	Replicas int
	// Domain is the JetStream domain holding the buckets, for a node whose NATS server is a
	// leaf of the hub that runs JetStream (docs/cluster.md, "Sites"); "" for the local one.
	Domain  string
	Address string
	// OnOwner is told of every owner change of every channel, from the node's goroutine: it
	// must not block (send to an actor).
	OnOwner func(Ownership)
	Logger  *slog.Logger
	// Metrics counts trunk packets and owner changes; a fresh set when nil.
	Metrics *metrics.Metrics
}

// Status is a snapshot of the node's view.
type Status struct {
	ID           string
	Nodes        []NodeInfo        // alive nodes, by id, this one included
	Owners       map[string]string // channel → owner node, for every held lease
	Held         []string          // channels this node owns, sorted
	LeaseChanges uint64            // owner changes seen since start
}

// Node is a running cluster member: a goroutine keeping the heartbeat and the leases of the
// channels this node wants (Want), watching the leases of all channels.
type Node struct {
	cfg    Config
	leases *Leases
	nodes  jetstream.KeyValue
	cmds   chan func(*loop)
	cancel context.CancelFunc
	done   chan struct{}
	out    *outbox // what the channels publish (outbox.go)
}

// Start joins the cluster: opens (or creates) the buckets, announces the node and starts its
// loop. The node fails if another live node already announced the same id.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if !validID.MatchString(cfg.ID) {
		return nil, fmt.Errorf("node id %q must match [A-Za-z0-9_-]{1,64}", cfg.ID)
	}
	if cfg.Conn == nil {
		return nil, errors.New("cluster node needs a NATS connection")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Renew <= 0 || cfg.Renew >= cfg.TTL {
		cfg.Renew = cfg.TTL / 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnOwner == nil {
		cfg.OnOwner = func(Ownership) {}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	js, err := jetstream.New(cfg.Conn)
	if cfg.Domain != "" {
		js, err = jetstream.NewWithDomain(cfg.Conn, cfg.Domain)
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	leases, err := OpenLeases(ctx, js, OwnerBucket, cfg.TTL, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	nodes, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(NodeBucket, cfg.TTL, cfg.Replicas))
	if err != nil {
		return nil, fmt.Errorf("node bucket: %w", err)
	}
	info, _ := json.Marshal(NodeInfo{ID: cfg.ID, Started: time.Now().UTC(), Address: cfg.Address})
	// Create, not Put: a second process started with a live node's id must not steal its
	// leases. A restarted node waits for its old entry to age out (one TTL).
	rev, err := nodes.Create(ctx, cfg.ID, info)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("node id %q is announced by a live node (wait %v after it stopped)", cfg.ID, cfg.TTL)
	}
	if err != nil {
		return nil, fmt.Errorf("announce node %s: %w", cfg.ID, err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	fail := func(err error) (*Node, error) {
		cancel()
		_ = nodes.Delete(ctx, cfg.ID, jetstream.LastRevision(rev)) // the id is free again at once
		return nil, err
	}
	ownerW, err := leases.Watch(lctx)
	if err != nil {
		return fail(fmt.Errorf("watch leases: %w", err))
	}
	nodeW, err := nodes.WatchAll(lctx)
	if err != nil {
		return fail(fmt.Errorf("watch nodes: %w", err))
	}
	n := &Node{cfg: cfg, leases: leases, nodes: nodes, cmds: make(chan func(*loop), cmdQueue), cancel: cancel, done: make(chan struct{})}
	l := &loop{
		n: n, info: info, nodeRev: rev,
		want: map[string]bool{}, held: map[string]heldLease{},
		owners: map[string]string{}, seen: map[string]time.Time{}, alive: map[string]NodeInfo{},
	}
	n.out = newOutbox(n)
	go func() {
		defer close(n.done)
		l.run(lctx, ownerW, nodeW)
	}()
	return n, nil
}

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// TTL is the lease TTL in force.
func (n *Node) TTL() time.Duration { return n.cfg.TTL }

// Conn is the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.cfg.Conn }

// cmdQueue is how many Want and Drop calls queue while the loop waits on NATS (one KV
// operation takes at most Renew), so the directory actor that calls them does not wait for
// NATS; only a burst of more channel changes than this within one operation would.
const cmdQueue = 1024

// do runs f on the loop; false when the node has stopped.
func (n *Node) do(f func(*loop)) bool {
	select {
	case n.cmds <- f:
		return true
	case <-n.done:
		return false
	}
}

// Want makes the node contend for channel's lease: it takes it now if it is free, and
// whenever it becomes free later.
func (n *Node) Want(channel string) {
	n.do(func(l *loop) { l.want[channel] = true; l.tryAcquire(channel) })
}

// Drop stops contending for channel and releases its lease if held (the channel has no
// members here any more, or was deleted).
func (n *Node) Drop(channel string) {
	n.do(func(l *loop) { delete(l.want, channel); l.release(channel) })
}

// Status is the node's view now.
func (n *Node) Status() Status {
	ch := make(chan Status, 1)
	if !n.do(func(l *loop) { ch <- l.status() }) {
		return Status{ID: n.cfg.ID}
	}
	return <-ch
}

// Stop releases the held leases and the node's announcement (so others take over at once),
// and stops the loop. Without NATS it just stops: the leases then age out.
func (n *Node) Stop() {
	n.cancel()
	<-n.done
	n.out.stop()
}

type heldLease struct {
	Lease
	renewed time.Time // last successful write
}

// loop is the node's state, owned by its goroutine.
type loop struct {
	n       *Node
	info    []byte
	nodeRev uint64
	want    map[string]bool
	held    map[string]heldLease
	owners  map[string]string    // channel → owner, from the watcher
	seen    map[string]time.Time // when the watcher last saw a write of the channel's lease
	alive   map[string]NodeInfo
	changes uint64
	// watchers are the channel links told of owner changes and departed nodes.
	watchers map[string][]*watcher
}

// watcher is one Link's subscription to the loop's news; closed is set by Link.Close from any
// goroutine (the link's actor may run on this very loop's goroutine), and the loop forgets
// closed watchers when it next looks.
type watcher struct {
	deliver func(*ChannelMsg)
	closed  atomic.Bool
}

// watchChannel registers deliver for channel's owner changes (the current owner is delivered
// at once) and for departed nodes.
func (n *Node) watchChannel(channel string, deliver func(*ChannelMsg)) (unwatch func()) {
	w := &watcher{deliver: deliver}
	n.do(func(l *loop) {
		if l.watchers == nil {
			l.watchers = map[string][]*watcher{}
		}
		l.watchers[channel] = append(l.watchers[channel], w)
		w.deliver(&ChannelMsg{Kind: KindOwner, From: n.cfg.ID, Owner: l.owners[channel]})
	})
	return func() { w.closed.Store(true) }
}

// notify delivers m to channel's open watchers.
func (l *loop) notify(channel string, m ChannelMsg) {
	ws := slices.DeleteFunc(l.watchers[channel], func(w *watcher) bool { return w.closed.Load() })
	if len(ws) == 0 {
		delete(l.watchers, channel)
		return
	}
	l.watchers[channel] = ws
	for _, w := range ws {
		c := m
		w.deliver(&c)
	}
}

func (l *loop) run(ctx context.Context, ownerW, nodeW jetstream.KeyWatcher) {
	tick := time.NewTicker(l.n.cfg.Renew)
	defer tick.Stop()
	defer l.shutdown()
	owners, nodes := ownerW.Updates(), nodeW.Updates()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-l.n.cmds:
			f(l)
		case e, ok := <-owners:
			if !ok {
				owners = nil // the watcher ends only with ctx
				continue
			}
			if e != nil {
				l.observe(e.Key(), decodeOwner(e), e.Revision())
			}
		case e, ok := <-nodes:
			if !ok {
				nodes = nil
				continue
			}
			if e != nil {
				l.observeNode(e)
			}
		case <-tick.C:
			l.tick()
		}
	}
}

// opCtx bounds one KV operation by half the renew interval, so that a NATS outage cannot
// stall the loop past the point where it must notice its leases lapsing (tick).
func (l *loop) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), l.n.cfg.Renew/2)
}

func (l *loop) observe(channel, owner string, rev uint64) {
	// Our own acquire is known before the watcher delivers it, and the watcher may still
	// deliver what preceded it (the release that let us in): older news is no news.
	if h, ok := l.held[channel]; ok && rev < h.Revision {
		return
	}
	now := time.Now()
	if owner == "" {
		delete(l.seen, channel)
	} else {
		l.seen[channel] = now
	}
	if _, ok := l.held[channel]; ok && owner != l.n.cfg.ID {
		// Someone else wrote the key, or it aged out: our lease lapsed (we could not renew
		// in time).
		delete(l.held, channel)
	}
	l.setOwner(channel, owner)
	if owner == "" && l.want[channel] {
		l.tryAcquire(channel)
	}
}

// setOwner records and reports an owner change.
func (l *loop) setOwner(channel, owner string) {
	if l.owners[channel] == owner {
		return
	}
	if owner == "" {
		delete(l.owners, channel)
	} else {
		l.owners[channel] = owner
	}
	l.changes++
	l.n.cfg.Metrics.ClusterLeaseChanges.Inc()
	l.n.cfg.Logger.Info("channel owner", "channel", channel, "owner", owner, "node", l.n.cfg.ID)
	l.n.cfg.OnOwner(Ownership{Channel: channel, Owner: owner, Local: owner == l.n.cfg.ID && owner != ""})
	l.notify(channel, ChannelMsg{Kind: KindOwner, From: l.n.cfg.ID, Owner: owner})
}

func (l *loop) observeNode(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		if _, ok := l.alive[e.Key()]; ok && e.Key() != l.n.cfg.ID {
			for _, ch := range slices.Sorted(maps.Keys(l.watchers)) {
				l.notify(ch, ChannelMsg{Kind: KindNodeDown, From: e.Key()})
			}
		}
		delete(l.alive, e.Key())
		return
	}
	var ni NodeInfo
	if json.Unmarshal(e.Value(), &ni) == nil {
		l.alive[e.Key()] = ni
	}
}

func (l *loop) tryAcquire(channel string) {
	if _, ok := l.held[channel]; ok {
		return
	}
	ctx, cancel := l.opCtx()
	defer cancel()
	ls, err := l.n.leases.Acquire(ctx, channel, l.n.cfg.ID)
	if err != nil {
		if !errors.Is(err, ErrHeld) {
			l.n.cfg.Logger.Warn("acquire lease", "channel", channel, "err", err)
		}
		return
	}
	l.held[channel] = heldLease{Lease: ls, renewed: time.Now()}
	l.seen[channel] = time.Now()
	l.setOwner(channel, l.n.cfg.ID)
}

func (l *loop) release(channel string) {
	h, ok := l.held[channel]
	if !ok {
		return
	}
	delete(l.held, channel)
	ctx, cancel := l.opCtx()
	defer cancel()
	if err := l.n.leases.Release(ctx, h.Lease); err != nil && !errors.Is(err, ErrLost) {
		l.n.cfg.Logger.Warn("release lease", "channel", channel, "err", err)
	}
	l.setOwner(channel, "")
}

func (l *loop) tick() {
	// reachable turns false at the first operation that fails for want of NATS: the others
	// would wait for their timeout too, one after the other.
	reachable := true
	ctx, cancel := l.opCtx()
	rev, err := l.n.nodes.Update(ctx, l.n.cfg.ID, l.info, l.nodeRev)
	cancel()
	switch {
	case err == nil:
		l.nodeRev = rev
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound):
		// Our announcement aged out (NATS was away longer than the TTL): announce again.
		ctx, cancel := l.opCtx()
		if rev, err := l.n.nodes.Create(ctx, l.n.cfg.ID, l.info); err == nil {
			l.nodeRev = rev
		}
		cancel()
	default:
		reachable = false
		l.n.cfg.Logger.Warn("node heartbeat", "node", l.n.cfg.ID, "err", err)
	}
	for _, ch := range slices.Sorted(maps.Keys(l.held)) {
		h := l.held[ch]
		if reachable {
			ctx, cancel := l.opCtx()
			ls, err := l.n.leases.Renew(ctx, h.Lease)
			cancel()
			switch {
			case err == nil:
				l.held[ch] = heldLease{Lease: ls, renewed: time.Now()}
				continue
			case errors.Is(err, ErrLost):
				delete(l.held, ch)
				l.n.cfg.Logger.Warn("lease lost", "channel", ch, "node", l.n.cfg.ID)
				continue
			default:
				reachable = false
				l.n.cfg.Logger.Warn("renew lease", "channel", ch, "node", l.n.cfg.ID, "err", err)
			}
		}
		// Not renewed for half a TTL (two renewals missed): stop acting as the owner before
		// the lease can age out at the server and another node take it. With ticks every
		// TTL/3 and operations bounded by TTL/6 this happens at most 5/6 TTL after the last
		// renewal.
		if time.Since(h.renewed) >= l.n.cfg.TTL/2 {
			delete(l.held, ch)
			l.setOwner(ch, "")
			l.n.cfg.Logger.Warn("lease lapsed: NATS unreachable", "channel", ch, "node", l.n.cfg.ID,
				"since_renewal", time.Since(h.renewed))
		}
	}
	if !reachable {
		return
	}
	// Contend for wanted channels nobody holds — or whose holder has not renewed for longer
	// than a TTL, in case an expiry marker was missed while disconnected.
	now, stale := time.Now(), l.n.cfg.TTL+l.n.cfg.Renew
	for _, ch := range slices.Sorted(maps.Keys(l.want)) {
		if _, ok := l.held[ch]; ok {
			continue
		}
		if seen, ok := l.seen[ch]; !ok || now.Sub(seen) > stale {
			l.tryAcquire(ch)
		}
	}
}

func (l *loop) status() Status {
	s := Status{ID: l.n.cfg.ID, Owners: maps.Clone(l.owners), LeaseChanges: l.changes}
	for _, id := range slices.Sorted(maps.Keys(l.alive)) {
		s.Nodes = append(s.Nodes, l.alive[id])
	}
	s.Held = slices.Sorted(maps.Keys(l.held))
	return s
}

// shutdown releases what the node holds, best effort within one renew interval each.
func (l *loop) shutdown() {
	for _, ch := range slices.Sorted(maps.Keys(l.held)) {
		if !l.n.cfg.Conn.IsConnected() {
			break // the leases age out; do not wait for each release to time out
		}
		l.release(ch)
	}
	if !l.n.cfg.Conn.IsConnected() {
		return
	}
	ctx, cancel := l.opCtx()
	defer cancel()
	_ = l.n.nodes.Delete(ctx, l.n.cfg.ID, jetstream.LastRevision(l.nodeRev))
}
