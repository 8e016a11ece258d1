// Package admintest provides a fake admin.Backend with the seed's example data, for tests of
// the HTTP API and of lcadmin.
package admintest

import (
	"context"
	"sync"
	"time"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/admin"
)

// Fake is an in-memory admin.Backend. Its mutex guards test data only (handlers run on
// several goroutines); the real server keeps its state in actors.
type Fake struct {
	mu       sync.Mutex
	now      time.Time
	status   admin.Status
	users    []msg.UserDetail
	channels []msg.AdminChannelDetail
	peers    []msg.PeerDetail
	block    bool
}

// New returns a Fake holding the seed's example: CH_0001 taken by swift_falcon_4821 for 8 s,
// brave_wolf_1234 queued behind, CH_0002 with one member, CH_0003 empty, two media peers; now is the server's clock.
func New(now time.Time) *Fake {
	created := time.Date(2026, 2, 27, 9, 30, 0, 0, time.UTC)
	since := now.Add(-8 * time.Second)
	swift, brave, calm := "swift_falcon_4821", "brave_wolf_1234", "calm_otter_77"
	p1 := msg.PeerInfo{Ufrag: "abcd1234efgh5678", UserID: swift, ChannelID: "CH_0001",
		Address: "192.168.1.23:50123", IdleS: 0.2, SRTPReady: true,
		PacketsIn: 1520, PacketsOut: 31, BytesIn: 182400, BytesOut: 3720,
		FractionLost: 0, PacketsLost: 0, JitterMs: 1.5}
	p2 := msg.PeerInfo{Ufrag: "wxyz9876mnop5432", UserID: brave, ChannelID: "CH_0001",
		Address: "192.168.1.42:61002", IdleS: 1.4, SRTPReady: true,
		PacketsIn: 12, PacketsOut: 1498, BytesIn: 1440, BytesOut: 179760,
		FractionLost: 0.01, PacketsLost: 3, JitterMs: 4.25}
	ch1 := msg.AdminChannelDetail{
		ChannelDetail: msg.ChannelDetail{
			ChannelInfo: msg.ChannelInfo{ChannelID: "CH_0001", Freq: "0001", ChannelName: "📢 영업/시연",
				Capacity: 20, MemberCount: 2, CreatedAt: created, QueueSize: 1,
				Floor: msg.FloorInfo{State: msg.FloorStateTaken, Holder: &swift, Priority: 100, Since: &since}},
			Members: []msg.MemberInfo{{UserID: swift, Priority: 100}, {UserID: brave, Priority: 100}},
			Queue:   []msg.MemberInfo{{UserID: brave, Priority: 100}},
		},
		Peers: []msg.PeerInfo{p1, p2},
	}
	ch2 := msg.AdminChannelDetail{
		ChannelDetail: msg.ChannelDetail{
			ChannelInfo: msg.ChannelInfo{ChannelID: "CH_0002", Freq: "0002", ChannelName: "🤝 스스 파트너스",
				Capacity: 20, MemberCount: 1, CreatedAt: created,
				Floor: msg.FloorInfo{State: msg.FloorStateIdle}},
			Members: []msg.MemberInfo{{UserID: calm, Priority: 200}},
			Queue:   []msg.MemberInfo{},
		},
		Peers: []msg.PeerInfo{},
	}
	ch3 := msg.AdminChannelDetail{
		ChannelDetail: msg.ChannelDetail{
			ChannelInfo: msg.ChannelInfo{ChannelID: "CH_0003", Freq: "0003", ChannelName: "🏠 동천 패밀리",
				Capacity: 20, CreatedAt: created, Floor: msg.FloorInfo{State: msg.FloorStateIdle}},
			Members: []msg.MemberInfo{},
			Queue:   []msg.MemberInfo{},
		},
		Peers: []msg.PeerInfo{},
	}
	track := func(in, out uint32) []msg.TrackInfo {
		return []msg.TrackInfo{{Kind: "audio", Mid: "0", PayloadType: 111, SSRCIn: in, SSRCOut: out}}
	}
	return &Fake{
		now:    now,
		status: admin.Status{UptimeS: 754, Users: 3, Channels: 3, Peers: 2, FloorActive: 1, Version: "v-test"},
		users: []msg.UserDetail{
			{UserInfo: msg.UserInfo{UserID: swift, Priority: 100, ConnectedAt: now.Add(-5 * time.Minute), SinceHeartbeatS: 2.4},
				Channels: []string{"CH_0001"}},
			{UserInfo: msg.UserInfo{UserID: brave, Priority: 100, ConnectedAt: now.Add(-3 * time.Minute), SinceHeartbeatS: 7.9},
				Channels: []string{"CH_0001"}},
			{UserInfo: msg.UserInfo{UserID: calm, Priority: 200, ConnectedAt: now.Add(-90 * time.Second), SinceHeartbeatS: 0.5},
				Channels: []string{"CH_0002"}},
		},
		channels: []msg.AdminChannelDetail{ch1, ch2, ch3},
		peers: []msg.PeerDetail{
			{PeerInfo: p1, Tracks: track(0x1234abcd, 0x5eed0001)},
			{PeerInfo: p2, Tracks: track(0x0badcafe, 0x5eed0002)},
		},
	}
}

// SetBlocking makes every call wait for its context to end and return its error, like an
// actor that does not answer.
func (f *Fake) SetBlocking(b bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block = b
}

// wait returns ctx.Err() after ctx ends when the fake is blocking.
func (f *Fake) wait(ctx context.Context) error {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if !block {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

// Status implements admin.Backend.
func (f *Fake) Status(ctx context.Context) (*admin.Status, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.status
	return &s, nil
}

// Users implements admin.Backend.
func (f *Fake) Users(ctx context.Context) (*msg.UserList, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := &msg.UserList{Users: []msg.UserInfo{}}
	for _, u := range f.users {
		l.Users = append(l.Users, u.UserInfo)
	}
	return l, nil
}

// User implements admin.Backend.
func (f *Fake) User(ctx context.Context, id string) (*msg.UserDetail, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.UserID == id {
			return &u, nil
		}
	}
	return nil, msg.Errorf(msg.CodeNoSuchUser, "no such user: %s", id)
}

// Channels implements admin.Backend.
func (f *Fake) Channels(ctx context.Context) (*msg.ChannelList, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := &msg.ChannelList{Channels: []msg.ChannelInfo{}}
	for _, c := range f.channels {
		l.Channels = append(l.Channels, c.ChannelInfo)
	}
	return l, nil
}

// Channel implements admin.Backend.
func (f *Fake) Channel(ctx context.Context, id string) (*msg.ChannelDetail, error) {
	c, err := f.AdminChannel(ctx, id)
	if err != nil {
		return nil, err
	}
	return &c.ChannelDetail, nil
}

// AdminChannel implements admin.Backend.
func (f *Fake) AdminChannel(ctx context.Context, id string) (*msg.AdminChannelDetail, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.channels {
		if c.ChannelID == id {
			return &c, nil
		}
	}
	return nil, msg.Errorf(msg.CodeNoSuchChannel, "no such channel: %s", id)
}

// Peers implements admin.Backend.
func (f *Fake) Peers(ctx context.Context) ([]msg.PeerInfo, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := []msg.PeerInfo{}
	for _, p := range f.peers {
		l = append(l, p.PeerInfo)
	}
	return l, nil
}

// Peer implements admin.Backend.
func (f *Fake) Peer(ctx context.Context, ufrag string) (*msg.PeerDetail, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.peers {
		if p.Ufrag == ufrag {
			return &p, nil
		}
	}
	return nil, msg.Errorf(admin.CodeNoSuchPeer, "no such peer: %s", ufrag)
}

// Bursts implements admin.Backend: two bursts of CH_0001, newest first, filtered by channel
// and limit.
func (f *Fake) Bursts(ctx context.Context, q msg.ListBursts) (*msg.BurstList, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g1, g2 := f.now.Add(-time.Minute), f.now.Add(-10*time.Second)
	e1 := g1.Add(4200 * time.Millisecond)
	d1 := 4.2
	all := []msg.Burst{
		{ID: 2, ChannelID: "CH_0001", UserID: "swift_falcon_4821", Priority: 100, GrantedAt: g2},
		{ID: 1, ChannelID: "CH_0001", UserID: "brave_wolf_1234", Priority: 255, Emergency: true, GrantedAt: g1,
			EndedAt: &e1, EndReason: "release", Packets: 210, DurationS: &d1},
	}
	out := []msg.Burst{}
	for _, b := range all {
		if (q.ChannelID == "" || b.ChannelID == q.ChannelID) && !b.GrantedAt.Before(q.Since) && (q.Limit <= 0 || len(out) < q.Limit) {
			out = append(out, b)
		}
	}
	return &msg.BurstList{Bursts: out}, nil
}

// Recording implements admin.Backend: no burst of the fake has a recording.
func (f *Fake) Recording(ctx context.Context, id int64) (string, error) {
	if err := f.wait(ctx); err != nil {
		return "", err
	}
	return "", msg.Errorf(msg.CodeNoSuchRecording, "burst %d has no recording", id)
}

// RevokeFloor implements admin.Backend: the floor goes idle and the queue is cleared.
func (f *Fake) RevokeFloor(ctx context.Context, id string) (*msg.RevokeResult, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.channels {
		c := &f.channels[i]
		if c.ChannelID != id {
			continue
		}
		res := &msg.RevokeResult{ChannelID: id, RevokedFrom: c.Floor.Holder}
		if c.Floor.Holder != nil {
			f.status.FloorActive--
		}
		c.Floor = msg.FloorInfo{State: msg.FloorStateIdle}
		c.Queue = []msg.MemberInfo{}
		c.QueueSize = 0
		return res, nil
	}
	return nil, msg.Errorf(msg.CodeNoSuchChannel, "no such channel: %s", id)
}

var _ admin.Backend = (*Fake)(nil)
