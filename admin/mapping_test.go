package admin

import (
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
)

// TestViewsCoverTheMessages: a field added to an actor view that the API serves must be added
// to its answer body (and its mapping), or operators never see it.
func TestViewsCoverTheMessages(t *testing.T) {
	actortest.SameFields(t, [][2]any{
		{msg.FloorInfo{}, FloorInfo{}}, {msg.ChannelInfo{}, ChannelInfo{}}, {msg.ChannelList{}, ChannelList{}},
		{msg.MemberInfo{}, MemberInfo{}}, {msg.ChannelDetail{}, ChannelDetail{}},
		{msg.AdminChannelDetail{}, AdminChannelDetail{}}, {msg.PeerInfo{}, PeerInfo{}}, {msg.TrackInfo{}, TrackInfo{}},
		{msg.PeerDetail{}, PeerDetail{}}, {msg.UserInfo{}, UserInfo{}}, {msg.UserList{}, UserList{}},
		{msg.UserDetail{}, UserDetail{}}, {msg.Burst{}, Burst{}}, {msg.BurstList{}, BurstList{}},
		{msg.RevokeResult{}, RevokeResult{}},
	})
}

// TestMappingCopiesEveryField: a fully set view maps onto an answer body with every field set.
func TestMappingCopiesEveryField(t *testing.T) {
	at, holder, d := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "alice", 1.5
	ch := msg.ChannelInfo{ChannelID: "A", Freq: "1", ChannelName: "n", Capacity: 2, MemberCount: 3, CreatedAt: at,
		Floor: msg.FloorInfo{State: msg.FloorStateTaken, Holder: &holder, Priority: 4, Since: &at}, QueueSize: 5, Creator: "c"}
	member := msg.MemberInfo{UserID: "u", Priority: 6, ListenOnly: true}
	peer := msg.PeerInfo{Ufrag: "f", UserID: "u", ChannelID: "A", Address: "127.0.0.1:1", IdleS: 1, SRTPReady: true,
		ListenOnly: true, PacketsIn: 1, PacketsOut: 2, BytesIn: 3, BytesOut: 4, FractionLost: 0.5, PacketsLost: 5, JitterMs: 6}
	user := msg.UserInfo{UserID: "u", Priority: 7, ConnectedAt: at, SinceHeartbeatS: 8}
	actortest.AllSet(t,
		channelList(&msg.ChannelList{Channels: []msg.ChannelInfo{ch}}),
		adminChannelDetail(&msg.AdminChannelDetail{Peers: []msg.PeerInfo{peer},
			ChannelDetail: msg.ChannelDetail{ChannelInfo: ch, Members: []msg.MemberInfo{member}, Queue: []msg.MemberInfo{member}}}),
		peerList([]msg.PeerInfo{peer}),
		peerDetail(&msg.PeerDetail{PeerInfo: peer, Tracks: []msg.TrackInfo{{Kind: "audio", Mid: "0", PayloadType: 111,
			Direction: "sendrecv", SSRCIn: 1, SSRCOut: 2}}}),
		userList(&msg.UserList{Users: []msg.UserInfo{user}}),
		userDetail(&msg.UserDetail{UserInfo: user, Channels: []string{"A"}}),
		burstList(&msg.BurstList{Bursts: []msg.Burst{{ID: 1, ChannelID: "A", UserID: "u", Priority: 2, Emergency: true,
			GrantedAt: at, EndedAt: &at, EndReason: "release", Packets: 3, DurationS: &d, Recording: "1.ogg"}}}),
		revokeResult(&msg.RevokeResult{ChannelID: "A", RevokedFrom: &holder}),
	)
}
