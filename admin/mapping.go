package admin

import (
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/gateway/channelobj"
)

// Mapping from the actors' views to the answer bodies of views.go, field by field. Slices
// keep nil as nil, so a list the actors left out stays `null` and an empty one `[]`.

func channelList(l *msg.ChannelList) ChannelList { return channelobj.List(*l) }

func channelDetail(d *msg.ChannelDetail) ChannelDetail { return channelobj.Detail(*d) }

func adminChannelDetail(d *msg.AdminChannelDetail) AdminChannelDetail {
	return AdminChannelDetail{ChannelDetail: channelobj.Detail(d.ChannelDetail), Peers: channelobj.Map(d.Peers, peerInfo)}
}

func peerInfo(p msg.PeerInfo) PeerInfo {
	return PeerInfo{Ufrag: p.Ufrag, UserID: p.UserID, ChannelID: p.ChannelID, Address: p.Address,
		IdleS: p.IdleS, SRTPReady: p.SRTPReady, ListenOnly: p.ListenOnly,
		PacketsIn: p.PacketsIn, PacketsOut: p.PacketsOut, BytesIn: p.BytesIn, BytesOut: p.BytesOut,
		FractionLost: p.FractionLost, PacketsLost: p.PacketsLost, JitterMs: p.JitterMs}
}

func peerList(ps []msg.PeerInfo) PeerList {
	return PeerList{Peers: channelobj.Map(ps, peerInfo)}
}

func trackInfo(t msg.TrackInfo) TrackInfo {
	return TrackInfo{Kind: t.Kind, Mid: t.Mid, PayloadType: t.PayloadType, Direction: t.Direction,
		SSRCIn: t.SSRCIn, SSRCOut: t.SSRCOut}
}

func peerDetail(p *msg.PeerDetail) PeerDetail {
	return PeerDetail{PeerInfo: peerInfo(p.PeerInfo), Tracks: channelobj.Map(p.Tracks, trackInfo)}
}

func userInfo(u msg.UserInfo) UserInfo {
	return UserInfo{UserID: u.UserID, Priority: u.Priority, ConnectedAt: u.ConnectedAt,
		SinceHeartbeatS: u.SinceHeartbeatS}
}

func userList(l *msg.UserList) UserList {
	return UserList{Users: channelobj.Map(l.Users, userInfo)}
}

func userDetail(u *msg.UserDetail) UserDetail {
	return UserDetail{UserInfo: userInfo(u.UserInfo), Channels: u.Channels}
}

func burst(b msg.Burst) Burst {
	return Burst{ID: b.ID, ChannelID: b.ChannelID, UserID: b.UserID, Priority: b.Priority,
		Emergency: b.Emergency, GrantedAt: b.GrantedAt, EndedAt: b.EndedAt, EndReason: b.EndReason,
		Packets: b.Packets, DurationS: b.DurationS, Recording: b.Recording}
}

func burstList(l *msg.BurstList) BurstList {
	return BurstList{Bursts: channelobj.Map(l.Bursts, burst)}
}

func revokeResult(r *msg.RevokeResult) RevokeResult {
	return RevokeResult{ChannelID: r.ChannelID, RevokedFrom: r.RevokedFrom}
}
