package channel

import (
	"slices"
	"testing"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

// TestListenOnlyMember: a member whose offer does not send (recvonly) is listed as
// listen-only, hears the holder, and is denied the floor with listen_only (counted) without
// the floor or anyone else noticing. A sendonly member talks but is never sent audio.
func TestListenOnlyMember(t *testing.T) {
	f := newFixture(t)
	f.joinMedia("a")
	ack := actortest.OK(t, f.do(&msg.JoinChannel{Call: call(11, "mon"), ChannelID: "CH", Priority: 100, Offer: offer("recvonly")})).(*msg.JoinAck)
	want := []msg.MemberInfo{{UserID: "a", Priority: 100}, {UserID: "mon", Priority: 100, ListenOnly: true}}
	if !slices.Equal(ack.ActiveMembers, want) {
		t.Fatalf("active members %+v, want %+v", ack.ActiveMembers, want)
	}
	actortest.OK(t, f.do(&msg.JoinChannel{Call: call(11, "tx"), ChannelID: "CH", Priority: 100, Offer: offer("sendonly")}))
	detail := actortest.OK(t, f.do(&msg.GetChannel{Call: adminCall(15), ChannelID: "CH"})).(*msg.AdminChannelDetail)
	if !detail.Members[1].ListenOnly || detail.Members[0].ListenOnly || detail.Members[2].ListenOnly {
		t.Fatalf("admin members %+v", detail.Members)
	}

	recs := f.do(&msg.RequestFloor{Call: call(30, "mon"), ChannelID: "CH"})
	wantSends(t, recs, "mon: DENY listen_only")
	if len(toDirectory(recs)) != 0 || f.a.floor.QueueLen() != 0 {
		t.Fatalf("a listen-only request changed the floor: %s", render(recs))
	}
	if got := value(t, f.met.FloorDenials.WithLabelValues(msg.DenyListenOnly)); got != 1 {
		t.Fatalf("listen_only denials %v", got)
	}

	// The sendonly member may talk; a and mon hear it, it hears nobody.
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "tx"), ChannelID: "CH"}), "a: TAKEN tx 100", "mon: TAKEN tx 100", "tx: GRANTED 100 30000")
	pool := media.NewRelayPacketPool()
	sealed := func() (n [3]int64) {
		for i, u := range []string{"a", "mon", "tx"} {
			n[i] = f.media.streams[u].sealed.Load()
		}
		return n
	}
	f.ctx.Deliver(f.a, packet(pool, "tx"), nil)
	if got := sealed(); got != [3]int64{1, 1, 0} {
		t.Fatalf("tx's audio sealed into a, mon, tx: %v, want 1 1 0", got)
	}
	wantSends(t, f.do(&msg.ReleaseFloor{Call: call(31, "tx"), ChannelID: "CH"}), "a: IDLE", "mon: IDLE", "tx: IDLE")
	wantSends(t, f.do(&msg.RequestFloor{Call: call(30, "a"), ChannelID: "CH"}), "a: GRANTED 100 30000", "mon: TAKEN a 100", "tx: TAKEN a 100")
	f.ctx.Deliver(f.a, packet(pool, "a"), nil)
	if got := sealed(); got != [3]int64{1, 2, 0} {
		t.Fatalf("a's audio sealed into a, mon, tx: %v, want only mon (tx offered sendonly)", got)
	}
}
