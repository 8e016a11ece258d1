package media

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// hotListener is one listener's per-packet state, as its peer actor holds it.
type hotListener struct {
	rw      Rewriter
	local   *srtp.Context
	hdr     rtp.Header
	scratch [MaxPacket]byte
	to      netip.AddrPort
}

func newContexts(b *testing.B) (talkerLocal, serverRemote *srtp.Context) {
	key, salt := make([]byte, 16), make([]byte, 12)
	var err error
	if talkerLocal, err = srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm); err != nil {
		b.Fatal(err)
	}
	if serverRemote, err = srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm,
		srtp.SRTPReplayProtection(ReplayWindow)); err != nil {
		b.Fatal(err)
	}
	return talkerLocal, serverRemote
}

// benchmarkRelay measures the server's CPU per talker packet, up to the UDP writer queue:
// demux, address look-up, SRTP decrypt with replay check, floor gate, and for each of n
// listeners rewrite + SRTP encrypt into a pooled outbound buffer (sendmmsg is measured
// separately: docs/performance.md, "Reference figures").
func benchmarkRelay(b *testing.B, n int) {
	talker, remote := newContexts(b)
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	var byAddr CopyOnWriteMap[netip.AddrPort, int]
	byAddr.Put(from, 1)
	listeners := make([]*hotListener, n)
	for i := range listeners {
		l, _ := newContexts(b)
		listeners[i] = &hotListener{rw: Rewriter{SSRC: uint32(1000 + i), PT: 109}, local: l,
			to: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(50000+i))}
	}
	pkts, dgs := NewRelayPacketPool(), NewInboundDatagramPool()
	var fan Fanout
	plain := make([]byte, 12+160)
	plain[0], plain[1] = 0x80, 111
	var thdr, rhdr rtp.Header
	enc := make([]byte, 0, MaxPacket)
	now := time.Now()
	const holder = "alice"
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// The talker's client encrypts (not server cost, but needed for fresh sequence numbers).
		b.StopTimer()
		seq := uint16(i)
		plain[2], plain[3] = byte(seq>>8), byte(seq)
		plain[8], plain[9], plain[10], plain[11] = 0, 0, 0x30, 0x39
		e, err := talker.EncryptRTP(enc[:0], plain, &thdr)
		if err != nil {
			b.Fatal(err)
		}
		d := dgs.Get()
		d.N, d.From = copy(d.Buf[:], e), from
		b.StartTimer()

		if c, _ := Classify(d.Bytes()); c != ClassRTP {
			b.Fatal("demux")
		}
		if _, ok := byAddr.Get(d.From); !ok {
			b.Fatal("lookup")
		}
		p := pkts.Get()
		out, err := remote.DecryptRTP(p.Buf[:0], d.Bytes(), &rhdr)
		if err != nil {
			b.Fatal(err)
		}
		p.N, p.From = len(out), holder
		d.Release()
		if p.From != holder { // the channel's gate
			b.Fatal("gate")
		}
		for _, l := range listeners {
			m := copy(l.scratch[:], p.Bytes())
			if !l.rw.Rewrite(l.scratch[:m], now) {
				b.Fatal("rewrite")
			}
			ct, err := l.local.EncryptRTP(fan.Next(), l.scratch[:m], &l.hdr)
			if err != nil {
				b.Fatal(err)
			}
			fan.Commit(ct, l.to)
		}
		fan.Reset() // Worker.Send's sendmmsg is measured separately
		p.Release()
	}
}

func BenchmarkRelayOneListener(b *testing.B) { benchmarkRelay(b, 1) }
func BenchmarkRelayFanout20(b *testing.B)    { benchmarkRelay(b, 20) }

func BenchmarkClassifyAndLookup(b *testing.B) {
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	var byAddr CopyOnWriteMap[netip.AddrPort, int]
	for i := range 1000 {
		byAddr.Put(netip.AddrPortFrom(from.Addr(), uint16(i)), i)
	}
	byAddr.Put(from, 1)
	pkt := make([]byte, 172)
	pkt[0], pkt[1] = 0x80, 111
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		Classify(pkt)
		byAddr.Get(from)
	}
}
