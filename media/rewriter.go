package media

import (
	"encoding/binary"
	"time"
)

// Rewriter turns the RTP packets of whoever holds the floor into one continuous stream for one
// listener (docs/media.md, "Relay and the rewriter"): a constant SSRC (the one announced in the
// listener's answer), the listener's Opus payload type, and sequence numbers and timestamps that
// never jump back or leap at a speaker change.
//
// Sequence numbers and timestamps are kept in 64-bit extended form (RFC 3550 §A.1), so 16-bit
// and 32-bit wrap-around is plain arithmetic. Within one talk spurt the output is the input
// plus a fixed offset, which preserves gaps: a listener sees the talker's loss as loss. When
// the source changes (another SSRC, or the same one after a silence of at least Resync with a
// jump in sequence numbers — the floor went back to the same talker), the next packet gets the
// last output sequence number + 1 and a timestamp advanced by the wall-clock gap × the clock
// rate (at least 1), and its marker bit is set to mark the start of a talk spurt.
//
// A Rewriter is plain state owned by one listener's peer actor; it is not safe for concurrent
// use and allocates nothing.
type Rewriter struct {
	SSRC      uint32        // outbound SSRC
	PT        uint8         // outbound payload type
	ClockRate uint32        // RTP clock rate; 0 means 48000 (Opus)
	Resync    time.Duration // silence after which a sequence jump of the same SSRC is a new spurt; 0 means 1 s

	started  bool
	src      uint32 // SSRC of the current source
	inSeq    uint64 // highest extended input sequence number of the current source
	inTS     uint64 // extended input timestamp of that packet
	firstSeq uint64 // extended input sequence number where the current source started
	seqOff   uint64 // output = input + offset (mod 2^64)
	tsOff    uint64
	outSeq   uint64    // highest extended output sequence number
	outTS    uint64    // its output timestamp
	lastAt   time.Time // when it was rewritten
}

// Rewrite rewrites the fixed header of RTP packet b in place for arrival time now. It returns
// false, leaving b untouched, when the packet must not be sent: shorter than an RTP header, or
// a late packet of the source's previous talk spurt (its numbers are already used).
func (r *Rewriter) Rewrite(b []byte, now time.Time) bool {
	if len(b) < 12 {
		return false
	}
	ssrc := binary.BigEndian.Uint32(b[8:])
	seq := binary.BigEndian.Uint16(b[2:])
	ts := binary.BigEndian.Uint32(b[4:])
	marker := false

	if !r.started {
		r.started = true
		r.startSource(ssrc, seq, ts)
		r.seqOff, r.tsOff = 0, 0
		r.outSeq, r.outTS, r.lastAt = uint64(seq), uint64(ts), now
		marker = true
	}
	extSeq := r.inSeq + uint64(int64(int16(seq-uint16(r.inSeq))))
	extTS := r.inTS + uint64(int64(int32(ts-uint32(r.inTS))))
	resync := r.Resync
	if resync == 0 {
		resync = time.Second
	}
	switch {
	case ssrc != r.src, now.Sub(r.lastAt) >= resync && int64(extSeq-r.inSeq) > 1:
		r.switchSource(ssrc, seq, ts, now)
		extSeq, extTS = r.inSeq, r.inTS
		marker = true
	case int64(extSeq-r.firstSeq) < 0:
		return false
	case int64(extSeq-r.inSeq) > 0:
		r.inSeq, r.inTS = extSeq, extTS
	}

	outSeq, outTS := extSeq+r.seqOff, extTS+r.tsOff
	if int64(outSeq-r.outSeq) > 0 {
		r.outSeq, r.outTS, r.lastAt = outSeq, outTS, now
	}
	b[1] = b[1]&0x80 | r.PT&0x7f
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], uint16(outSeq))
	binary.BigEndian.PutUint32(b[4:], uint32(outTS))
	binary.BigEndian.PutUint32(b[8:], r.SSRC)
	return true
}

func (r *Rewriter) startSource(ssrc uint32, seq uint16, ts uint32) {
	r.src = ssrc
	r.inSeq, r.inTS = uint64(seq), uint64(ts)
	r.firstSeq = r.inSeq
}

// switchSource continues the output at last + 1, timestamps advanced by the wall-clock gap.
func (r *Rewriter) switchSource(ssrc uint32, seq uint16, ts uint32, now time.Time) {
	clock := uint64(r.ClockRate)
	if clock == 0 {
		clock = 48000
	}
	adv := uint64(0)
	if gap := now.Sub(r.lastAt); gap > 0 {
		adv = uint64(gap) * clock / uint64(time.Second)
	}
	if adv < 1 {
		adv = 1
	}
	r.startSource(ssrc, seq, ts)
	r.seqOff = r.outSeq + 1 - r.inSeq
	r.tsOff = r.outTS + adv - r.inTS
}
