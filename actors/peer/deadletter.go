package peer

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/media"
)

// deadLetter returns pooled media buffers that reached an actor that had just stopped (the
// reader's snapshot still named it, or its channel was gone) to their pools and counts them.
// The server's log shows a dead letter's type only, never its content (cmd/lcserver/server).
func (m *Media) deadLetter(ev any) {
	dl, ok := ev.(*actor.DeadLetterEvent)
	if !ok {
		return
	}
	switch b := dl.Message.(type) {
	case *media.InboundDatagram:
		b.Release()
		m.counters.Drop(media.DropDeadLetter)
	case *media.RelayPacket:
		b.Release()
		m.counters.Drop(media.DropDeadLetter)
	}
}
