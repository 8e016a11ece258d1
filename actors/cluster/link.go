package cluster

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Kinds of ChannelMsg.
const (
	// Between nodes, on the channel's subjects.
	KindMemberUp   = "member_up"   // a member joined on From (or is re-announced after an owner change)
	KindMemberDown = "member_down" // a member of From left
	KindFloorOp    = "floor_op"    // to the owner: a member of From asks (Op request, release, ping)
	KindFloorEvent = "floor_event" // from the owner: a floor event for members (Target, User)
	KindFloorState = "floor_state" // from the owner: who holds the floor now (Holder "" = idle)
	KindChat       = "chat"        // a member of From posted a chat message (Chat) to everyone
	// From this node's own lease watch (never on the wire).
	KindOwner    = "owner"     // Owner is the channel's owner now ("" = none)
	KindNodeDown = "node_down" // node From left the cluster: its members are gone
)

// Floor operations of KindFloorOp.
const (
	OpRequest = "request"
	OpRelease = "release"
	OpPing    = "ping"
)

// Targets of KindFloorEvent.
const (
	ToUser   = "user"    // the member User
	ToAll    = "all"     // every member
	ToAllBut = "all_but" // every member but User
)

// ChannelMsg is what one node's channel actor tells the same channel's actor on other nodes.
// It is this package's own wire format (JSON), independent of the client protocol's.
type ChannelMsg struct {
	Kind string `json:"kind"`
	From string `json:"from"` // sending node

	User        string `json:"user,omitempty"`
	Priority    int    `json:"priority,omitempty"`
	PrioritySet bool   `json:"priority_set,omitempty"`
	ListenOnly  bool   `json:"listen_only,omitempty"`

	Op     string      `json:"op,omitempty"`     // KindFloorOp
	Target string      `json:"target,omitempty"` // KindFloorEvent
	Event  *FloorEvent `json:"event,omitempty"`  // KindFloorEvent

	Holder string    `json:"holder,omitempty"` // KindFloorState
	Since  time.Time `json:"since,omitzero"`   // KindFloorState

	Owner string `json:"owner,omitempty"` // KindOwner

	Chat *Chat `json:"chat,omitempty"` // KindChat
}

// Chat is a chat message on the wire: the posting node has judged it (member, length) and
// given it its id; every node delivers it to its own members and keeps it in its history.
type Chat struct {
	ID        string `json:"id"`
	User      string `json:"user"`
	Content   string `json:"content"`
	Timestamp string `json:"timestamp"`
}

// FloorEvent is a floor event on the wire (the channel actor maps it to and from
// actors/floor's Event).
type FloorEvent struct {
	Kind          string `json:"kind"` // granted, deny, taken, idle, revoke, queue_pos, pong
	User          string `json:"user,omitempty"`
	Priority      int    `json:"priority,omitempty"`
	MaxDurationMs int64  `json:"max_duration_ms,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Position      int    `json:"position,omitempty"`
	Size          int    `json:"size,omitempty"`
}

// Link connects one channel's actor on this node to the same channel on the other nodes:
// a broadcast subject every node with the channel subscribes to, a per-node subject for what
// is meant for one node (floor operations to the owner, events to a member's node), and the
// node's view of the channel's owner.
type Link struct {
	node    *Node
	channel string
	subs    []*nats.Subscription
	unwatch func()
	trunk   *trunk // nil until SetMedia (media.go)
}

func broadcastSubject(channel string) string { return "lc.ch." + channel + ".all" }
func nodeSubject(channel, node string) string {
	return "lc.ch." + channel + ".to." + node
}

// Link subscribes to channel's subjects and starts delivering: every ChannelMsg another node
// sends, then KindOwner at once with the current owner and on every change, and KindNodeDown
// when a node leaves. deliver runs on NATS's and the node's goroutines: it must only post to
// an actor.
func (n *Node) Link(channel string, deliver func(*ChannelMsg)) (*Link, error) {
	l := &Link{node: n, channel: channel}
	handler := func(m *nats.Msg) {
		var cm ChannelMsg
		if json.Unmarshal(m.Data, &cm) != nil || cm.From == n.cfg.ID || cm.From == "" {
			return // not ours to read, or our own broadcast
		}
		switch cm.Kind {
		case KindOwner, KindNodeDown:
			return // only this node's watch says these
		}
		deliver(&cm)
	}
	for _, subj := range []string{broadcastSubject(channel), nodeSubject(channel, n.cfg.ID)} {
		s, err := n.cfg.Conn.Subscribe(subj, handler)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("subscribe %s: %w", subj, err)
		}
		l.subs = append(l.subs, s)
	}
	// Flush: the subscriptions are known to the server before anyone is told to use them.
	if err := n.cfg.Conn.Flush(); err != nil {
		l.Close()
		return nil, fmt.Errorf("link channel %s: %w", channel, err)
	}
	l.unwatch = n.watchChannel(channel, deliver)
	return l, nil
}

// Broadcast sends m to the channel's actor on every other node.
func (l *Link) Broadcast(m *ChannelMsg) { l.publish(broadcastSubject(l.channel), m) }

// Send sends m to the channel's actor on node.
func (l *Link) Send(node string, m *ChannelMsg) { l.publish(nodeSubject(l.channel, node), m) }

// Node is this node's id.
func (l *Link) Node() string { return l.node.cfg.ID }

// publish queues m in the node's outbox: the channel actor calls it from its Receive, which
// must not wait for NATS (outbox.go).
func (l *Link) publish(subj string, m *ChannelMsg) {
	m.From = l.node.cfg.ID
	b, err := json.Marshal(m)
	if err != nil {
		l.node.cfg.Logger.Warn("cluster publish", "subject", subj, "kind", m.Kind, "err", err)
		return
	}
	l.node.out.control(subj, b)
}

// Close unsubscribes; nothing is delivered after it returns but what was already posted.
func (l *Link) Close() {
	if l.unwatch != nil {
		l.unwatch()
	}
	for _, s := range l.subs {
		_ = s.Unsubscribe()
	}
	if l.trunk != nil && !l.trunk.closed.Swap(true) {
		l.node.out.resync(l.trunk) // the handler delivers nothing from now on
	}
}
