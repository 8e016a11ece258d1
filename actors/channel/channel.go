// Package channel holds the channel actor: one per channel, owning its members, its floor state
// machine (actors/floor), its floor timers and the relay gate for media packets.
//
// Requests arrive forwarded by the directory with the asking session as sender and are answered
// with ctx.Respond(*msg.Result) (actors/msg/requests.go). Events go straight to member sessions
// with ctx.Send, always as pointers: *msg.ChannelEvent (join, leave), *msg.MessageEvent and
// *msg.FloorGranted, *msg.FloorDeny, *msg.FloorTaken, *msg.FloorIdle, *msg.FloorRevoke,
// *msg.FloorQueuePos, *msg.FloorPong. After every change of its channel object the actor sends
// *msg.ChannelChanged to the directory.
//
// Membership is keyed by user id. A join by a member's user from another session takes the
// membership over (the old one is removed as if it had disconnected), and a leave from a session
// that no longer holds the membership changes nothing: after a re-IDENTIFY the replaced
// session's leave may arrive after the new session's join.
package channel

import (
	"cmp"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/minilivechat/minilivechat/actors/cluster"
	"github.com/minilivechat/minilivechat/actors/floor"
	"github.com/minilivechat/minilivechat/actors/mailbox"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// Limits of channel objects and chat messages (docs/protocol.md, "Error codes"; docs/security.md
// §7).
const (
	MaxMessageLength = 2000 // Unicode code points
	MaxNameLength    = 100  // channel_name, code points
	MaxFreqLength    = 64   // freq, code points
	DefaultCapacity  = 20
)

// Config is what one channel actor needs. Zero fields get defaults in New.
type Config struct {
	Spec      msg.ChannelSpec
	Creator   string    // user id of the creator; empty for preset channels (admin only)
	CreatedAt time.Time // default: Clock.Now()

	PingTimeout time.Duration // default floor.DefaultPingTimeout (6 s)
	MaxDuration time.Duration // default floor.DefaultMaxDuration (30 s)
	// QueueLimit caps the floor queue; 0 makes it follow the channel's capacity.
	QueueLimit int
	// MaxMessageLength caps chat content in Unicode code points (default MaxMessageLength).
	MaxMessageLength int
	// ReapAfter deletes a user-created channel (Creator set) that has had no member for this
	// long, as if its creator had deleted it; 0 or negative never does. Presets are never
	// reaped.
	ReapAfter time.Duration

	Clock     clock.Clock      // default clock.Real()
	Media     msg.MediaPlane   // default msg.NoMedia{}
	Metrics   *metrics.Metrics // default a private metrics.New()
	Logger    *slog.Logger     // default slog.Default()
	Directory *actor.PID       // receives ChannelChanged and ChannelDeleted; nil: nobody

	// History receives BurstBegan, BurstEnded and ChatPosted (docs/history.md); nil: nothing
	// is logged.
	History *actor.PID
	// Recent is the chat the channel had before the server restarted, oldest first: a
	// joiner gets it in its JOIN ACK, and message ids go on after the last of it.
	Recent []msg.MessageEvent
	// Record sends every relayed packet of a burst to History for the burst's recording
	// (docs/history.md); off by default.
	Record bool
	// RecentLimit is how many chat messages a JOIN ACK carries (default DefaultRecentLimit;
	// negative: none).
	RecentLimit int
	// Cluster, when set, links the channel to the same channel on other nodes at start
	// (cluster.go, docs/cluster.md); nil: the channel is this server's alone.
	Cluster LinkFunc
}

// DefaultRecentLimit is the chat a joiner gets in its JOIN ACK (docs/protocol.md).
const DefaultRecentLimit = 20

// member is one joined user.
type member struct {
	userID   string
	priority int
	session  *actor.PID
	peer     msg.Peer // PID nil when the member joined signaling-only
	order    uint64   // join order, for stable member lists
	// node is the cluster node whose session this member is, "" for this node's own: a
	// member of another node has no session or peer here (cluster.go).
	node string

	// listenOnly: it joined with an offer that does not send (recvonly, inactive). It hears
	// the channel but is denied the floor (listen_only), even if its peer ends later.
	listenOnly bool

	// askedOwner is when this node forwarded the member's FLOOR_REQUEST to the owner node and
	// has not yet had the owner's answer (zero otherwise): livechat_cluster_proxy_latency_seconds.
	askedOwner time.Time
}

// listener is a member with a media peer: whose stream relayed packets are sealed into.
type listener struct {
	user   string
	stream msg.Stream
}

// reapTimer is what the idle timer posts when an empty channel's ReapAfter has passed.
type reapTimer struct{ gen uint64 }

// floorTimer is what a floor timer posts to its channel when it fires.
type floorTimer struct {
	kind floor.TimerKind
	gen  uint64
}

// Actor is the channel actor. Its fields are owned by Receive; nothing else touches them.
type Actor struct {
	// static after New
	cfg           Config
	log           *slog.Logger
	dropNotHolder prometheus.Counter
	panics        prometheus.Counter

	// owned by Receive
	spec      msg.ChannelSpec
	members   map[string]*member
	joins     uint64
	listeners []listener // rebuilt on every peer change; read per packet
	floor     *floor.Machine
	timers    [2]clock.Timer // indexed by floor.TimerKind
	reap      clock.Timer    // armed while a user-created channel is empty
	reapGen   uint64         // a reapTimer of another generation is stale
	msgSeq    uint64
	recent    []msg.MessageEvent // the last RecentLimit chat messages, oldest first
	burstPkts uint64             // packets relayed from the current holder
	deleted   bool
	postSelf  func(any) // sends a message to this actor through the actor system

	// the cluster (cluster.go); link nil when not clustered
	link Link
	// reannounce re-sends this node's members to the others every AnnounceEvery (cluster.go).
	reannounce clock.Timer
	owner      string                // the node owning the channel, "" while none does
	mirror     mirror                // the owner's floor, when that is another node
	early      []*cluster.ChannelMsg // floor messages of a node not yet known as the owner

	// the relay path (docs/architecture.md, "Run to completion")
	fanout  media.Fanout
	scratch [media.MaxPacket]byte
}

// New builds a channel actor from cfg, filling defaults.
func New(cfg Config) *Actor {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Media == nil {
		cfg.Media = msg.NoMedia{}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CreatedAt.IsZero() {
		cfg.CreatedAt = cfg.Clock.Now()
	}
	if cfg.Spec.Capacity <= 0 {
		cfg.Spec.Capacity = DefaultCapacity
	}
	if cfg.MaxMessageLength <= 0 {
		cfg.MaxMessageLength = MaxMessageLength
	}
	if cfg.RecentLimit == 0 {
		cfg.RecentLimit = DefaultRecentLimit
	}
	a := &Actor{
		cfg:           cfg,
		log:           cfg.Logger.With("channel_id", cfg.Spec.ChannelID),
		dropNotHolder: cfg.Metrics.PacketsDropped.WithLabelValues("not_floor_holder"),
		panics:        cfg.Metrics.ActorPanics.WithLabelValues("channel"),
		spec:          cfg.Spec,
		members:       make(map[string]*member),
	}
	a.floor = a.newFloor()
	a.recent = append(a.recent, cfg.Recent[max(0, len(cfg.Recent)-max(cfg.RecentLimit, 0)):]...)
	if n := len(cfg.Recent); n > 0 {
		a.msgSeq, _ = strconv.ParseUint(cfg.Recent[n-1].MessageID, 10, 64)
	}
	return a
}

// newFloor is an idle floor with no members under the channel's timers and queue limit.
func (a *Actor) newFloor() *floor.Machine {
	return floor.New(floor.Config{
		QueueLimit:  a.queueLimit(),
		PingTimeout: a.cfg.PingTimeout,
		MaxDuration: a.cfg.MaxDuration,
	})
}

// Props is how the directory spawns a channel actor. The channel runs on the goroutine that
// sends to it when it is idle (a synchronized dispatcher), so that a talker's packet is gated
// and fanned out on the UDP reader goroutine that read it, with no goroutine start
// (docs/architecture.md, "Run to completion"). Its Receive therefore never blocks.
//
// Relayed packets that find the channel busy on another goroutine wait in a bounded queue
// (actors/mailbox); beyond it the newest is dropped and counted as channel_queue_full.
func Props(cfg Config) *actor.Props {
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	full := cfg.Metrics.PacketsDropped.WithLabelValues("channel_queue_full")
	return actor.PropsFromProducer(func() actor.Actor { return New(cfg) }, mailbox.Options(mailbox.Config{
		IsMedia: isPacket,
		Dropped: func(m any) { m.(*media.RelayPacket).Release(); full.Inc() },
	})...)
}

func isPacket(m any) bool { _, ok := m.(*media.RelayPacket); return ok }

func (a *Actor) queueLimit() int {
	if a.cfg.QueueLimit > 0 {
		return a.cfg.QueueLimit
	}
	return a.spec.Capacity
}

// Receive handles one message. A panic is recovered here (see recoverPanic) so that the actor
// keeps its members and floor instead of being restarted empty.
func (a *Actor) Receive(ctx actor.Context) {
	defer a.recoverPanic(ctx)
	// A deleted channel answers every request that was already on its way with 2000 until
	// the directory's Poison reaches it.
	if r, ok := ctx.Message().(msg.ChannelRequest); ok && a.deleted {
		_, call := r.Target()
		a.gone(ctx, call)
		return
	}
	switch m := ctx.Message().(type) {
	case *media.RelayPacket:
		a.relay(ctx, m)
	case *floorTimer:
		a.apply(ctx, a.floor.Timer(m.kind, m.gen, a.cfg.Clock.Now()), nil)
	case *reapTimer:
		if m.gen == a.reapGen && len(a.members) == 0 && !a.deleted {
			a.log.Info("channel reaped: no member", "idle", a.cfg.ReapAfter)
			a.cfg.Metrics.ChannelsReaped.Inc()
			a.markDeleted(ctx)
		}

	case *msg.JoinChannel:
		a.join(ctx, m)
	case *msg.LeaveChannel:
		a.leave(ctx, m)
	case *msg.UpdateChannel:
		a.update(ctx, m)
	case *msg.DeleteChannel:
		a.delete(ctx, m)
	case *msg.GetChannel:
		a.get(ctx, m)
	case *msg.PostMessage:
		a.postMessage(ctx, m)
	case *msg.RequestFloor:
		if a.denyListenOnly(ctx, m.Call) || a.forwardFloor(ctx, m.Call, cluster.OpRequest, m.Priority, m.PrioritySet) {
			return
		}
		a.floorRequest(ctx, m.Call, func(now time.Time) floor.Result {
			return a.floor.Request(m.Call.UserID, a.requestPriority(m), now)
		})
	case *msg.ReleaseFloor:
		if a.forwardFloor(ctx, m.Call, cluster.OpRelease, 0, false) {
			return
		}
		a.floorRequest(ctx, m.Call, func(now time.Time) floor.Result {
			return a.floor.Release(m.Call.UserID, now)
		})
	case *msg.PingFloor:
		if a.forwardFloor(ctx, m.Call, cluster.OpPing, 0, false) {
			return
		}
		a.floorRequest(ctx, m.Call, func(time.Time) floor.Result { return a.floor.Ping(m.Call.UserID) })
	case *msg.RevokeFloor:
		a.revoke(ctx, m)
	case *msg.ListChannelBursts:
		a.listBursts(ctx, m)
	case *cluster.ChannelMsg:
		a.remote(ctx, m)
	case announceTick:
		a.announceAll()

	case *actor.Started:
		sys, self := ctx.ActorSystem(), ctx.Self()
		a.postSelf = func(m any) { sys.Root.Send(self, m) }
		a.openLink()
		a.armReap()
	case *actor.Terminated:
		a.peerStopped(m.Who)
	case *actor.Stopping:
		a.stopTimers()
		a.closeLink()
		if !a.deleted {
			a.cfg.Metrics.Members.Sub(float64(a.localMembers()))
			if _, _, _, ok := a.floor.Holder(); ok {
				a.burstEnded(ctx, msg.RevokeShutdown, a.cfg.Clock.Now())
			}
		}
	}
}

// recoverPanic logs and counts a panic, answers the request that caused it with 9000 and lets
// the actor go on with its state as it was when the panic struck.
func (a *Actor) recoverPanic(ctx actor.Context) {
	r := recover()
	if r == nil {
		return
	}
	a.panics.Inc()
	a.log.Error("channel actor recovered from a panic", "panic", fmt.Sprint(r),
		"message_type", fmt.Sprintf("%T", ctx.Message()), "stack", string(debug.Stack()))
	if req, ok := ctx.Message().(msg.ChannelRequest); ok {
		_, call := req.Target()
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeInternal, "internal error in channel %s", a.spec.ChannelID)))
	}
}

func (a *Actor) gone(ctx actor.Context, call msg.Call) {
	msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNoSuchChannel, "channel %s does not exist", a.spec.ChannelID)))
}

func (a *Actor) join(ctx actor.Context, m *msg.JoinChannel) {
	call := m.Call
	user := call.UserID
	if user == "" {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeMalformed, "joining needs an identified user")))
		return
	}
	old := a.members[user]
	if old != nil && msg.SamePID(old.session, call.Session) {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeAlreadyJoined, "already joined channel %s", a.spec.ChannelID)))
		return
	}
	if old == nil && len(a.members) >= a.spec.Capacity {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeChannelFull, "channel %s is full (%d members)", a.spec.ChannelID, a.spec.Capacity)))
		return
	}
	var peer msg.Peer
	if m.Offer != nil {
		p, err := a.cfg.Media.OpenPeer(ctx, msg.PeerRequest{
			ChannelID: a.spec.ChannelID, UserID: user, Offer: m.Offer, Channel: ctx.Self(),
		})
		if err != nil {
			msg.Reply(ctx, call.Fail(err))
			return
		}
		peer = p
	}
	if old != nil {
		a.log.Info("membership taken over by a new session", "user_id", user)
		a.remove(ctx, old)
	}
	priority := min(max(m.Priority, 0), msg.PriorityEmergency)
	if priority == 0 && !m.PrioritySet {
		priority = msg.PriorityNormal
	}
	a.joins++
	a.stopReap()
	a.members[user] = &member{userID: user, priority: priority, session: call.Session, peer: peer, order: a.joins,
		listenOnly: peer.PID != nil && peer.NoSend}
	a.floor.Join(user)
	if peer.PID != nil {
		ctx.Watch(peer.PID)
		a.rebuildListeners()
	}
	a.cfg.Metrics.Members.Inc()
	if a.link != nil {
		a.announce(a.members[user], "")
	}
	// The directory hears of the change before the joiner gets its ACK, so a CHANNEL_LIST sent
	// after the ACK already counts it.
	a.changed(ctx, "")
	msg.Reply(ctx, call.OK(&msg.JoinAck{
		ChannelID:     a.spec.ChannelID,
		SDPAnswer:     peer.Answer,
		ActiveMembers: a.memberList(),
		Floor:         a.floorInfo(),
		Messages:      slices.Clone(a.recent),
	}))
	a.sendOthers(ctx, user, &msg.ChannelEvent{ChannelID: a.spec.ChannelID, Event: msg.EventJoin, UserID: user})
}

func (a *Actor) leave(ctx actor.Context, m *msg.LeaveChannel) {
	call := m.Call
	mem := a.members[call.UserID]
	if mem == nil {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNotJoined, "not joined to channel %s", a.spec.ChannelID)))
		return
	}
	if call.Session != nil && !msg.SamePID(mem.session, call.Session) {
		// A replaced session leaving late: the membership belongs to the newer session now.
		// From the old session's view it has left, so it gets its ACK; nothing changes.
		msg.Reply(ctx, call.OK(&msg.LeaveAck{ChannelID: a.spec.ChannelID}))
		return
	}
	a.remove(ctx, mem)
	msg.Reply(ctx, call.OK(&msg.LeaveAck{ChannelID: a.spec.ChannelID}))
}

// remove takes a member out: leave event to the others, the floor moves on (a leaving holder
// is told nothing), its peer is stopped.
func (a *Actor) remove(ctx actor.Context, mem *member) {
	delete(a.members, mem.userID)
	if mem.peer.PID != nil {
		ctx.Unwatch(mem.peer.PID)
		ctx.Stop(mem.peer.PID)
		a.rebuildListeners()
	}
	if mem.node != "" { // a member of another node, replaced by this node's session
		a.removeRemote(ctx, mem)
		return
	}
	a.cfg.Metrics.Members.Dec()
	if a.link != nil {
		a.link.Broadcast(&cluster.ChannelMsg{Kind: cluster.KindMemberDown, User: mem.userID})
	}
	a.memberGone(ctx, mem.userID)
}

// memberGone finishes a member's removal, local or of another node: the floor moves on if this node
// runs it, and the directory hears of the new member count and floor before the others hear
// of the leave, and the others hear of the leave before the floor moves on.
func (a *Actor) memberGone(ctx actor.Context, user string) {
	var res floor.Result
	if a.owns() {
		res = a.floor.Leave(user, a.cfg.Clock.Now())
	}
	a.changed(ctx, "")
	res.Changed = false
	a.sendOthers(ctx, user, &msg.ChannelEvent{ChannelID: a.spec.ChannelID, Event: msg.EventLeave, UserID: user})
	a.apply(ctx, res, nil)
	if len(a.members) == 0 {
		a.armReap()
	}
}

// armReap starts the idle time of an empty user-created channel (restarting it if running).
func (a *Actor) armReap() {
	if a.cfg.Creator == "" || a.cfg.ReapAfter <= 0 || a.deleted || a.postSelf == nil {
		return
	}
	a.stopReap()
	a.reapGen++
	gen, post := a.reapGen, a.postSelf
	a.reap = a.cfg.Clock.AfterFunc(a.cfg.ReapAfter, func() { post(&reapTimer{gen: gen}) })
}

func (a *Actor) stopReap() {
	if a.reap != nil {
		a.reap.Stop()
		a.reap = nil
	}
	a.reapGen++ // a timer that already fired and is in the mailbox is now stale
}

// staleSession reports whether call comes from a session of a member's user that does not
// hold the membership (the user identified again elsewhere and only one session is the
// member). Calls without a session (admin API) are never stale.
func (a *Actor) staleSession(call msg.Call) bool {
	mem := a.members[call.UserID]
	return mem != nil && call.Session != nil && !msg.SamePID(mem.session, call.Session)
}

// permitted says whether call may update or delete the channel: its creator or the admin API.
// Preset channels have no creator, so only the admin API may.
func (a *Actor) permitted(call msg.Call) bool {
	return call.Admin || (a.cfg.Creator != "" && call.UserID == a.cfg.Creator)
}

func (a *Actor) update(ctx actor.Context, m *msg.UpdateChannel) {
	call := m.Call
	if !a.permitted(call) {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNotPermitted, "only the creator of channel %s may change it", a.spec.ChannelID)))
		return
	}
	if m.ChannelName != nil {
		if err := CheckName(*m.ChannelName); err != nil {
			msg.Reply(ctx, call.Fail(err))
			return
		}
	}
	if m.Capacity != nil {
		c := *m.Capacity
		if c <= 0 {
			msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeMalformed, "capacity must be positive, got %d", c)))
			return
		}
		if c < len(a.members) {
			msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeMalformed,
				"capacity %d is below the %d current members of channel %s", c, len(a.members), a.spec.ChannelID)))
			return
		}
	}
	if m.ChannelName != nil {
		a.spec.ChannelName = *m.ChannelName
	}
	if m.Capacity != nil {
		a.spec.Capacity = *m.Capacity
		a.floor.SetQueueLimit(a.queueLimit())
	}
	info := a.info()
	a.changed(ctx, msg.EventUpdate)
	msg.Reply(ctx, call.OK(&info))
}

func (a *Actor) delete(ctx actor.Context, m *msg.DeleteChannel) {
	call := m.Call
	if !a.permitted(call) {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNotPermitted, "only the creator of channel %s may delete it", a.spec.ChannelID)))
		return
	}
	info := a.info()
	a.markDeleted(ctx)
	a.log.Info("channel deleted", "by", call.UserID, "admin", call.Admin)
	msg.Reply(ctx, call.OK(&info))
}

// markDeleted ends the channel: peers stopped, timers stopped, members dropped, and the
// directory told (which broadcasts the delete and poisons this actor). The directory hears of
// it before a deleter gets its ACK, so that a CHANNEL_LIST or a CHANNEL_CREATE of the same id
// sent after the ACK finds the channel gone.
func (a *Actor) markDeleted(ctx actor.Context) {
	for _, mem := range a.members {
		if mem.peer.PID != nil {
			ctx.Unwatch(mem.peer.PID)
			ctx.Stop(mem.peer.PID)
		}
	}
	a.stopTimers()
	a.cfg.Metrics.Members.Sub(float64(a.localMembers()))
	if _, _, since, ok := a.floor.Holder(); ok {
		a.cfg.Metrics.FloorHoldSeconds.Observe(a.cfg.Clock.Now().Sub(since).Seconds())
		a.burstEnded(ctx, msg.BurstChannelDeleted, a.cfg.Clock.Now())
	}
	a.recent = nil
	a.members = make(map[string]*member)
	a.listeners = nil
	a.floor = a.newFloor()
	a.deleted = true
	if a.cfg.Directory != nil {
		ctx.Send(a.cfg.Directory, &msg.ChannelDeleted{ChannelID: a.spec.ChannelID})
	}
}

func (a *Actor) get(ctx actor.Context, m *msg.GetChannel) {
	d := msg.ChannelDetail{ChannelInfo: a.info(), Members: a.memberList(), Queue: a.queueList()}
	if !m.Call.Admin {
		msg.Reply(ctx, m.Call.OK(&d))
		return
	}
	peers := []msg.PeerInfo{}
	for _, mem := range a.sortedMembers() {
		if mem.peer.PID != nil && mem.peer.Info != nil {
			peers = append(peers, mem.peer.Info().PeerInfo)
		}
	}
	msg.Reply(ctx, m.Call.OK(&msg.AdminChannelDetail{ChannelDetail: d, Peers: peers}))
}

// listBursts handles HISTORY_LIST. The channel owns its members, so it is the one to decide
// who may read its burst log: a member's request goes on to the history actor, whose answer
// reaches the asking session directly (docs/history.md, "Who may read it").
func (a *Actor) listBursts(ctx actor.Context, m *msg.ListChannelBursts) {
	call := m.Call
	if !call.Admin && (a.members[call.UserID] == nil || a.staleSession(call)) {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNotMember, "not a member of channel %s", a.spec.ChannelID)))
		return
	}
	if a.cfg.History == nil {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNoHistory, "this server keeps no history")))
		return
	}
	if ctx.Sender() == nil {
		return // nobody to answer
	}
	ctx.RequestWithCustomSender(a.cfg.History, m, ctx.Sender())
}

// postMessage handles MESSAGE_CREATE.
func (a *Actor) postMessage(ctx actor.Context, m *msg.PostMessage) {
	call := m.Call
	if a.members[call.UserID] == nil || a.staleSession(call) {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNotMember, "not a member of channel %s", a.spec.ChannelID)))
		return
	}
	// The one place chat content is judged (the gateway only checks that it is there).
	if strings.TrimSpace(m.Content) == "" {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeEmptyMessage, "message content is empty")))
		return
	}
	if n, limit := utf8.RuneCountInString(m.Content), a.cfg.MaxMessageLength; n > limit {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeMessageTooLong, "message has %d characters, at most %d allowed", n, limit)))
		return
	}
	a.msgSeq++
	id := strconv.FormatUint(a.msgSeq, 10)
	if a.link != nil {
		id = a.link.Node() + "-" + id // unique across the nodes that share the channel
	}
	ev := &msg.MessageEvent{
		ChannelID: a.spec.ChannelID,
		MessageID: id,
		UserID:    call.UserID,
		Content:   m.Content,
		Timestamp: a.cfg.Clock.Now().UTC().Format(msg.TimestampFormat),
	}
	a.toHistory(ctx, &msg.ChatPosted{Message: *ev}) // before the ACK: see apply
	msg.Reply(ctx, call.OK(&msg.MessageAck{MessageID: id}))
	a.chat(ctx, ev)
	if a.link != nil {
		a.link.Broadcast(&cluster.ChannelMsg{Kind: cluster.KindChat, Chat: &cluster.Chat{
			ID: ev.MessageID, User: ev.UserID, Content: ev.Content, Timestamp: ev.Timestamp}})
	}
}

// chat delivers a chat message to this node's members and keeps it among the recent ones.
func (a *Actor) chat(ctx actor.Context, ev *msg.MessageEvent) {
	for _, mem := range a.members {
		if mem.session != nil { // members of other nodes hear it from their own node
			ctx.Send(mem.session, ev)
		}
	}
	if limit := a.cfg.RecentLimit; limit > 0 {
		if len(a.recent) >= limit {
			a.recent = slices.Delete(a.recent, 0, len(a.recent)-limit+1)
		}
		a.recent = append(a.recent, *ev)
	}
}

// toHistory sends m to the history actor, if there is one.
func (a *Actor) toHistory(ctx actor.Context, m any) {
	if a.cfg.History != nil {
		ctx.Send(a.cfg.History, m)
	}
}

// burstEnded logs the end of the current holder's tenure. The packet count is the relay
// gate's (burstPkts): what listeners were sent from the holder.
func (a *Actor) burstEnded(ctx actor.Context, reason string, at time.Time) {
	a.toHistory(ctx, &msg.BurstEnded{ChannelID: a.spec.ChannelID, Reason: reason, At: at, Packets: a.burstPkts})
	a.burstPkts = 0
}

// floorRequest runs a floor transition for a session's request. Floor requests are answered
// with floor events, not Results; only a deleted channel answers with 2000.
func (a *Actor) floorRequest(ctx actor.Context, call msg.Call, step func(now time.Time) floor.Result) {
	if a.staleSession(call) {
		// The user's membership belongs to another (newer or older) session of the same user:
		// this session is no member until it joins, and floor events must not go astray.
		a.cfg.Metrics.FloorDenials.WithLabelValues(msg.DenyNotMember).Inc()
		ctx.Send(call.Session, &msg.FloorDeny{ChannelID: a.spec.ChannelID, Reason: msg.DenyNotMember})
		return
	}
	now := a.cfg.Clock.Now()
	res := step(now)
	a.apply(ctx, res, call.Session)
	if g := res.Granted; g != nil && !g.FromQueue {
		// Grant latency is the actor's own work for a grant it could make at once; a grant
		// from the queue waited for people, not for the server, and is not a latency.
		a.cfg.Metrics.FloorGrantLatency.Observe(a.cfg.Clock.Now().Sub(now).Seconds())
	}
}

// requestPriority is the priority a FLOOR_REQUEST asks for: as given (the session has capped
// it by the token; 0 counts when PrioritySet), the member's join priority when absent, never
// above emergency.
func (a *Actor) requestPriority(m *msg.RequestFloor) int {
	p := max(m.Priority, 0)
	if p == 0 && !m.PrioritySet {
		p = msg.PriorityNormal
		if mem := a.members[m.Call.UserID]; mem != nil {
			p = mem.priority
		}
	}
	return min(p, msg.PriorityEmergency)
}

func (a *Actor) revoke(ctx actor.Context, m *msg.RevokeFloor) {
	call := m.Call
	if !call.Admin {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNotPermitted, "only the admin API may revoke the floor")))
		return
	}
	reason := cmp.Or(m.Reason, msg.RevokeAdmin)
	who, res := a.floor.RevokeFor(reason, a.cfg.Clock.Now())
	a.apply(ctx, res, nil)
	out := &msg.RevokeResult{ChannelID: a.spec.ChannelID}
	if who != "" {
		out.RevokedFrom = &who
		a.log.Info("floor revoked", "user_id", who, "reason", reason)
	}
	msg.Reply(ctx, call.OK(out))
}

// apply carries out a floor transition's effects in order and records its metrics. asker is
// where an event addressed to a non-member goes (the session whose request was denied).
func (a *Actor) apply(ctx actor.Context, res floor.Result, asker *actor.PID) {
	// The directory hears of the new floor state before any member hears of it, so that a
	// client that saw GRANTED finds the floor taken in CHANNEL_LIST and /admin/status.
	if res.Changed {
		a.changed(ctx, "")
		a.announceFloor()
	}
	// The history actor, too, hears first: whoever saw the grant or the idle and then asks
	// GET /admin/bursts finds the row. An ending tenure is logged before the grant that may
	// follow it in the same transition (preemption): one open burst per channel at a time.
	if t := res.Ended; t != nil {
		a.burstEnded(ctx, t.Reason, t.Since.Add(t.Held))
	}
	if g := res.Granted; g != nil {
		a.burstPkts = 0
		a.toHistory(ctx, &msg.BurstBegan{ChannelID: a.spec.ChannelID, UserID: g.User, Priority: g.Priority, At: g.At,
			Record: a.cfg.Record && a.cfg.History != nil})
	}
	for _, e := range res.Effects {
		switch e.Kind {
		case floor.EffectSend:
			ev := a.event(e.Event)
			switch e.Target {
			case floor.ToUser:
				if mem := a.members[e.User]; mem != nil && mem.session != nil {
					ctx.Send(mem.session, ev)
				} else if mem != nil {
					a.sendRemote(e)
				} else if asker != nil {
					ctx.Send(asker, ev)
				}
			case floor.ToAll:
				for _, mem := range a.members {
					if mem.session != nil {
						ctx.Send(mem.session, ev)
					}
				}
				a.sendRemote(e)
			case floor.ToAllBut:
				a.sendOthers(ctx, e.User, ev)
				a.sendRemote(e)
			}
		case floor.EffectArmTimer:
			a.arm(e.Timer, e.Generation, e.After)
		case floor.EffectCancelTimer:
			if t := a.timers[e.Timer]; t != nil {
				t.Stop()
				a.timers[e.Timer] = nil
			}
		}
	}
	m := a.cfg.Metrics
	if g := res.Granted; g != nil {
		m.FloorGrants.Inc()
		a.log.Debug("floor granted", "user_id", g.User, "priority", g.Priority)
	}
	if t := res.Ended; t != nil {
		m.FloorHoldSeconds.Observe(t.Held.Seconds())
		if t.Reason != floor.EndRelease {
			m.FloorRevokes.WithLabelValues(t.Reason).Inc()
			a.log.Info("floor revoked", "user_id", t.User, "reason", t.Reason)
		}
	}
	if res.Denied != "" {
		m.FloorDenials.WithLabelValues(res.Denied).Inc()
	}
}

// event turns a floor event into the message sessions understand.
func (a *Actor) event(ev floor.Event) any {
	id := a.spec.ChannelID
	switch ev.Kind {
	case floor.EventGranted:
		return &msg.FloorGranted{ChannelID: id, Priority: ev.Priority, MaxDurationMs: ev.MaxDuration.Milliseconds()}
	case floor.EventDeny:
		return &msg.FloorDeny{ChannelID: id, Reason: ev.Reason}
	case floor.EventTaken:
		return &msg.FloorTaken{ChannelID: id, UserID: ev.User, Priority: ev.Priority}
	case floor.EventIdle:
		return &msg.FloorIdle{ChannelID: id}
	case floor.EventRevoke:
		return &msg.FloorRevoke{ChannelID: id, Reason: ev.Reason}
	case floor.EventQueuePos:
		return &msg.FloorQueuePos{ChannelID: id, Position: ev.Position, Size: ev.Size}
	case floor.EventPong:
		return &msg.FloorPong{ChannelID: id}
	}
	panic(fmt.Sprintf("channel: unknown floor event %d", ev.Kind))
}

// arm schedules a floor timer. The clock's callback only posts a message to this actor, so the
// expiry is handled in mailbox order like everything else.
func (a *Actor) arm(kind floor.TimerKind, gen uint64, after time.Duration) {
	if t := a.timers[kind]; t != nil {
		t.Stop()
	}
	post := a.postSelf
	if post == nil {
		panic("channel: floor timer armed before the actor started")
	}
	a.timers[kind] = a.cfg.Clock.AfterFunc(after, func() { post(&floorTimer{kind: kind, gen: gen}) })
}

func (a *Actor) stopTimers() {
	for i, t := range a.timers {
		if t != nil {
			t.Stop()
			a.timers[i] = nil
		}
	}
	a.stopReap()
}

// relay passes a packet from a member's peer to every other member's stream while its sender
// holds the floor, and drops it otherwise: each listener's stream rewrites and encrypts its
// copy into the fan-out, and the whole fan-out goes to the socket of the UDP worker that read
// the talker's packet in one batch (ceil(N / batch) sendmmsg calls). It never blocks, and
// allocates nothing unless the channel records (one small message per packet to the history
// actor, docs/history.md).
func (a *Actor) relay(ctx actor.Context, pkt *media.RelayPacket) {
	defer pkt.Release()
	if a.deleted || !a.holds(pkt.From) {
		a.dropNotHolder.Inc()
		return
	}
	plain := pkt.Bytes()
	for i := range a.listeners {
		l := &a.listeners[i]
		if l.user == pkt.From || l.stream == nil {
			continue
		}
		n := copy(a.scratch[:], plain) // Seal rewrites the header in place
		if out, to, ok := l.stream.Seal(a.fanout.Next(), a.scratch[:n]); ok {
			a.fanout.Commit(out, to)
		}
	}
	if a.link != nil {
		if mem := a.members[pkt.From]; mem != nil && mem.node == "" {
			a.link.SendMedia(pkt.From, plain) // once, for every other node's listeners
		}
	}
	a.burstPkts++ // the burst log's count (docs/history.md)
	if a.cfg.Record && a.cfg.History != nil {
		pkt.Retain(1)
		ctx.Send(a.cfg.History, &msg.RecordedPacket{ChannelID: a.spec.ChannelID, Packet: pkt})
	}
	if pkt.Via != nil {
		pkt.Via.Send(&a.fanout)
	}
	a.fanout.Reset()
}

// peerStopped forgets a media peer that ended on its own (e.g. reaped after silence); the
// member stays, signaling-only.
func (a *Actor) peerStopped(pid *actor.PID) {
	for _, mem := range a.members {
		if msg.SamePID(mem.peer.PID, pid) {
			a.log.Info("media peer ended; member stays without media", "user_id", mem.userID, "ufrag", mem.peer.Ufrag)
			mem.peer = msg.Peer{}
			a.rebuildListeners()
			return
		}
	}
}

func (a *Actor) rebuildListeners() {
	ls := make([]listener, 0, len(a.members))
	for _, mem := range a.sortedMembers() {
		if mem.peer.PID != nil && !mem.peer.NoReceive { // a sendonly client gets no audio
			ls = append(ls, listener{user: mem.userID, stream: mem.peer.Stream})
		}
	}
	a.listeners = ls
	if a.link != nil {
		a.link.Listen(len(ls) > 0)
	}
}

// sendOthers sends ev to every member but user.
func (a *Actor) sendOthers(ctx actor.Context, user string, ev any) {
	for id, mem := range a.members {
		if id != user && mem.session != nil { // a member of another node hears it from its node
			ctx.Send(mem.session, ev)
		}
	}
}

// changed tells the directory about the channel object; event is msg.EventUpdate when the
// directory must also broadcast CHANNEL_EVENT update.
func (a *Actor) changed(ctx actor.Context, event string) {
	if a.cfg.Directory != nil {
		ctx.Send(a.cfg.Directory, &msg.ChannelChanged{Info: a.info(), Event: event})
	}
}

func (a *Actor) sortedMembers() []*member {
	ms := make([]*member, 0, len(a.members))
	for _, mem := range a.members {
		ms = append(ms, mem)
	}
	slices.SortFunc(ms, func(x, y *member) int { return cmp.Compare(x.order, y.order) })
	return ms
}

func (a *Actor) memberList() []msg.MemberInfo {
	out := make([]msg.MemberInfo, 0, len(a.members))
	for _, mem := range a.sortedMembers() {
		out = append(out, msg.MemberInfo{UserID: mem.userID, Priority: mem.priority, ListenOnly: mem.listenOnly})
	}
	return out
}

func (a *Actor) queueList() []msg.MemberInfo {
	q := a.floor.Queue()
	out := make([]msg.MemberInfo, 0, len(q))
	for _, e := range q {
		out = append(out, msg.MemberInfo{UserID: e.User, Priority: e.Priority})
	}
	return out
}

func (a *Actor) floorInfo() msg.FloorInfo {
	if !a.owns() {
		if a.mirror.holder == "" {
			return msg.FloorInfo{State: msg.FloorStateIdle}
		}
		user, since := a.mirror.holder, a.mirror.since
		return msg.FloorInfo{State: msg.FloorStateTaken, Holder: &user, Priority: a.mirror.priority, Since: &since}
	}
	user, priority, since, ok := a.floor.Holder()
	if !ok {
		return msg.FloorInfo{State: msg.FloorStateIdle}
	}
	return msg.FloorInfo{State: msg.FloorStateTaken, Holder: &user, Priority: priority, Since: &since}
}

func (a *Actor) info() msg.ChannelInfo {
	return msg.ChannelInfo{
		ChannelID:   a.spec.ChannelID,
		Freq:        a.spec.Freq,
		ChannelName: a.spec.ChannelName,
		Capacity:    a.spec.Capacity,
		MemberCount: len(a.members),
		CreatedAt:   a.cfg.CreatedAt,
		Floor:       a.floorInfo(),
		QueueSize:   a.floor.QueueLen(),
		Creator:     a.cfg.Creator,
	}
}

// denyListenOnly answers a listen-only member's FLOOR_REQUEST with FLOOR_DENY listen_only,
// before the floor state machine (which knows nothing of media) sees it, and reports whether
// it did (docs/floor-control.md).
func (a *Actor) denyListenOnly(ctx actor.Context, call msg.Call) bool {
	mem := a.members[call.UserID]
	if mem == nil || !mem.listenOnly || a.staleSession(call) {
		return false
	}
	a.cfg.Metrics.FloorDenials.WithLabelValues(msg.DenyListenOnly).Inc()
	ctx.Send(call.Session, &msg.FloorDeny{ChannelID: a.spec.ChannelID, Reason: msg.DenyListenOnly})
	return true
}

// CheckName validates a channel_name: at most MaxNameLength code points, not empty.
func CheckName(name string) *msg.Error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return msg.Errorf(msg.CodeMalformed, "channel_name must not be empty")
	case n > MaxNameLength:
		return msg.Errorf(msg.CodeMalformed, "channel_name has %d characters, at most %d allowed", n, MaxNameLength)
	case !utf8.ValidString(name):
		return msg.Errorf(msg.CodeMalformed, "channel_name is not valid UTF-8")
	}
	return nil
}
