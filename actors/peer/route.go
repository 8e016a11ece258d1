package peer

import "github.com/minilivechat/minilivechat/media"

// route runs on the UDP reader goroutine for every datagram: demux, look-up, hand-off. It
// never blocks and never asks an actor.
func (m *Media) route(d *media.InboundDatagram) bool {
	class, reason := media.Classify(d.Bytes())
	switch class {
	case media.ClassDrop:
		m.counters.Drop(reason)
		return false
	case media.ClassSTUN:
		m.handleSTUN(d)
		return false
	}
	ep, ok := m.byAddr.Get(d.From)
	if !ok {
		m.counters.Drop(media.DropUnknownAddress)
		return false
	}
	now := m.cfg.Clock.Now().UnixNano()
	ep.stats.lastIn.Store(now)
	if to := ep.stats.sendAddr.Load(); to != nil && to.AddrPort() == d.From {
		ep.stats.sendSeen.Store(now)
	}
	d.Class = class
	m.system.Root.Send(ep.pid, d)
	return true
}
