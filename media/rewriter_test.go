package media

import (
	"encoding/binary"
	"testing"
	"time"
)

type rtpIn struct {
	ssrc   uint32
	seq    uint16
	ts     uint32
	at     time.Duration // arrival, from the start of the test
	marker bool
}

type rtpOut struct {
	ok     bool
	seq    uint16
	ts     uint32
	marker bool
}

func rtpPacket(p rtpIn, pt uint8) []byte {
	b := make([]byte, 12+20)
	b[0] = 0x80
	b[1] = pt
	if p.marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], p.seq)
	binary.BigEndian.PutUint32(b[4:], p.ts)
	binary.BigEndian.PutUint32(b[8:], p.ssrc)
	for i := 12; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

func TestRewriter(t *testing.T) {
	const A, B = 0xAAAA, 0xBBBB
	ms := time.Millisecond
	tests := []struct {
		name string
		in   []rtpIn
		out  []rtpOut
	}{
		{"first packet passes with its numbers", []rtpIn{{A, 100, 5000, 0, false}},
			[]rtpOut{{true, 100, 5000, true}}},
		{"consecutive", []rtpIn{{A, 100, 5000, 0, false}, {A, 101, 5960, 20 * ms, false}},
			[]rtpOut{{true, 100, 5000, true}, {true, 101, 5960, false}}},
		{"gap preserved", []rtpIn{{A, 100, 5000, 0, false}, {A, 104, 8840, 80 * ms, false}},
			[]rtpOut{{true, 100, 5000, true}, {true, 104, 8840, false}}},
		{"sequence wrap", []rtpIn{{A, 65534, 1000, 0, false}, {A, 65535, 1960, 20 * ms, false}, {A, 0, 2920, 40 * ms, false}, {A, 1, 3880, 60 * ms, false}},
			[]rtpOut{{true, 65534, 1000, true}, {true, 65535, 1960, false}, {true, 0, 2920, false}, {true, 1, 3880, false}}},
		{"timestamp wrap", []rtpIn{{A, 10, 0xFFFFFE00, 0, false}, {A, 11, 0x000001C0, 20 * ms, false}},
			[]rtpOut{{true, 10, 0xFFFFFE00, true}, {true, 11, 0x1C0, false}}},
		{"reordered within spurt", []rtpIn{{A, 10, 0, 0, false}, {A, 12, 1920, 40 * ms, false}, {A, 11, 960, 41 * ms, false}, {A, 13, 2880, 60 * ms, false}},
			[]rtpOut{{true, 10, 0, true}, {true, 12, 1920, false}, {true, 11, 960, false}, {true, 13, 2880, false}}},
		{"speaker change continues at last+1, ts by wall clock", []rtpIn{{A, 100, 5000, 0, false}, {A, 101, 5960, 20 * ms, false}, {B, 40000, 123456, 520 * ms, true}, {B, 40001, 124416, 540 * ms, false}},
			[]rtpOut{{true, 100, 5000, true}, {true, 101, 5960, false}, {true, 102, 5960 + 24000, true}, {true, 103, 5960 + 24000 + 960, false}}},
		{"change without a gap advances ts by 1", []rtpIn{{A, 100, 5000, 0, false}, {B, 7, 9, 0, false}},
			[]rtpOut{{true, 100, 5000, true}, {true, 101, 5001, true}}},
		{"change across output wrap", []rtpIn{{A, 65535, 0xFFFFFFF0, 0, false}, {B, 500, 77, 1 * ms, false}, {B, 501, 1037, 21 * ms, false}},
			[]rtpOut{{true, 65535, 0xFFFFFFF0, true}, {true, 0, 32, true}, {true, 1, 32 + 960, false}}},
		{"a packet of the previous source after a change is another change", []rtpIn{{A, 100, 5000, 0, false}, {B, 50, 0, 20 * ms, false}, {A, 101, 5960, 21 * ms, false}},
			[]rtpOut{{true, 100, 5000, true}, {true, 101, 5960, true}, {true, 102, 5960 + 48, true}}},
		{"late packet from before the source started is dropped", []rtpIn{{A, 100, 5000, 0, false}, {B, 50, 0, 20 * ms, false}, {B, 49, 0, 21 * ms, false}},
			[]rtpOut{{true, 100, 5000, true}, {true, 101, 5960, true}, {false, 0, 0, false}}},
		{"same talker again after silence continues at last+1", []rtpIn{{A, 100, 5000, 0, false}, {A, 250, 5000 + 150*960, 3 * time.Second, false}, {A, 251, 5000 + 151*960, 3*time.Second + 20*ms, false}},
			[]rtpOut{{true, 100, 5000, true}, {true, 101, 5000 + 144000, true}, {true, 102, 5000 + 144000 + 960, false}}},
		{"short loss within a spurt is not a resync", []rtpIn{{A, 100, 5000, 0, false}, {A, 110, 14600, 200 * ms, false}},
			[]rtpOut{{true, 100, 5000, true}, {true, 110, 14600, false}}},
	}
	start := time.Unix(1_700_000_000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rewriter{SSRC: 0x1234, PT: 109}
			for i, in := range tt.in {
				b := rtpPacket(in, 111)
				orig := append([]byte(nil), b...)
				ok := r.Rewrite(b, start.Add(in.at))
				want := tt.out[i]
				if ok != want.ok {
					t.Fatalf("packet %d: ok %v, want %v", i, ok, want.ok)
				}
				if !ok {
					if string(b) != string(orig) {
						t.Fatalf("packet %d: refused packet was modified", i)
					}
					continue
				}
				seq, ts := binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:])
				if seq != want.seq || ts != want.ts {
					t.Fatalf("packet %d: seq %d ts %d, want %d %d", i, seq, ts, want.seq, want.ts)
				}
				if ssrc := binary.BigEndian.Uint32(b[8:]); ssrc != 0x1234 {
					t.Fatalf("packet %d: ssrc %#x", i, ssrc)
				}
				if pt := b[1] & 0x7f; pt != 109 {
					t.Fatalf("packet %d: pt %d", i, pt)
				}
				if m := b[1]&0x80 != 0; m != want.marker {
					t.Fatalf("packet %d: marker %v, want %v", i, m, want.marker)
				}
				if string(b[12:]) != string(orig[12:]) {
					t.Fatalf("packet %d: payload changed", i)
				}
			}
		})
	}
}

func TestRewriterShortPacket(t *testing.T) {
	var r Rewriter
	if r.Rewrite(make([]byte, 11), time.Now()) {
		t.Fatal("accepted an 11-byte packet")
	}
}

// TestRewriterLongRunWraps runs a talker across several 16-bit wraps with speaker changes and
// checks that the output sequence never skips or repeats when the input has no loss.
func TestRewriterLongRunWraps(t *testing.T) {
	r := Rewriter{SSRC: 9, PT: 111}
	now := time.Unix(0, 0)
	var last uint16
	seqs := map[uint32]uint16{1: 65000, 2: 100, 3: 65530}
	for i := range 200_000 {
		src := uint32(1 + (i/30_000)%3)
		seqs[src]++
		b := rtpPacket(rtpIn{ssrc: src, seq: seqs[src], ts: uint32(seqs[src]) * 960}, 111)
		now = now.Add(20 * time.Millisecond)
		if !r.Rewrite(b, now) {
			t.Fatalf("packet %d refused", i)
		}
		seq := binary.BigEndian.Uint16(b[2:])
		if i > 0 && seq != last+1 {
			t.Fatalf("packet %d: seq %d after %d", i, seq, last)
		}
		last = seq
	}
}

func TestRewriterAllocatesNothing(t *testing.T) {
	r := Rewriter{SSRC: 9, PT: 111}
	b := rtpPacket(rtpIn{ssrc: 1, seq: 1}, 111)
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { r.Rewrite(b, now) }); n != 0 {
		t.Fatalf("Rewrite allocates %v", n)
	}
}
