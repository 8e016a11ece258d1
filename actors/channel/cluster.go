package channel

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/cluster"
	"github.com/minilivechat/minilivechat/actors/floor"
	"github.com/minilivechat/minilivechat/actors/msg"
)

// A clustered channel (Config.Cluster set) exists on every node that has it, each actor with
// the members whose sessions are on its node ("local", with their sessions and media peers)
// and a copy of the others ("remote", known from the nodes' announcements). Only the actor on
// the channel's owner node (the node holding the channel's lease, actors/cluster) runs the
// floor machine: the others forward their members' floor requests to it and hear its
// decisions as floor events for their members and a floor state for their relay gate and
// channel object. When the owner changes, the new owner's floor starts idle with every
// member it knows, and every node re-announces its local members to it (docs/cluster.md).

// DenyNoOwner answers a floor request while the channel has no owner node (the owner died and
// its lease has not aged out yet; docs/cluster.md, "Failover bound").
const DenyNoOwner = "no_owner"

// Link is what a clustered channel needs of the cluster (actors/cluster.Link).
type Link interface {
	Node() string
	Broadcast(m *cluster.ChannelMsg)
	Send(node string, m *cluster.ChannelMsg)
	// Listen subscribes to the channel's media from other nodes while this node has
	// listeners; SendMedia publishes a local talker's decrypted packet to them.
	Listen(on bool)
	SendMedia(user string, rtp []byte)
	Close()
}

// LinkFunc connects channel id to the cluster; post sends the channel actor what other nodes
// say (*cluster.ChannelMsg, owner changes included) and the packets of their talkers
// (*media.RelayPacket).
type LinkFunc func(channelID string, post func(any)) (Link, error)

// mirror is the floor state the owner last announced, on a node that does not own the channel.
type mirror struct {
	holder   string
	priority int
	since    time.Time
}

func (a *Actor) clustered() bool { return a.link != nil }

// owns reports whether this actor runs the channel's floor: always when not clustered.
func (a *Actor) owns() bool { return a.link == nil || (a.owner != "" && a.owner == a.link.Node()) }

// holds reports whether user may send media now.
func (a *Actor) holds(user string) bool {
	if a.owns() {
		return a.floor.IsHolder(user)
	}
	return user != "" && a.mirror.holder == user
}

func (a *Actor) openLink() {
	if a.cfg.Cluster == nil {
		return
	}
	post := a.postSelf
	l, err := a.cfg.Cluster(a.spec.ChannelID, post)
	if err != nil {
		a.log.Error("channel not linked to the cluster; it serves this node's members only", "err", err)
		return
	}
	a.link = l
	a.reannounce = a.cfg.Clock.AfterFunc(AnnounceEvery, func() { post(announceTick{}) })
}

func (a *Actor) closeLink() {
	if a.reannounce != nil {
		a.reannounce.Stop()
	}
	if a.link != nil {
		a.link.Close()
	}
}

// AnnounceEvery is how often a node re-sends its members of a channel to the other nodes. A
// member_up is fire-and-forget: one published before another node's subscription reached its
// NATS server (a node that just started or linked the channel, interest still crossing a leaf
// link) is lost, and this repeat is what brings that node's member list right, within this
// bound (docs/cluster.md, "What a cluster does"). Repeats of a known member change nothing.
const AnnounceEvery = 2 * time.Second

type announceTick struct{}

// announceAll re-sends every local member to the other nodes and arms the next round.
func (a *Actor) announceAll() {
	if a.link == nil || a.deleted {
		return
	}
	for _, mem := range a.sortedMembers() {
		if mem.node == "" {
			a.announce(mem, "")
		}
	}
	post := a.postSelf
	a.reannounce = a.cfg.Clock.AfterFunc(AnnounceEvery, func() { post(announceTick{}) })
}

// localMembers counts the members whose sessions are on this node.
func (a *Actor) localMembers() int {
	n := 0
	for _, mem := range a.members {
		if mem.node == "" {
			n++
		}
	}
	return n
}

// announce tells the other nodes (or, with to set, one node) of a local member.
func (a *Actor) announce(mem *member, to string) {
	m := &cluster.ChannelMsg{Kind: cluster.KindMemberUp, User: mem.userID, Priority: mem.priority, ListenOnly: mem.listenOnly}
	if to != "" {
		a.link.Send(to, m)
		return
	}
	a.link.Broadcast(m)
}

// remote handles what the cluster says.
func (a *Actor) remote(ctx actor.Context, m *cluster.ChannelMsg) {
	if a.link == nil || a.deleted {
		return
	}
	switch m.Kind {
	case cluster.KindOwner:
		a.ownerChanged(ctx, m.Owner)
	case cluster.KindMemberUp:
		a.remoteJoin(ctx, m)
	case cluster.KindMemberDown:
		if mem := a.members[m.User]; mem != nil && mem.node == m.From {
			a.removeRemote(ctx, mem)
		}
	case cluster.KindNodeDown:
		for _, mem := range a.sortedMembers() {
			if mem.node == m.From {
				a.removeRemote(ctx, mem)
			}
		}
	case cluster.KindFloorOp:
		a.remoteFloorOp(ctx, m)
	case cluster.KindChat:
		if m.Chat != nil && m.From != a.link.Node() {
			ev := &msg.MessageEvent{ChannelID: a.spec.ChannelID, MessageID: m.Chat.ID, UserID: m.Chat.User,
				Content: m.Chat.Content, Timestamp: m.Chat.Timestamp}
			a.toHistory(ctx, &msg.ChatPosted{Message: *ev})
			a.chat(ctx, ev)
		}
	case cluster.KindFloorEvent, cluster.KindFloorState:
		switch {
		case m.From == a.owner && !a.owns():
			a.fromOwner(ctx, m)
		case m.From != a.owner && len(a.early) < maxEarly:
			// NATS orders nothing between the lease watch and these subjects: a new owner's
			// first words may come before this node sees it own the lease. Kept until then.
			a.early = append(a.early, m)
		}
	}
}

// maxEarly bounds the floor messages kept from a node not yet known to own the channel.
const maxEarly = 64

func (a *Actor) fromOwner(ctx actor.Context, m *cluster.ChannelMsg) {
	if m.Kind == cluster.KindFloorState {
		a.mirror = mirror{holder: m.Holder, priority: m.Priority, since: m.Since}
		a.changed(ctx, "")
		return
	}
	if ev, ok := fromWire(m.Event); ok {
		who := m.User // the member the owner answers (grant, deny, queue position); a broadcast names its subject
		if who == "" {
			who = ev.User
		}
		if mem := a.members[who]; mem != nil && !mem.askedOwner.IsZero() {
			a.cfg.Metrics.ClusterProxyLatency.Observe(a.cfg.Clock.Now().Sub(mem.askedOwner).Seconds())
			mem.askedOwner = time.Time{}
		}
		a.deliverLocal(ctx, m.Target, m.User, a.event(ev))
	}
}

// ownerChanged: every node, on seeing the owner change, takes the floor for idle (a new
// owner starts idle) and tells its own members if it was taken; the new owner runs a fresh
// floor with every member it knows; the others re-announce their members to it.
func (a *Actor) ownerChanged(ctx actor.Context, owner string) {
	if owner == a.owner {
		return
	}
	was := a.owns()
	a.owner = owner
	now := a.owns()
	taken := a.mirror.holder != ""
	if was {
		_, _, _, taken = a.floor.Holder()
		if taken {
			a.burstEnded(ctx, msg.RevokeShutdown, a.cfg.Clock.Now())
		}
	}
	a.stopFloorTimers()
	a.floor = a.newFloor()
	a.mirror = mirror{}
	for _, mem := range a.members {
		mem.askedOwner = time.Time{} // an answer of the old owner no longer comes
	}
	if now {
		for _, mem := range a.sortedMembers() {
			a.floor.Join(mem.userID)
		}
		a.log.Info("channel owned here", "node", a.link.Node())
	}
	a.changed(ctx, "")
	if taken {
		a.deliverLocal(ctx, cluster.ToAll, "", &msg.FloorIdle{ChannelID: a.spec.ChannelID})
	}
	if now {
		a.announceFloor()
	}
	early := a.early
	a.early = nil
	if owner == "" || now {
		return
	}
	for _, mem := range a.sortedMembers() {
		if mem.node == "" {
			a.announce(mem, owner)
		}
	}
	for _, m := range early {
		if m.From == owner {
			a.fromOwner(ctx, m)
		}
	}
}

func (a *Actor) stopFloorTimers() {
	for i, t := range a.timers {
		if t != nil {
			t.Stop()
			a.timers[i] = nil
		}
	}
}

func (a *Actor) remoteJoin(ctx actor.Context, m *cluster.ChannelMsg) {
	old := a.members[m.User]
	if old != nil && old.node == "" {
		return // the user's membership here, on its own node, wins
	}
	if old != nil {
		old.node, old.priority, old.listenOnly = m.From, m.Priority, m.ListenOnly
		return
	}
	a.joins++
	a.stopReap()
	a.members[m.User] = &member{userID: m.User, priority: m.Priority, node: m.From, order: a.joins, listenOnly: m.ListenOnly}
	if a.owns() {
		a.floor.Join(m.User)
	}
	a.changed(ctx, "")
	a.sendOthers(ctx, m.User, &msg.ChannelEvent{ChannelID: a.spec.ChannelID, Event: msg.EventJoin, UserID: m.User})
}

// removeRemote forgets a member of another node: leave event to the local members, and the
// floor moves on if this node runs it.
func (a *Actor) removeRemote(ctx actor.Context, mem *member) {
	delete(a.members, mem.userID)
	a.memberGone(ctx, mem.userID)
}

// forwardFloor sends a local member's floor request to the owner node, and reports whether it
// did (false: this node runs the floor).
func (a *Actor) forwardFloor(ctx actor.Context, call msg.Call, op string, priority int, set bool) bool {
	if a.owns() {
		return false
	}
	if a.staleSession(call) || a.members[call.UserID] == nil {
		a.cfg.Metrics.FloorDenials.WithLabelValues(msg.DenyNotMember).Inc()
		ctx.Send(call.Session, &msg.FloorDeny{ChannelID: a.spec.ChannelID, Reason: msg.DenyNotMember})
		return true
	}
	if a.owner == "" {
		a.cfg.Metrics.FloorDenials.WithLabelValues(DenyNoOwner).Inc()
		ctx.Send(call.Session, &msg.FloorDeny{ChannelID: a.spec.ChannelID, Reason: DenyNoOwner})
		return true
	}
	if op == cluster.OpRequest {
		a.members[call.UserID].askedOwner = a.cfg.Clock.Now()
	}
	a.link.Send(a.owner, &cluster.ChannelMsg{Kind: cluster.KindFloorOp, Op: op, User: call.UserID, Priority: priority, PrioritySet: set})
	return true
}

// remoteFloorOp runs a floor request of another node's member on this, the owner's, floor.
func (a *Actor) remoteFloorOp(ctx actor.Context, m *cluster.ChannelMsg) {
	if !a.owns() {
		a.link.Send(m.From, &cluster.ChannelMsg{Kind: cluster.KindFloorEvent, Target: cluster.ToUser, User: m.User,
			Event: toWire(floor.Event{Kind: floor.EventDeny, Reason: DenyNoOwner})})
		return
	}
	mem := a.members[m.User]
	if mem == nil || mem.node != m.From {
		a.link.Send(m.From, &cluster.ChannelMsg{Kind: cluster.KindFloorEvent, Target: cluster.ToUser, User: m.User,
			Event: toWire(floor.Event{Kind: floor.EventDeny, Reason: msg.DenyNotMember})})
		return
	}
	now := a.cfg.Clock.Now()
	var res floor.Result
	switch m.Op {
	case cluster.OpRequest:
		if mem.listenOnly {
			a.link.Send(m.From, &cluster.ChannelMsg{Kind: cluster.KindFloorEvent, Target: cluster.ToUser, User: m.User,
				Event: toWire(floor.Event{Kind: floor.EventDeny, Reason: msg.DenyListenOnly})})
			return
		}
		res = a.floor.Request(m.User, a.requestPriority(&msg.RequestFloor{Call: msg.Call{UserID: m.User}, Priority: m.Priority, PrioritySet: m.PrioritySet}), now)
	case cluster.OpRelease:
		res = a.floor.Release(m.User, now)
	case cluster.OpPing:
		res = a.floor.Ping(m.User)
	default:
		return
	}
	a.apply(ctx, res, nil)
}

// deliverLocal sends ev to the local members a floor event's target names.
func (a *Actor) deliverLocal(ctx actor.Context, target, user string, ev any) {
	for id, mem := range a.members {
		if mem.node != "" || mem.session == nil {
			continue
		}
		switch {
		case target == cluster.ToUser && id != user, target == cluster.ToAllBut && id == user:
			continue
		}
		ctx.Send(mem.session, ev)
	}
}

// sendRemote passes an owner's floor event to the nodes its target is on.
func (a *Actor) sendRemote(e floor.Effect) {
	if a.link == nil {
		return
	}
	m := &cluster.ChannelMsg{Kind: cluster.KindFloorEvent, User: e.User, Event: toWire(e.Event)}
	switch e.Target {
	case floor.ToUser:
		m.Target = cluster.ToUser
		if mem := a.members[e.User]; mem != nil && mem.node != "" {
			a.link.Send(mem.node, m)
		}
	case floor.ToAll:
		m.Target = cluster.ToAll
		a.link.Broadcast(m)
	case floor.ToAllBut:
		m.Target = cluster.ToAllBut
		a.link.Broadcast(m)
	}
}

// announceFloor tells the other nodes who holds the floor now.
func (a *Actor) announceFloor() {
	if a.link == nil || !a.owns() {
		return
	}
	m := &cluster.ChannelMsg{Kind: cluster.KindFloorState}
	if user, priority, since, ok := a.floor.Holder(); ok {
		m.Holder, m.Priority, m.Since = user, priority, since
	}
	a.link.Broadcast(m)
}

var eventNames = map[floor.EventKind]string{
	floor.EventGranted: "granted", floor.EventDeny: "deny", floor.EventTaken: "taken", floor.EventIdle: "idle",
	floor.EventRevoke: "revoke", floor.EventQueuePos: "queue_pos", floor.EventPong: "pong",
}

func toWire(ev floor.Event) *cluster.FloorEvent {
	return &cluster.FloorEvent{Kind: eventNames[ev.Kind], User: ev.User, Priority: ev.Priority,
		MaxDurationMs: ev.MaxDuration.Milliseconds(), Reason: ev.Reason, Position: ev.Position, Size: ev.Size}
}

// fromWire is the floor event of w; false for none or a kind this version does not know.
func fromWire(w *cluster.FloorEvent) (floor.Event, bool) {
	if w == nil {
		return floor.Event{}, false
	}
	for k, name := range eventNames {
		if name == w.Kind {
			return floor.Event{Kind: k, User: w.User, Priority: w.Priority, Reason: w.Reason, Position: w.Position,
				Size: w.Size, MaxDuration: time.Duration(w.MaxDurationMs) * time.Millisecond}, true
		}
	}
	return floor.Event{}, false
}
