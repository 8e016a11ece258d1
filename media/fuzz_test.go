package media

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v3"
)

// Fuzz targets of the media plane's bad-input surface. Plain `go test` runs their seeds (and
// any crasher kept under testdata/fuzz); `go test -fuzz FuzzX ./media/` explores further.

const fuzzUfrag, fuzzPwd = "AAAABBBBCCCCDDDD", "server-password-0123456789"

// FuzzClassifyAndBinding: any datagram is classified without panicking, in agreement with
// its first byte, and the STUN responder answers only a request whose MESSAGE-INTEGRITY
// (with the server pwd) and FINGERPRINT verify independently.
func FuzzClassifyAndBinding(f *testing.F) {
	build := func(setters ...stun.Setter) []byte {
		m, err := stun.Build(setters...)
		if err != nil {
			f.Fatal(err)
		}
		return m.Raw
	}
	key := stun.NewShortTermIntegrity(fuzzPwd)
	user := stun.NewUsername(fuzzUfrag + ":cli")
	f.Add(build(stun.TransactionID, stun.BindingRequest, user, key, stun.Fingerprint))
	f.Add(build(stun.TransactionID, stun.BindingRequest, user, stun.RawAttribute{Type: stun.AttrUseCandidate}, key, stun.Fingerprint))
	f.Add(build(stun.TransactionID, stun.BindingRequest, user, stun.NewShortTermIntegrity("wrong-password-0123456789"), stun.Fingerprint))
	f.Add(build(stun.TransactionID, stun.BindingRequest, user, key))
	f.Add(build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint))
	f.Add([]byte{0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{0x81, 201, 0, 7, 0, 0, 0, 1})
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	var r BindingResponder // reused across inputs, as on the UDP reader
	f.Fuzz(func(t *testing.T, b []byte) {
		class, reason := Classify(b)
		switch {
		case class == ClassDrop && reason == DropNone, class != ClassDrop && reason != DropNone:
			t.Fatalf("class %v with reason %v", class, reason)
		case class == ClassSTUN && b[0] > 3, class == ClassDTLS && (b[0] < 20 || b[0] > 63),
			(class == ClassRTP || class == ClassRTCP) && (b[0] < 128 || b[0] > 191),
			class == ClassRTCP && (b[1] < 192 || b[1] > 223):
			t.Fatalf("class %v for first bytes % x", class, b[:min(len(b), 2)])
		}
		if class != ClassSTUN {
			return
		}
		orig := append([]byte(nil), b...)
		if _, reason := r.Parse(b); reason != DropNone {
			return
		}
		reply, _, reason := r.Answer(key, from)
		if string(b) != string(orig) {
			t.Fatal("the responder modified the datagram")
		}
		if reply == nil {
			return
		}
		if reason != DropNone {
			t.Fatalf("reply with reason %v", reason)
		}
		req := &stun.Message{Raw: append([]byte(nil), b...)}
		if err := req.Decode(); err != nil || key.Check(req) != nil || stun.Fingerprint.Check(req) != nil {
			t.Fatalf("answered a request that does not verify (decode %v)", err)
		}
		resp := &stun.Message{Raw: append([]byte(nil), reply...)}
		if err := resp.Decode(); err != nil || key.Check(resp) != nil || stun.Fingerprint.Check(resp) != nil || resp.TransactionID != req.TransactionID {
			t.Fatalf("reply does not verify (decode %v)", err)
		}
	})
}

// FuzzParseOffer: any string is either refused with 2006 and a reason, or accepted; an
// accepted offer always gets an answer that parses back and keeps the offer's m-lines.
func FuzzParseOffer(f *testing.F) {
	for _, dir := range []string{sdpDir, filepath.Join(sdpDir, "bad")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sdp"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(b))
		}
	}
	f.Add("")
	f.Add("v=0\r\n")
	cert, err := NewCertificate()
	if err != nil {
		f.Fatal(err)
	}
	p := AnswerParams{Ufrag: fuzzUfrag, Pwd: fuzzPwd, Fingerprint: cert.Fingerprint,
		Host: netip.MustParseAddrPort("127.0.0.1:10000"), SSRC: 424242, CName: "c", StreamID: "s", TrackID: "t"}
	f.Fuzz(func(t *testing.T, offer string) {
		o, perr := ParseOffer(offer)
		if perr != nil {
			if o != nil || !strings.HasPrefix(perr.Reason, "bad SDP offer: ") {
				t.Fatalf("refusal %v with offer %v", perr, o)
			}
			return
		}
		if o.OpusPT > 127 || len(o.Fingerprint) == 0 || o.ICEUfrag == "" {
			t.Fatalf("accepted offer %+v", o)
		}
		answer, err := BuildAnswer(o, p)
		if err != nil {
			t.Fatalf("accepted offer got no answer: %v", err)
		}
		sd := &sdp.SessionDescription{}
		if err := sd.UnmarshalString(answer); err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, answer)
		}
		if len(sd.MediaDescriptions) != len(o.sd.MediaDescriptions) {
			t.Fatalf("answer has %d m-lines, offer %d", len(sd.MediaDescriptions), len(o.sd.MediaDescriptions))
		}
		if _, ok := sd.Attribute("ice-lite"); !ok {
			t.Fatal("answer without a=ice-lite")
		}
	})
}

// FuzzRewriter feeds arbitrary packet sequences (as the talker's SRTP layer would pass them:
// no exact repeats) to one listener's rewriter. The output keeps the listener's SSRC and
// payload type, never reuses a sequence number (an SRTP index used twice would repeat a
// keystream), leaves payloads alone and refused packets untouched.
func FuzzRewriter(f *testing.F) {
	rec := func(src byte, seq uint16, ts uint32, dtMs uint16) []byte {
		b := []byte{src, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(b[1:], seq)
		binary.BigEndian.PutUint32(b[3:], ts)
		binary.BigEndian.PutUint16(b[7:], dtMs)
		return b
	}
	cat := func(rs ...[]byte) []byte {
		return []byte(strings.Join(func() []string {
			var s []string
			for _, r := range rs {
				s = append(s, string(r))
			}
			return s
		}(), ""))
	}
	f.Add(cat(rec(0, 100, 5000, 0), rec(0, 101, 5960, 20), rec(1, 40000, 1, 500), rec(1, 40001, 961, 20)))
	f.Add(cat(rec(0, 65535, 0xFFFFFFF0, 0), rec(0, 0, 0x330, 20), rec(0, 40000, 7, 3000), rec(0, 39999, 7, 1)))
	f.Add(cat(rec(0, 10, 0, 0), rec(0, 12, 1920, 40), rec(0, 11, 960, 1), rec(1, 5, 5, 0), rec(0, 13, 2880, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Rewriter{SSRC: 0x1234, PT: 109}
		now := time.Unix(1_700_000_000, 0)
		seen := map[uint64]bool{} // (source, input seq) pairs already fed
		used := map[uint64]bool{} // extended output sequence numbers emitted
		var ext uint64 = 1 << 40  // extended output sequence, tracked from the 16-bit output
		started := false
		for ; len(data) >= 9; data = data[9:] {
			ssrc := uint32(data[0] % 4)
			seq := binary.BigEndian.Uint16(data[1:])
			ts := binary.BigEndian.Uint32(data[3:])
			now = now.Add(time.Duration(binary.BigEndian.Uint16(data[7:])) * time.Millisecond)
			if k := uint64(ssrc)<<16 | uint64(seq); seen[k] {
				continue
			} else {
				seen[k] = true
			}
			b := make([]byte, 12+4)
			b[0], b[1] = 0x80, 111
			binary.BigEndian.PutUint16(b[2:], seq)
			binary.BigEndian.PutUint32(b[4:], ts)
			binary.BigEndian.PutUint32(b[8:], ssrc)
			copy(b[12:], "opus")
			orig := append([]byte(nil), b...)
			if !r.Rewrite(b, now) {
				if string(b) != string(orig) {
					t.Fatal("refused packet modified")
				}
				continue
			}
			if binary.BigEndian.Uint32(b[8:]) != 0x1234 || b[1]&0x7f != 109 || string(b[12:]) != "opus" || b[0] != 0x80 {
				t.Fatalf("header/payload % x", b)
			}
			out := binary.BigEndian.Uint16(b[2:])
			if !started {
				ext, started = ext&^0xFFFF|uint64(out), true
			} else {
				e := ext + uint64(int64(int16(out-uint16(ext))))
				if int64(e-ext) > 0 {
					ext = e
				}
				if used[e] {
					t.Fatalf("output sequence %d used twice", out)
				}
				used[e] = true
				continue
			}
			used[ext] = true
		}
	})
}

// FuzzRTCP: arbitrary bytes through the SRTCP decryption and the reception-report reader
// never panic; a report about the stream is found whatever else the compound packet holds.
func FuzzRTCP(f *testing.F) {
	key, salt := make([]byte, 16), make([]byte, 12)
	remote, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm, srtp.SRTCPReplayProtection(ReplayWindow))
	if err != nil {
		f.Fatal(err)
	}
	rr, _ := (&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 42, FractionLost: 64, TotalLost: 0xFFFFFF, Jitter: 480}}}).Marshal()
	sr, _ := (&rtcp.SenderReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 42}}}).Marshal()
	f.Add(rr)
	f.Add(sr)
	f.Add(append(append([]byte(nil), sr...), rr...))
	f.Add([]byte{0x81, 201, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var scratch [MaxPacket + 64]byte
		if len(b) <= MaxPacket {
			_, _ = remote.DecryptRTCP(scratch[:0], b, nil)
		}
		if rs, ok := ReadReceptionReport(b, 42, 48000); ok {
			if rs.FractionLost < 0 || rs.FractionLost >= 1 || rs.JitterMs < 0 || rs.PacketsLost < -(1<<23) || rs.PacketsLost >= 1<<23 {
				t.Fatalf("report out of range: %+v", rs)
			}
		}
	})
}

func TestReadReceptionReport(t *testing.T) {
	b, _ := rtcp.Marshal([]rtcp.Packet{
		&rtcp.SenderReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 42, FractionLost: 1, TotalLost: 1}}},
		&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 7, FractionLost: 200}, {SSRC: 42, FractionLost: 64, TotalLost: 0xFFFFFE, Jitter: 480}}},
	})
	rs, ok := ReadReceptionReport(b, 42, 48000)
	if !ok || rs != (ReceptionStats{FractionLost: 0.25, PacketsLost: -2, JitterMs: 10}) {
		t.Fatalf("%+v %v", rs, ok)
	}
	if _, ok := ReadReceptionReport(b, 99, 48000); ok {
		t.Fatal("report about another stream taken")
	}
	if _, ok := ReadReceptionReport([]byte{1, 2, 3}, 42, 48000); ok {
		t.Fatal("garbage read as a report")
	}
}
