// Package history holds the history actor: the one owner of the database (store), so that no
// lock guards it. Channels and the directory Send it what happened — a floor grant and its
// end, a chat message, a channel saved or deleted — and never wait for the write; the admin
// API asks it for the burst log with RequestFuture (docs/history.md).
//
// Channels that record also send it each relayed packet of a burst (msg.RecordedPacket); it
// writes them to the burst's Ogg Opus file (recording.go).
//
// A failed write is logged and counted in livechat_history_errors_total{kind}; the call goes
// on, because history must never stop the live channel.
package history

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/history/store"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// DefaultRetention is how long bursts and chat are kept when Config.Retention is zero.
const DefaultRetention = 90 * 24 * time.Hour

// pruneEvery is how often the actor deletes rows past the retention.
const pruneEvery = time.Hour

// Config is what the history actor needs.
type Config struct {
	Store *store.Store // owned by the actor from Started on; closed when it stops
	Dir   string       // the data directory: recordings go to Dir/recordings
	// Retention deletes bursts and chat older than this; zero takes DefaultRetention,
	// negative keeps everything.
	Retention time.Duration
	// MaxRecordingBytes caps the total size of the recordings: after each burst the oldest
	// files go until the rest fit. Zero or negative: no cap.
	MaxRecordingBytes int64
	// URLs signs the recording URLs of HISTORY_LIST answers; nil lists bursts without URLs.
	URLs    *URLSigner
	Clock   clock.Clock      // default clock.Real()
	Metrics *metrics.Metrics // default a private metrics.New()
	Logger  *slog.Logger     // default slog.Default()
}

// pruneTimer is what the retention timer posts.
type pruneTimer struct{}

// Actor is the history actor.
type Actor struct {
	cfg  Config
	log  *slog.Logger
	open map[string]int64 // channel id → row id of its open burst
	rec  map[string]*recorder
	// failing is set after a recording failed (logged once) until one succeeds again.
	failing bool
	tick    clock.Timer
	post    func(any)
}

// New builds a history actor.
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
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	return &Actor{cfg: cfg, log: cfg.Logger.With("component", "history"), open: map[string]int64{}, rec: map[string]*recorder{}}
}

// Props is how the server spawns the history actor.
func Props(cfg Config) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return New(cfg) })
}

// Receive handles one message.
func (a *Actor) Receive(ctx actor.Context) {
	defer a.recoverPanic(ctx)
	st := a.cfg.Store
	switch m := ctx.Message().(type) {
	case *msg.BurstBegan:
		if id, ok := a.open[m.ChannelID]; ok {
			// A grant without the end of the previous one: never expected, keep the log sane.
			a.fail("burst", st.EndBurst(id, msg.BurstEnded{ChannelID: m.ChannelID, Reason: msg.BurstInterrupted, At: m.At}))
			delete(a.open, m.ChannelID)
			a.stopRecording(m.ChannelID)
		}
		id, err := st.BeginBurst(*m)
		if a.fail("burst", err) {
			return
		}
		a.open[m.ChannelID] = id
		a.cfg.Metrics.HistoryBursts.Inc()
		if m.Record {
			a.startRecording(m.ChannelID, id)
		}
	case *msg.RecordedPacket:
		a.record(m)
	case *msg.BurstEnded:
		id, ok := a.open[m.ChannelID]
		if !ok {
			return // its begin failed to be written
		}
		delete(a.open, m.ChannelID)
		recorded := a.rec[m.ChannelID] != nil
		a.stopRecording(m.ChannelID)
		a.fail("burst", st.EndBurst(id, *m))
		if recorded {
			a.capRecordings()
		}
	case *msg.ChatPosted:
		a.fail("chat", st.AddMessage(m.Message))
	case *msg.ChannelSaved:
		a.fail("channel", st.SaveChannel(m.Channel))
	case *msg.ChannelForgotten:
		a.fail("channel", st.ForgetChannel(m.ChannelID))
	case *msg.ListBursts:
		bs, err := st.Bursts(*m)
		if err != nil {
			a.log.Error("listing bursts", "err", err)
			msg.Reply(ctx, m.Call.Fail(msg.Errorf(msg.CodeInternal, "reading the burst log failed")))
			return
		}
		msg.Reply(ctx, m.Call.OK(&msg.BurstList{Bursts: bs}))
	case *msg.ListChannelBursts:
		a.listChannelBursts(ctx, m)
	case *msg.GetRecording:
		path, err := a.recordingPath(m.ID)
		if err != nil {
			msg.Reply(ctx, m.Call.Fail(err))
			return
		}
		msg.Reply(ctx, m.Call.OK(&msg.Recording{Path: path}))
	case *pruneTimer:
		a.prune()
		a.armPrune()

	case *actor.Started:
		sys, self := ctx.ActorSystem(), ctx.Self()
		a.post = func(m any) { sys.Root.Send(self, m) }
		a.prune()
		a.armPrune()
	case *actor.Stopped:
		for ch := range a.rec {
			a.stopRecording(ch)
		}
		if a.tick != nil {
			a.tick.Stop()
		}
		if err := st.Close(); err != nil {
			a.log.Warn("closing the database", "err", err)
		}
	}
}

func (a *Actor) armPrune() {
	if a.cfg.Retention > 0 {
		post := a.post
		a.tick = a.cfg.Clock.AfterFunc(pruneEvery, func() { post(&pruneTimer{}) })
	}
}

func (a *Actor) prune() {
	if a.cfg.Retention <= 0 {
		return
	}
	n, files, err := a.cfg.Store.Prune(a.cfg.Clock.Now().Add(-a.cfg.Retention))
	for _, f := range files {
		if rerr := os.Remove(filepath.Join(a.cfg.Dir, f)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			a.fail("prune", rerr)
		}
	}
	if !a.fail("prune", err) && n > 0 {
		a.log.Info("history pruned", "rows", n, "retention", a.cfg.Retention)
	}
}

// fail logs and counts err; it reports whether there was one.
func (a *Actor) fail(kind string, err error) bool {
	if err == nil {
		return false
	}
	a.cfg.Metrics.HistoryErrors.WithLabelValues(kind).Inc()
	a.log.Error("history write failed", "kind", kind, "err", err)
	return true
}

func (a *Actor) recoverPanic(ctx actor.Context) {
	r := recover()
	if r == nil {
		return
	}
	a.cfg.Metrics.ActorPanics.WithLabelValues("history").Inc()
	a.log.Error("history actor recovered from a panic", "panic", fmt.Sprint(r),
		"message_type", fmt.Sprintf("%T", ctx.Message()), "stack", string(debug.Stack()))
	switch m := ctx.Message().(type) {
	case *msg.ListBursts:
		msg.Reply(ctx, m.Call.Fail(msg.Errorf(msg.CodeInternal, "internal error in the history")))
	case *msg.ListChannelBursts:
		msg.Reply(ctx, m.Call.Fail(msg.Errorf(msg.CodeInternal, "internal error in the history")))
	}
}

// listChannelBursts answers HISTORY_LIST, which the channel actor passed on after checking
// that the asking user is a member: the channel's recent bursts, newest first, each recorded
// one with a URL signed for that user.
func (a *Actor) listChannelBursts(ctx actor.Context, m *msg.ListChannelBursts) {
	limit := m.Limit
	if limit <= 0 {
		limit = msg.DefaultChannelBursts
	}
	limit = min(limit, msg.MaxChannelBursts)
	bs, err := a.cfg.Store.Bursts(msg.ListBursts{ChannelID: m.ChannelID, Limit: limit})
	if err != nil {
		a.log.Error("listing bursts", "err", err, "channel_id", m.ChannelID)
		msg.Reply(ctx, m.Call.Fail(msg.Errorf(msg.CodeInternal, "reading the burst log failed")))
		return
	}
	now := a.cfg.Clock.Now()
	out := &msg.ChannelBurstList{ChannelID: m.ChannelID, Bursts: make([]msg.ChannelBurst, 0, len(bs))}
	for _, b := range bs {
		cb := msg.ChannelBurst{
			ID: b.ID, UserID: b.UserID, Priority: b.Priority, Emergency: b.Emergency,
			GrantedAt: b.GrantedAt, EndedAt: b.EndedAt, EndReason: b.EndReason, DurationS: b.DurationS,
			Packets: b.Packets, HasRecording: b.Recording != "",
		}
		// An open burst's file is still being written: it gets its URL once it has ended.
		if cb.HasRecording && b.EndReason != "" && a.cfg.URLs != nil {
			u, exp := a.cfg.URLs.Sign(b.ID, m.Call.UserID, now)
			cb.RecordingURL, cb.RecordingExpires = u, &exp
		}
		out.Bursts = append(out.Bursts, cb)
	}
	msg.Reply(ctx, m.Call.OK(out))
}
