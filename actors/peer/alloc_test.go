package peer

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/pion/srtp/v3"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

// TestRelayAllocatesNothing: a listener's per-packet path — rewrite, SRTP encrypt, queue on
// the UDP writer — allocates nothing once the pools are warm.
func TestRelayAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	h := newHarness(t, Config{})
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	local, err := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	ep := &endpoint{ufrag: "U", userID: "L", track: msg.TrackInfo{SSRCOut: 77}, stats: &stats{}, now: h.media.cfg.Now}
	a := newPeerActor(h.media, ep, &media.Offer{OpusPT: 109}, nil)
	a.srtp = &media.SRTPSession{Local: local}
	a.sendAddr = sink.LocalAddr().(*net.UDPAddr)
	seq := uint16(0)
	buf := make([]byte, 2048)
	sink.SetReadDeadline(time.Now().Add(time.Minute))
	// Steady state is a packet every few milliseconds per listener: each one is written and
	// its buffer back in the pool before the next. Reading it at the sink paces the loop so
	// (a tight loop would outrun the writer and only measure the pool growing).
	relayOne := func() {
		pkt := h.media.pkts.Get()
		pkt.N = 12 + 160
		pkt.Buf[0], pkt.Buf[1] = 0x80, 111
		seq++
		binary.BigEndian.PutUint16(pkt.Buf[2:], seq)
		binary.BigEndian.PutUint32(pkt.Buf[4:], uint32(seq)*960)
		binary.BigEndian.PutUint32(pkt.Buf[8:], 5)
		a.relay(pkt)
		if _, err := sink.Read(buf); err != nil {
			panic(err)
		}
	}
	for range 100 {
		relayOne() // warm the pools
	}
	if n := testing.AllocsPerRun(500, relayOne); n != 0 {
		t.Fatalf("relaying one packet allocates %v times", n)
	}
	if ep.stats.packetsOut.Load() != 601 { // AllocsPerRun runs once more to warm up
		t.Fatalf("%d packets sent, want 601", ep.stats.packetsOut.Load())
	}
}
