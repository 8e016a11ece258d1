// Package session holds the session actor: one per identified WebSocket connection. It is the
// connection's voice among the actors. Requests decoded by the gateway arrive as typed
// actors/msg requests and go on to the directory with ctx.Request, so every reply and floor
// event comes back to the session, which hands it to its connection's outbound queue.
//
// The session remembers which channels it has joined (from successful JoinAck / LeaveAck
// results and CHANNEL_EVENT delete) so that, when the connection ends or the user identifies
// again elsewhere, it can leave every one of them — releasing held floors and queue places —
// before it unregisters and stops.
//
// Lifecycle:
//
//	Started ──RegisterSession──▶ live ──Disconnected / Replaced──▶ leaving ──all leave results
//	                                                                 or LeaveTimeout──▶ stopped
package session

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// ownLeaveOp is the op of the leaves a session sends on its own when it ends (their results
// never reach a client). It is negative, so no client request can carry it: the gateway
// forwards client ops only, all positive. The nonce of such a leave is the channel id.
const ownLeaveOp = -12

// DefaultLeaveTimeout bounds how long an ending session waits for its leave results.
const DefaultLeaveTimeout = 2 * time.Second

// Outbound is the connection side of a session, implemented by the gateway. Both methods
// return at once: a connection whose queue is full closes itself rather than block an actor.
type Outbound interface {
	// Deliver queues an event (msg.FloorGranted, *msg.ChannelEvent, …) or a *msg.Result for
	// the client.
	Deliver(v any)
	// Replaced asks the connection to close because the same user identified on another one
	// (the gateway picks the close code and reason, docs/protocol.md).
	Replaced()
}

// Disconnected tells a session that its WebSocket connection has ended.
type Disconnected struct{}

// Sync asks a session to answer with Synced once it has handled everything before it in its
// mailbox: at shutdown the gateway asks every session, so that the events already on their
// way (the FLOOR_REVOKE of a shutdown) are in the connection's queue before it is flushed.
type Sync struct{}

// Synced answers Sync.
type Synced struct{}

// Config is what a session needs; the gateway fills it after a valid IDENTIFY.
type Config struct {
	UserID    string
	Priority  int
	Directory *actor.PID
	Out       Outbound
	// ConnectedAt is when the WebSocket was accepted.
	ConnectedAt time.Time
	// LastSeen reports the time of the connection's last application frame.
	LastSeen func() time.Time
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Ready is handed to Out once the directory has acknowledged the registration, so the
	// client's READY follows registration and precedes every broadcast (nil: nothing).
	Ready any
	// OnStopped, when set, is called once the actor has stopped (after leaving its channels).
	OnStopped func()
	// LeaveTimeout bounds the wait for leave results (DefaultLeaveTimeout when zero).
	LeaveTimeout time.Duration
	Logger       *slog.Logger
	// OnPanic, when set, counts a panic recovered inside the actor (the gateway passes the
	// actor_panics_total{actor="session"} counter).
	OnPanic func()
}

// Props builds the props of a session actor.
func Props(cfg Config) *actor.Props {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LastSeen == nil {
		cfg.LastSeen = cfg.Now
	}
	if cfg.LeaveTimeout <= 0 {
		cfg.LeaveTimeout = DefaultLeaveTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &sessionActor{cfg: cfg, joined: map[string]struct{}{}}
	})
}

type sessionActor struct {
	cfg    Config
	joined map[string]struct{}
	// leaving is set once the session ends; pending holds the channels whose leave result
	// it still waits for.
	leaving bool
	pending map[string]struct{}
	// joining counts CHANNEL_JOINs forwarded but not yet answered: an ending session waits for
	// them, because a join that succeeds after the end must be left again.
	joining    int
	joinOp     int // Call.Op of the joins forwarded (set by the first one)
	registered bool
	stopped    bool
}

// Receive handles one message; see the package comment for the lifecycle. A panic is
// recovered here rather than left to the supervisor: a restart would rebuild the actor empty
// and forget the channels it must leave at the end.
func (s *sessionActor) Receive(ctx actor.Context) {
	defer s.recoverPanic(ctx)
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.Request(s.cfg.Directory, &msg.RegisterSession{
			UserID: s.cfg.UserID, Priority: s.cfg.Priority, Session: ctx.Self(), LastSeen: s.cfg.LastSeen,
		})
	case *actor.Stopping, *actor.Restarting:
	case *actor.Stopped:
		if !s.stopped && s.cfg.OnStopped != nil {
			s.stopped = true
			s.cfg.OnStopped()
		}
	case *actor.ReceiveTimeout:
		if s.leaving {
			s.cfg.Logger.Warn("session leave results missing; stopping anyway",
				"user_id", s.cfg.UserID, "pending", len(s.pending))
			ctx.Stop(ctx.Self())
		}

	case *Sync:
		ctx.Respond(&Synced{})
	case *Disconnected:
		s.leave(ctx)
	case *msg.Replaced:
		s.cfg.Out.Replaced()
		s.leave(ctx)

	case *msg.GetUser:
		ctx.Respond(m.Call.OK(s.detail()))

	case *msg.Result:
		s.result(ctx, m)

	case *msg.CreateChannel, *msg.ListChannels, msg.ChannelRequest:
		if s.leaving {
			return // the connection is closing; its late requests have no one to answer
		}
		if j, ok := m.(*msg.JoinChannel); ok {
			s.joining++
			s.joinOp = j.Call.Op // the gateway's opcode of a join; its results carry it back
		}
		ctx.Request(s.cfg.Directory, m)

	case *msg.ChannelEvent:
		s.channelEvent(m)

	default:
		// Floor and message events, and anything else addressed to the client.
		if !s.leaving {
			s.cfg.Out.Deliver(m)
		}
	}
}

func (s *sessionActor) recoverPanic(ctx actor.Context) {
	r := recover()
	if r == nil {
		return
	}
	if s.cfg.OnPanic != nil {
		s.cfg.OnPanic()
	}
	s.cfg.Logger.Error("session actor recovered from a panic", "user_id", s.cfg.UserID,
		"panic", fmt.Sprint(r), "message_type", fmt.Sprintf("%T", ctx.Message()), "stack", string(debug.Stack()))
}

func (s *sessionActor) channelEvent(ev *msg.ChannelEvent) {
	if ev.Event == msg.EventDelete {
		delete(s.joined, ev.ChannelID)
		if s.pending != nil {
			delete(s.pending, ev.ChannelID)
		}
	}
	if !s.leaving {
		s.cfg.Out.Deliver(ev)
	}
}

// result tracks membership from a request's result and passes it on to the client.
func (s *sessionActor) result(ctx actor.Context, r *msg.Result) {
	// Ownership is told by the op, never by the nonce: a client nonce may be any string.
	own := r.Call.Op == ownLeaveOp
	if !own && s.joining > 0 && r.Call.Op == s.joinOp {
		s.joining--
	}
	if s.leaving {
		if own {
			delete(s.pending, r.Call.Nonce)
		} else if ack := joinAck(r); ack != nil {
			// A join that was in flight when the connection ended: leave it too.
			s.sendLeave(ctx, ack.ChannelID)
		}
		s.maybeStop(ctx)
		return
	}
	if r.Call.Op == 0 {
		// The answer to the session's own RegisterSession, not a client's request.
		if !s.registered {
			s.registered = true
			if s.cfg.Ready != nil {
				s.cfg.Out.Deliver(s.cfg.Ready)
			}
		}
		return
	}
	if r.Err == nil {
		if ack := joinAck(r); ack != nil {
			s.joined[ack.ChannelID] = struct{}{}
		}
		if d, ok := r.Data.(*msg.LeaveAck); ok {
			delete(s.joined, d.ChannelID)
		}
	}
	s.cfg.Out.Deliver(r)
}

// joinAck is the JoinAck of a successful join result, nil for any other result. Channel actors
// answer and send events with pointers only (see actors/channel), so values are not looked for.
func joinAck(r *msg.Result) *msg.JoinAck {
	if r.Err != nil {
		return nil
	}
	d, _ := r.Data.(*msg.JoinAck)
	return d
}

// leave starts the end of the session: leave every joined channel, unregister, and stop once
// every leave has been answered.
func (s *sessionActor) leave(ctx actor.Context) {
	if s.leaving {
		return
	}
	s.leaving = true
	s.pending = make(map[string]struct{}, len(s.joined))
	for ch := range s.joined {
		s.sendLeave(ctx, ch)
	}
	ctx.Send(s.cfg.Directory, &msg.UnregisterSession{UserID: s.cfg.UserID, Session: ctx.Self()})
	ctx.SetReceiveTimeout(s.cfg.LeaveTimeout)
	s.maybeStop(ctx)
}

func (s *sessionActor) sendLeave(ctx actor.Context, ch string) {
	s.pending[ch] = struct{}{}
	delete(s.joined, ch)
	ctx.Request(s.cfg.Directory, &msg.LeaveChannel{
		Call:       msg.Call{Op: ownLeaveOp, Nonce: ch, UserID: s.cfg.UserID, Session: ctx.Self()},
		ChannelID:  ch,
		Disconnect: true,
	})
}

func (s *sessionActor) maybeStop(ctx actor.Context) {
	if len(s.pending) == 0 && s.joining == 0 {
		ctx.CancelReceiveTimeout()
		ctx.Stop(ctx.Self())
	}
}

func (s *sessionActor) detail() *msg.UserDetail {
	chans := make([]string, 0, len(s.joined))
	for ch := range s.joined {
		chans = append(chans, ch)
	}
	sort.Strings(chans)
	return &msg.UserDetail{
		UserInfo: msg.UserInfo{
			UserID:          s.cfg.UserID,
			Priority:        s.cfg.Priority,
			ConnectedAt:     s.cfg.ConnectedAt,
			SinceHeartbeatS: s.cfg.Now().Sub(s.cfg.LastSeen()).Seconds(),
		},
		Channels: chans,
	}
}
