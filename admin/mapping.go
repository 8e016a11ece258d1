package admin

import "github.com/minilivechat/minilivechat/actors/msg"

// Mapping from the actors' views to the answer bodies of views.go, field by field. Slices
// keep nil as nil, so a list the actors left out stays `null` and an empty one `[]`.

func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func floorInfo(f msg.FloorInfo) FloorInfo {
	return FloorInfo{State: f.State, Holder: f.Holder, Priority: f.Priority, Since: f.Since}
}

func channelInfo(c msg.ChannelInfo) ChannelInfo {
	return ChannelInfo{ChannelID: c.ChannelID, Freq: c.Freq, ChannelName: c.ChannelName,
		Capacity: c.Capacity, MemberCount: c.MemberCount, CreatedAt: c.CreatedAt,
		Floor: floorInfo(c.Floor), QueueSize: c.QueueSize, Creator: c.Creator}
}

func channelList(l *msg.ChannelList) ChannelList {
	return ChannelList{Channels: mapSlice(l.Channels, channelInfo)}
}

func memberInfo(m msg.MemberInfo) MemberInfo {
	return MemberInfo{UserID: m.UserID, Priority: m.Priority, ListenOnly: m.ListenOnly}
}

func channelDetail(d *msg.ChannelDetail) ChannelDetail {
	return ChannelDetail{ChannelInfo: channelInfo(d.ChannelInfo),
		Members: mapSlice(d.Members, memberInfo), Queue: mapSlice(d.Queue, memberInfo)}
}

func adminChannelDetail(d *msg.AdminChannelDetail) AdminChannelDetail {
	return AdminChannelDetail{ChannelDetail: channelDetail(&d.ChannelDetail), Peers: mapSlice(d.Peers, peerInfo)}
}

func peerInfo(p msg.PeerInfo) PeerInfo {
	return PeerInfo{Ufrag: p.Ufrag, UserID: p.UserID, ChannelID: p.ChannelID, Address: p.Address,
		IdleS: p.IdleS, SRTPReady: p.SRTPReady, ListenOnly: p.ListenOnly,
		PacketsIn: p.PacketsIn, PacketsOut: p.PacketsOut, BytesIn: p.BytesIn, BytesOut: p.BytesOut,
		FractionLost: p.FractionLost, PacketsLost: p.PacketsLost, JitterMs: p.JitterMs}
}

func peerList(ps []msg.PeerInfo) PeerList {
	return PeerList{Peers: mapSlice(ps, peerInfo)}
}

func trackInfo(t msg.TrackInfo) TrackInfo {
	return TrackInfo{Kind: t.Kind, Mid: t.Mid, PayloadType: t.PayloadType, Direction: t.Direction,
		SSRCIn: t.SSRCIn, SSRCOut: t.SSRCOut}
}

func peerDetail(p *msg.PeerDetail) PeerDetail {
	return PeerDetail{PeerInfo: peerInfo(p.PeerInfo), Tracks: mapSlice(p.Tracks, trackInfo)}
}

func userInfo(u msg.UserInfo) UserInfo {
	return UserInfo{UserID: u.UserID, Priority: u.Priority, ConnectedAt: u.ConnectedAt,
		SinceHeartbeatS: u.SinceHeartbeatS}
}

func userList(l *msg.UserList) UserList {
	return UserList{Users: mapSlice(l.Users, userInfo)}
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
	return BurstList{Bursts: mapSlice(l.Bursts, burst)}
}

func revokeResult(r *msg.RevokeResult) RevokeResult {
	return RevokeResult{ChannelID: r.ChannelID, RevokedFrom: r.RevokedFrom}
}
