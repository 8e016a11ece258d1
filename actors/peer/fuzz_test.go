package peer

import (
	"net/netip"
	"testing"

	"github.com/pion/stun/v3"

	"github.com/minilivechat/minilivechat/media"
)

// FuzzRoute sends arbitrary datagrams from arbitrary loopback ports through the UDP reader's
// route (demux, STUN check, address look-up) of a media plane with one registered peer. None
// of them carries that peer's server pwd, so every one must be dropped and counted once: never
// answered, never latched, never handed to an actor.
func FuzzRoute(f *testing.F) {
	h := newHarness(f, Config{})
	offer := readOffer(f)
	p, err := h.open(f, "A", offer)
	if err != nil {
		f.Fatal(err)
	}
	build := func(setters ...stun.Setter) []byte {
		m, err := stun.Build(setters...)
		if err != nil {
			f.Fatal(err)
		}
		return m.Raw
	}
	pwd := stun.NewShortTermIntegrity(answerPwd(f, p.Answer))
	wrongPwd := stun.NewShortTermIntegrity("not-the-server-password-at-all")
	user := stun.NewUsername(p.Ufrag + ":" + iceUfrag(f, offer))
	f.Add(build(stun.TransactionID, stun.BindingRequest, user, wrongPwd, stun.Fingerprint), uint16(40000))
	f.Add(build(stun.TransactionID, stun.BindingRequest, user, stun.RawAttribute{Type: stun.AttrUseCandidate}, wrongPwd, stun.Fingerprint), uint16(40001))
	f.Add(build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(p.Ufrag+":other"), pwd, stun.Fingerprint), uint16(40002))
	f.Add(build(stun.TransactionID, stun.BindingRequest, user, pwd), uint16(40003)) // no FINGERPRINT
	f.Add([]byte{0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, uint16(40004))
	f.Add([]byte{0x81, 201, 0, 7, 0, 0, 0, 1}, uint16(40005))
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint16(40006))
	f.Add([]byte{}, uint16(1))
	f.Add([]byte{100, 1, 2, 3}, uint16(65535))
	c := h.media.counters
	drops := func() float64 {
		n := 0.0
		for r := media.DropShort; r <= media.DropWriteError; r++ {
			n += media.CounterValue(c.Dropped(r))
		}
		return n
	}
	own := h.media.Host().Port()
	pool := media.NewInboundDatagramPool()
	f.Fuzz(func(t *testing.T, b []byte, port uint16) {
		if port == 0 || port == own || len(b) > media.MaxPacket {
			return // no datagram comes from port 0, the server's own port, or is larger
		}
		// Built from the answer's pwd, a request could still verify: that is the one input
		// that must be answered, and no fuzzer forges an HMAC, so it is skipped, not judged.
		if m := (&stun.Message{Raw: append([]byte(nil), b...)}); m.Decode() == nil && pwd.Check(m) == nil {
			return
		}
		d := pool.Get()
		d.N = copy(d.Buf[:], b)
		d.From = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
		before := drops()
		if h.media.route(d) {
			t.Fatal("an unauthenticated datagram was handed to a peer")
		}
		d.Release()
		if got := drops() - before; got != 1 {
			t.Fatalf("%v drops counted, want exactly 1", got)
		}
		if h.media.byAddr.Len() != 0 {
			t.Fatal("an address was latched")
		}
	})
}
