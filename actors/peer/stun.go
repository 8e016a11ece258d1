package peer

import "github.com/minilivechat/minilivechat/media"

// handleSTUN answers a connectivity check inline and tells the peer about a new, nominated or
// rebound address; the peer asks the registry to latch it. Every request that fails a check
// is dropped without an answer (an error response would tell a scanner which ufrags exist).
func (m *Media) handleSTUN(d *media.InboundDatagram) {
	r := m.responder(d)
	ufrag, reason := r.Parse(d.Bytes())
	if reason != media.DropNone {
		m.counters.Drop(reason)
		return
	}
	ep, ok := m.byUfrag.Get(string(ufrag))
	if !ok || string(r.ClientUfrag()) != ep.client {
		m.counters.Drop(media.DropSTUNUnknownUser)
		return
	}
	reply, useCandidate, reason := r.Answer(ep.key, d.From)
	if reason != media.DropNone {
		m.counters.Drop(reason)
		return
	}
	now := m.cfg.Clock.Now().UnixNano()
	ep.stats.lastIn.Store(now) // consent freshness (RFC 7675) keeps the peer from being reaped
	cur, latched := m.byAddr.Get(d.From)
	send := ep.stats.sendAddr.Load()
	onSend := send != nil && send.AddrPort() == d.From
	if onSend {
		ep.stats.sendSeen.Store(now)
	}
	if d.Via != nil {
		d.Via.WriteTo(reply, d.From) // the answer goes where the check came from (RFC 8489)
	} else {
		m.sock.SendTo(reply, d.From)
	}
	// NAT rebinding: the client's checks now arrive from a new address while the one media
	// goes to has gone silent; the client does not know and will not nominate again.
	rebind := send != nil && !onSend && now-ep.stats.sendSeen.Load() >= int64(m.cfg.RebindAfter)
	if !latched || cur != ep || send == nil || useCandidate && !onSend || rebind {
		m.system.Root.Send(ep.pid, &stunChecked{from: d.From, useCandidate: useCandidate, rebind: rebind})
	}
}

// responder is the STUN responder of the worker whose reader got d.
func (m *Media) responder(d *media.InboundDatagram) *media.BindingResponder {
	if d.Via == nil {
		return &m.stun[0]
	}
	return &m.stun[d.Via.ID()]
}
