package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/media"
)

// defaultAskTimeout bounds an admin question whose context has no deadline.
const defaultAskTimeout = 2 * time.Second

// backend implements admin.Backend by asking the directory with RequestFuture and a timeout
// taken from the request's context. It runs on HTTP handler goroutines, never inside an actor,
// so waiting on the future blocks no mailbox.
type backend struct{ s *Server }

var _ admin.Backend = (*backend)(nil)

// ask sends req to the directory and returns the Result's data, or its error as *msg.Error.
func (b *backend) ask(ctx context.Context, req any) (any, error) {
	return b.askActor(ctx, b.s.directory, req)
}

// askActor sends req to pid (the directory or the history actor), answered with *msg.Result.
func (b *backend) askActor(ctx context.Context, pid *actor.PID, req any) (any, error) {
	timeout := defaultAskTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 || ctx.Err() != nil {
		return nil, msg.Errorf(msg.CodeUnavailable, "no time left to ask the server")
	}
	res, err := b.s.system.Root.RequestFuture(pid, req, timeout).Result()
	if err != nil {
		if errors.Is(err, actor.ErrTimeout) {
			return nil, msg.Errorf(msg.CodeUnavailable, "the server did not answer within %v", timeout.Round(time.Millisecond))
		}
		return nil, fmt.Errorf("ask directory %T: %w", req, err)
	}
	// The directory, the channels and the sessions all answer with *msg.Result.
	r, ok := res.(*msg.Result)
	if !ok {
		return nil, fmt.Errorf("ask directory %T: answer %T is not a *msg.Result", req, res)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return r.Data, nil
}

// as converts an answer's data to *T, accepting a pointer or a value.
func as[T any](v any, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	switch d := v.(type) {
	case *T:
		if d != nil {
			return d, nil
		}
	case T:
		return &d, nil
	}
	var zero T
	return nil, fmt.Errorf("server answered %T, want %T", v, zero)
}

var adminCall = msg.Call{Admin: true}

func (b *backend) Status(ctx context.Context) (*admin.Status, error) {
	st, err := as[msg.DirectoryStatus](b.ask(ctx, &msg.GetStatus{Call: adminCall}))
	if err != nil {
		return nil, err
	}
	return &admin.Status{
		UptimeS: b.s.cfg.Clock.Now().Sub(b.s.started).Seconds(), Users: st.Users, Channels: st.Channels,
		Peers: len(b.peers()), FloorActive: st.FloorActive, Version: b.s.cfg.Version,
		Recording: b.recordingStatus(), Cluster: b.s.clusterStatus(),
	}, nil
}

func (b *backend) recordingStatus() *admin.RecordingStatus {
	if b.s.history == nil || len(b.s.cfg.RecordChannels) == 0 {
		return nil
	}
	m := b.s.m
	return &admin.RecordingStatus{
		Channels: b.s.cfg.RecordChannels,
		Packets:  uint64(media.CounterValue(m.RecordingPackets)),
		Errors:   uint64(media.CounterValue(m.HistoryErrors.WithLabelValues("recording"))),
	}
}

func (b *backend) Users(ctx context.Context) (*msg.UserList, error) {
	return as[msg.UserList](b.ask(ctx, &msg.ListUsers{Call: adminCall}))
}

func (b *backend) User(ctx context.Context, userID string) (*msg.UserDetail, error) {
	return as[msg.UserDetail](b.ask(ctx, &msg.GetUser{Call: adminCall, UserID: userID}))
}

func (b *backend) Channels(ctx context.Context) (*msg.ChannelList, error) {
	return as[msg.ChannelList](b.ask(ctx, &msg.ListChannels{Call: adminCall}))
}

func (b *backend) Channel(ctx context.Context, channelID string) (*msg.ChannelDetail, error) {
	return as[msg.ChannelDetail](b.ask(ctx, &msg.GetChannel{ChannelID: channelID}))
}

func (b *backend) AdminChannel(ctx context.Context, channelID string) (*msg.AdminChannelDetail, error) {
	return as[msg.AdminChannelDetail](b.ask(ctx, &msg.GetChannel{Call: adminCall, ChannelID: channelID}))
}

// peers lists the media peers of a Config.Media that can list them (the server's own media
// plane, actors/peer, can); any other media plane reports none.
func (b *backend) peers() []msg.PeerInfo {
	if pl, ok := b.s.cfg.Media.(PeerLister); ok {
		return pl.Peers()
	}
	return []msg.PeerInfo{}
}

func (b *backend) Peers(context.Context) ([]msg.PeerInfo, error) {
	return b.peers(), nil
}

func (b *backend) Peer(_ context.Context, ufrag string) (*msg.PeerDetail, error) {
	if pl, ok := b.s.cfg.Media.(PeerLister); ok {
		if d, found := pl.Peer(ufrag); found {
			return &d, nil
		}
	}
	return nil, msg.Errorf(admin.CodeNoSuchPeer, "no media peer with ufrag %s", ufrag)
}

func (b *backend) Bursts(ctx context.Context, q msg.ListBursts) (*msg.BurstList, error) {
	if b.s.history == nil {
		return nil, msg.Errorf(msg.CodeNoHistory, "this server keeps no history (start it with --data-dir)")
	}
	q.Call = adminCall
	return as[msg.BurstList](b.askActor(ctx, b.s.history, &q))
}

func (b *backend) Recording(ctx context.Context, id int64) (string, error) {
	if b.s.history == nil {
		return "", msg.Errorf(msg.CodeNoHistory, "this server keeps no history (start it with --data-dir)")
	}
	r, err := as[msg.Recording](b.askActor(ctx, b.s.history, &msg.GetRecording{Call: adminCall, ID: id}))
	if err != nil {
		return "", err
	}
	return r.Path, nil
}

func (b *backend) RevokeFloor(ctx context.Context, channelID string) (*msg.RevokeResult, error) {
	return as[msg.RevokeResult](b.ask(ctx, &msg.RevokeFloor{Call: adminCall, ChannelID: channelID}))
}

// PeerLister is implemented by a Config.Media that can list its peers for the admin API
// (GET /admin/peers, /admin/status). Both methods must be safe from any goroutine.
type PeerLister interface {
	Peers() []msg.PeerInfo
	Peer(ufrag string) (msg.PeerDetail, bool)
}
