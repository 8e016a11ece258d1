// Package directory holds the directory actor: the one place that knows which channels exist
// (id → channel actor PID, with a cached channel object) and which users are identified
// (user id → session PID). Sessions and the admin API send every request to it; it answers
// what it owns (create, list, users, status) and forwards whatever names a channel to that
// channel's actor with ctx.Forward, so the channel answers the original sender.
//
// Channel actors are its children. The channel objects it caches come from the channels'
// msg.ChannelChanged messages, so CHANNEL_LIST and GET /channels never ask every channel.
//
// The server spawns one directory at start:
//
//	dir, err := system.Root.SpawnNamed(directory.Props(directory.Config{
//		Presets: directory.DefaultPresets(), // or the --channels file
//		Channel: channel.Config{Media: mediaPlane, PingTimeout: …, MaxDuration: …},
//		Clock:   clock.Real(), Metrics: m, Logger: log,
//	}), "directory")
//
// and hands dir to the gateway (sessions) and the admin backend.
package directory

import (
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/channel"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// Config is what the directory needs.
type Config struct {
	// Presets are the channels created at start, without a creator (only the admin API may
	// change or delete them). Invalid presets are logged and skipped; validate them with
	// ValidateSpec first to fail fast.
	Presets []msg.ChannelSpec
	// Channel is the template for every channel actor: timers, queue limit, media. Spec,
	// Creator, CreatedAt and Directory are filled in per channel; a zero Clock, Metrics or
	// Logger is taken from this Config.
	Channel channel.Config

	// Limits of user-created channels (presets do not count), refused with ERROR 2007 and
	// counted in livechat_channel_creates_refused_total{reason}. Zero takes the default,
	// negative disables. A user may hold MaxChannelsPerUser channels, the server
	// MaxUserChannels, and a user may create CreateBurst channels at once, then one every
	// CreateInterval: with delete, creation is the one request whose broadcast reaches
	// every session, so its rate bounds that broadcast.
	MaxChannelsPerUser int
	MaxUserChannels    int
	CreateBurst        int
	CreateInterval     time.Duration

	// History, when set, is told of every user-created channel created, changed or deleted
	// (msg.ChannelSaved, msg.ChannelForgotten), and is every channel's Channel.History.
	History *actor.PID
	// Stored are the user-created channels of the database, spawned at start after the
	// presets with their creator and creation time; one whose id a preset has is skipped
	// (the preset wins, docs/history.md). Recent is each channel's chat from the database
	// (Channel.Recent of its first actor).
	Stored []msg.StoredChannel
	Recent map[string][]msg.MessageEvent
	// Record lists the channel ids whose bursts are recorded (Channel.Record).
	Record []string

	// Cluster, when set, is told of every channel that comes to exist here (Want) and that
	// ends (Drop), so the node contends for the channel's owner lease (docs/cluster.md).
	// Its calls must not block on the network.
	Cluster Leases

	Clock   clock.Clock      // default clock.Real()
	Metrics *metrics.Metrics // default a private metrics.New()
	Logger  *slog.Logger     // default slog.Default()
}

// Leases is the directory's view of the cluster node (actors/cluster.Node).
type Leases interface {
	Want(channelID string)
	Drop(channelID string)
}

// DefaultPresets are the three built-in channels (docs/operations.md §11).
func DefaultPresets() []msg.ChannelSpec {
	return []msg.ChannelSpec{
		{ChannelID: "CH_0001", Freq: "0001", ChannelName: "📢 영업/시연", Capacity: 20},
		{ChannelID: "CH_0002", Freq: "0002", ChannelName: "🤝 스스 파트너스", Capacity: 20},
		{ChannelID: "CH_0003", Freq: "0003", ChannelName: "🏠 동천 패밀리", Capacity: 20},
	}
}

// ValidateSpec checks a CHANNEL_CREATE (or preset) and returns it normalised: capacity 0
// becomes channel.DefaultCapacity and an empty channel_name becomes the channel id. Errors are
// 1004 with a reason.
func ValidateSpec(s msg.ChannelSpec) (msg.ChannelSpec, *msg.Error) {
	if !msg.ValidID(s.ChannelID) {
		return s, msg.Errorf(msg.CodeMalformed, "channel_id %q must match [A-Za-z0-9_-]{1,64}", s.ChannelID)
	}
	switch {
	case s.Capacity == 0:
		s.Capacity = channel.DefaultCapacity
	case s.Capacity < 0:
		return s, msg.Errorf(msg.CodeMalformed, "capacity must be positive, got %d", s.Capacity)
	}
	if strings.TrimSpace(s.ChannelName) == "" {
		s.ChannelName = s.ChannelID
	}
	if err := channel.CheckName(s.ChannelName); err != nil {
		return s, err
	}
	if n := utf8.RuneCountInString(s.Freq); n > channel.MaxFreqLength || !utf8.ValidString(s.Freq) {
		return s, msg.Errorf(msg.CodeMalformed, "freq must be valid UTF-8 of at most %d characters", channel.MaxFreqLength)
	}
	return s, nil
}

// Defaults of the channel limits.
const (
	DefaultMaxChannelsPerUser = 10
	DefaultMaxUserChannels    = 1000
	DefaultCreateBurst        = 10
	DefaultCreateInterval     = 6 * time.Second // 10 a minute, sustained
)

// Reasons of livechat_channel_creates_refused_total.
const (
	RefusedUserCap   = "user_cap"
	RefusedServerCap = "server_cap"
	RefusedRate      = "rate"
)

// createBudget is a user's creation allowance: a token bucket of CreateBurst tokens, one back
// every CreateInterval.
type createBudget struct {
	tokens float64
	last   time.Time
}

// entry is one channel.
type entry struct {
	pid  *actor.PID
	info msg.ChannelInfo // as of the channel's last ChannelChanged
}

// user is one identified session.
type user struct {
	session     *actor.PID
	priority    int
	connectedAt time.Time
	lastSeen    func() time.Time
}

// Actor is the directory actor.
type Actor struct {
	cfg      Config
	log      *slog.Logger
	channels map[string]*entry
	users    map[string]*user
	recent   map[string][]msg.MessageEvent // restored chat not yet handed to its channel
	owned    map[string]int                // user id → user-created channels that exist
	ownedAll int                           // user-created channels that exist
	budgets  map[string]*createBudget      // user id → creation allowance (while not full)
}

// New builds a directory actor.
func New(cfg Config) *Actor {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Channel.Clock == nil {
		cfg.Channel.Clock = cfg.Clock
	}
	if cfg.Channel.Metrics == nil {
		cfg.Channel.Metrics = cfg.Metrics
	}
	if cfg.Channel.Logger == nil {
		cfg.Channel.Logger = cfg.Logger
	}
	if cfg.Channel.History == nil {
		cfg.Channel.History = cfg.History
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&cfg.MaxChannelsPerUser, DefaultMaxChannelsPerUser)
	defInt(&cfg.MaxUserChannels, DefaultMaxUserChannels)
	defInt(&cfg.CreateBurst, DefaultCreateBurst)
	if cfg.CreateInterval == 0 {
		cfg.CreateInterval = DefaultCreateInterval
	}
	return &Actor{cfg: cfg, log: cfg.Logger, channels: map[string]*entry{}, users: map[string]*user{},
		owned: map[string]int{}, budgets: map[string]*createBudget{}, recent: maps.Clone(cfg.Recent)}
}

// Props is how the server spawns the directory.
func Props(cfg Config) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return New(cfg) })
}

// Receive handles one message. Panics are recovered (logged, counted, a request answered 9000)
// and the directory keeps its tables.
func (d *Actor) Receive(ctx actor.Context) {
	defer d.recoverPanic(ctx)
	switch m := ctx.Message().(type) {
	case msg.ChannelRequest:
		id, call := m.Target()
		if e := d.channels[id]; e != nil {
			ctx.Forward(e.pid)
			return
		}
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeNoSuchChannel, "channel %s does not exist", id)))

	case *msg.RegisterSession:
		d.register(ctx, m)
	case *msg.UnregisterSession:
		if u := d.users[m.UserID]; u != nil && msg.SamePID(u.session, m.Session) {
			delete(d.users, m.UserID)
			d.cfg.Metrics.Users.Set(float64(len(d.users)))
			d.forgetBudget(m.UserID)
		}
		msg.Reply(ctx, &msg.Result{})

	case *msg.CreateChannel:
		d.create(ctx, m)
	case *msg.ListChannels:
		msg.Reply(ctx, m.Call.OK(&msg.ChannelList{Channels: d.channelList()}))
	case *msg.GetStatus:
		active := 0
		for _, e := range d.channels {
			if e.info.Floor.State == msg.FloorStateTaken {
				active++
			}
		}
		msg.Reply(ctx, m.Call.OK(&msg.DirectoryStatus{Users: len(d.users), Channels: len(d.channels), FloorActive: active}))
	case *msg.ListUsers:
		msg.Reply(ctx, m.Call.OK(&msg.UserList{Users: d.userList()}))
	case *msg.GetUser:
		if u := d.users[m.UserID]; u != nil {
			ctx.Forward(u.session)
			return
		}
		msg.Reply(ctx, m.Call.Fail(msg.Errorf(msg.CodeNoSuchUser, "user %s is not connected", m.UserID)))
	case *msg.ChannelChanged:
		if e := d.channels[m.Info.ChannelID]; e != nil {
			e.info = m.Info
			if m.Event == msg.EventUpdate {
				info := m.Info
				d.save(ctx, info.Creator, msg.ChannelSpec{ChannelID: info.ChannelID, Freq: info.Freq,
					ChannelName: info.ChannelName, Capacity: info.Capacity}, info.CreatedAt)
				d.broadcast(ctx, &msg.ChannelEvent{ChannelID: info.ChannelID, Event: msg.EventUpdate, Channel: &info})
			}
		}
	case *msg.ChannelDeleted:
		if e := d.channels[m.ChannelID]; e != nil {
			// Only a real delete (or reap) forgets the stored channel: a channel that ends
			// because the server stops stays in the database.
			d.toHistory(ctx, &msg.ChannelForgotten{ChannelID: m.ChannelID})
			d.drop(ctx, m.ChannelID, e)
			// Poison, not Stop: requests already in the channel's mailbox are still answered
			// (with 2000) before it ends.
			ctx.Poison(e.pid)
		}

	case *actor.Started:
		d.startPresets(ctx)
	case *actor.Terminated:
		for id, e := range d.channels {
			if msg.SamePID(e.pid, m.Who) {
				d.log.Warn("channel actor ended without a delete; dropping it", "channel_id", id)
				d.drop(ctx, id, e)
				return
			}
		}
	}
}

func (d *Actor) recoverPanic(ctx actor.Context) {
	r := recover()
	if r == nil {
		return
	}
	d.cfg.Metrics.ActorPanics.WithLabelValues("directory").Inc()
	d.log.Error("directory actor recovered from a panic", "panic", fmt.Sprint(r),
		"message_type", fmt.Sprintf("%T", ctx.Message()), "stack", string(debug.Stack()))
	if call, ok := callOf(ctx.Message()); ok {
		msg.Reply(ctx, call.Fail(msg.Errorf(msg.CodeInternal, "internal error in the directory")))
	}
}

// callOf finds the Call of a request.
func callOf(m any) (msg.Call, bool) {
	switch r := m.(type) {
	case msg.ChannelRequest:
		_, c := r.Target()
		return c, true
	case *msg.CreateChannel:
		return r.Call, true
	case *msg.ListChannels:
		return r.Call, true
	case *msg.GetStatus:
		return r.Call, true
	case *msg.ListUsers:
		return r.Call, true
	case *msg.GetUser:
		return r.Call, true
	}
	return msg.Call{}, false
}

func (d *Actor) register(ctx actor.Context, m *msg.RegisterSession) {
	if old := d.users[m.UserID]; old != nil && !msg.SamePID(old.session, m.Session) {
		d.log.Info("session replaced by a newer IDENTIFY", "user_id", m.UserID)
		ctx.Send(old.session, &msg.Replaced{})
	}
	lastSeen := m.LastSeen
	if lastSeen == nil {
		now := d.cfg.Clock.Now()
		lastSeen = func() time.Time { return now }
	}
	d.users[m.UserID] = &user{session: m.Session, priority: m.Priority, connectedAt: d.cfg.Clock.Now(), lastSeen: lastSeen}
	d.cfg.Metrics.Users.Set(float64(len(d.users)))
	msg.Reply(ctx, &msg.Result{})
}

func (d *Actor) startPresets(ctx actor.Context) {
	for _, p := range d.cfg.Presets {
		spec, err := ValidateSpec(p)
		if err == nil && d.channels[spec.ChannelID] != nil {
			err = msg.Errorf(msg.CodeChannelExists, "preset channel %s listed twice", spec.ChannelID)
		}
		if err != nil {
			d.log.Error("skipping invalid preset channel", "channel_id", p.ChannelID, "err", err)
			continue
		}
		d.spawn(ctx, spec, "", time.Time{})
	}
	for _, st := range d.cfg.Stored {
		spec, err := ValidateSpec(st.Spec)
		if err == nil && d.channels[spec.ChannelID] != nil {
			err = msg.Errorf(msg.CodeChannelExists, "a preset channel has id %s", spec.ChannelID)
		}
		if err != nil || st.Creator == "" {
			d.log.Warn("not restoring a stored channel", "channel_id", st.Spec.ChannelID, "err", err)
			continue
		}
		d.spawn(ctx, spec, st.Creator, st.CreatedAt)
	}
	if len(d.cfg.Stored) > 0 {
		d.log.Info("channels restored from the database", "channels", len(d.cfg.Stored))
	}
	d.recent = nil // a channel created later under the same id starts without chat
}

// save stores a user-created channel (presets come from the configuration, not the database).
func (d *Actor) save(ctx actor.Context, creator string, spec msg.ChannelSpec, createdAt time.Time) {
	if creator != "" {
		d.toHistory(ctx, &msg.ChannelSaved{Channel: msg.StoredChannel{Spec: spec, Creator: creator, CreatedAt: createdAt}})
	}
}

func (d *Actor) toHistory(ctx actor.Context, m any) {
	if d.cfg.History != nil {
		ctx.Send(d.cfg.History, m)
	}
}

func (d *Actor) create(ctx actor.Context, m *msg.CreateChannel) {
	spec, err := ValidateSpec(m.Spec)
	if err != nil {
		msg.Reply(ctx, m.Call.Fail(err))
		return
	}
	if d.channels[spec.ChannelID] != nil {
		msg.Reply(ctx, m.Call.Fail(msg.Errorf(msg.CodeChannelExists, "channel %s already exists", spec.ChannelID)))
		return
	}
	if reason, err := d.limit(m.Call.UserID); err != nil {
		d.cfg.Metrics.ChannelCreatesRefused.WithLabelValues(reason).Inc()
		msg.Reply(ctx, m.Call.Fail(err))
		return
	}
	info := d.spawn(ctx, spec, m.Call.UserID, time.Time{})
	d.save(ctx, m.Call.UserID, spec, info.CreatedAt)
	d.log.Info("channel created", "channel_id", spec.ChannelID, "by", m.Call.UserID)
	reply := info
	msg.Reply(ctx, m.Call.OK(&reply))
	d.broadcast(ctx, &msg.ChannelEvent{ChannelID: spec.ChannelID, Event: msg.EventCreate, Channel: &info})
}

// limit checks a user's CHANNEL_CREATE against the channel limits and, when it passes, takes
// one creation from the user's budget. The admin API creates nothing, so every creator here
// is a token holder.
func (d *Actor) limit(user string) (reason string, err *msg.Error) {
	switch {
	case d.cfg.MaxChannelsPerUser > 0 && d.owned[user] >= d.cfg.MaxChannelsPerUser:
		return RefusedUserCap, msg.Errorf(msg.CodeChannelLimit,
			"channel limit: you have %d channels, at most %d allowed; delete one first", d.owned[user], d.cfg.MaxChannelsPerUser)
	case d.cfg.MaxUserChannels > 0 && d.ownedAll >= d.cfg.MaxUserChannels:
		return RefusedServerCap, msg.Errorf(msg.CodeChannelLimit,
			"channel limit: the server holds its maximum of %d user channels", d.cfg.MaxUserChannels)
	}
	if d.cfg.CreateBurst < 0 || d.cfg.CreateInterval < 0 {
		return "", nil
	}
	now := d.cfg.Clock.Now()
	b := d.budgets[user]
	if b == nil {
		b = &createBudget{tokens: float64(d.cfg.CreateBurst), last: now}
		d.budgets[user] = b
	}
	d.refill(b, now)
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) * float64(d.cfg.CreateInterval)).Round(time.Second)
		return RefusedRate, msg.Errorf(msg.CodeChannelLimit,
			"channel limit: creating channels too fast (one every %v after a burst of %d); retry in %v",
			d.cfg.CreateInterval, d.cfg.CreateBurst, max(wait, time.Second))
	}
	b.tokens--
	return "", nil
}

func (d *Actor) refill(b *createBudget, now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(float64(d.cfg.CreateBurst), b.tokens+float64(el)/float64(d.cfg.CreateInterval))
		b.last = now
	}
}

// forgetBudget drops a disconnected user's creation budget once it is full again (it then
// says nothing a fresh one would not), so the table holds recent creators only.
func (d *Actor) forgetBudget(user string) {
	if b := d.budgets[user]; b != nil {
		d.refill(b, d.cfg.Clock.Now())
		if b.tokens >= float64(d.cfg.CreateBurst) {
			delete(d.budgets, user)
		}
	}
}

// spawn starts a channel actor as a child and records it. A zero createdAt is now.
func (d *Actor) spawn(ctx actor.Context, spec msg.ChannelSpec, creator string, createdAt time.Time) msg.ChannelInfo {
	if createdAt.IsZero() {
		createdAt = d.cfg.Clock.Now()
	}
	cc := d.cfg.Channel
	cc.Spec, cc.Creator, cc.CreatedAt, cc.Directory = spec, creator, createdAt, ctx.Self()
	cc.Recent = d.recent[spec.ChannelID]
	cc.Record = slices.Contains(d.cfg.Record, spec.ChannelID)
	pid := ctx.SpawnPrefix(channel.Props(cc), "channel-"+spec.ChannelID+"-")
	info := msg.ChannelInfo{
		ChannelID: spec.ChannelID, Freq: spec.Freq, ChannelName: spec.ChannelName, Capacity: spec.Capacity,
		CreatedAt: cc.CreatedAt, Floor: msg.FloorInfo{State: msg.FloorStateIdle}, Creator: creator,
	}
	d.channels[spec.ChannelID] = &entry{pid: pid, info: info}
	if d.cfg.Cluster != nil {
		d.cfg.Cluster.Want(spec.ChannelID)
	}
	if creator != "" {
		d.owned[creator]++
		d.ownedAll++
	}
	d.cfg.Metrics.Channels.Set(float64(len(d.channels)))
	return info
}

// drop removes a channel from the table and tells every identified session.
func (d *Actor) drop(ctx actor.Context, id string, e *entry) {
	delete(d.channels, id)
	if d.cfg.Cluster != nil {
		d.cfg.Cluster.Drop(id)
	}
	if c := e.info.Creator; c != "" {
		d.ownedAll--
		if d.owned[c]--; d.owned[c] <= 0 {
			delete(d.owned, c)
		}
	}
	d.cfg.Metrics.Channels.Set(float64(len(d.channels)))
	info := e.info
	info.MemberCount, info.QueueSize = 0, 0
	info.Floor = msg.FloorInfo{State: msg.FloorStateIdle}
	d.broadcast(ctx, &msg.ChannelEvent{ChannelID: id, Event: msg.EventDelete, Channel: &info})
}

// broadcast sends ev to every identified session.
func (d *Actor) broadcast(ctx actor.Context, ev any) {
	for _, u := range d.users {
		ctx.Send(u.session, ev)
	}
}

func (d *Actor) channelList() []msg.ChannelInfo {
	out := make([]msg.ChannelInfo, 0, len(d.channels))
	for _, e := range d.channels {
		out = append(out, e.info)
	}
	slices.SortFunc(out, func(a, b msg.ChannelInfo) int { return strings.Compare(a.ChannelID, b.ChannelID) })
	return out
}

func (d *Actor) userList() []msg.UserInfo {
	now := d.cfg.Clock.Now()
	out := make([]msg.UserInfo, 0, len(d.users))
	for id, u := range d.users {
		out = append(out, msg.UserInfo{
			UserID: id, Priority: u.priority, ConnectedAt: u.connectedAt,
			SinceHeartbeatS: max(0, now.Sub(u.lastSeen()).Seconds()),
		})
	}
	slices.SortFunc(out, func(a, b msg.UserInfo) int { return strings.Compare(a.UserID, b.UserID) })
	return out
}
