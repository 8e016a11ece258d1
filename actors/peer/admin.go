package peer

import (
	"sort"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// Peers lists every registered peer for GET /admin/peers, sorted by ufrag.
func (m *Media) Peers() []msg.PeerInfo {
	details := m.PeerDetails()
	out := make([]msg.PeerInfo, len(details))
	for i, d := range details {
		out[i] = d.PeerInfo
	}
	return out
}

// PeerDetails lists every registered peer with its tracks, sorted by ufrag.
func (m *Media) PeerDetails() []msg.PeerDetail {
	snap := m.byUfrag.Snapshot()
	out := make([]msg.PeerDetail, 0, len(snap))
	for _, ep := range snap {
		out = append(out, ep.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ufrag < out[j].Ufrag })
	return out
}

// Peer is GET /admin/peers/{ufrag}.
func (m *Media) Peer(ufrag string) (msg.PeerDetail, bool) {
	ep, ok := m.byUfrag.Get(ufrag)
	if !ok {
		return msg.PeerDetail{}, false
	}
	return ep.info(), true
}
