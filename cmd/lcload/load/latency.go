package load

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// latHist is a latency histogram in microseconds with 16 buckets per octave (≈ 4 % wide)
// above 32 µs, written by one reader goroutine and read at any time (atomics), so that a
// window's distribution is the difference of two snapshots.
type latHist struct{ b [latBuckets]atomic.Uint32 }

const latBuckets = 32 + 27*16

func latBucket(us uint32) int {
	if us < 32 {
		return int(us)
	}
	shift := bits.Len32(us) - 5 // ≥ 1
	top := us >> shift          // 16..31
	return 32 + (shift-1)*16 + int(top-16)
}

// latMid is the middle of bucket i, µs.
func latMid(i int) float64 {
	if i < 32 {
		return float64(i)
	}
	shift := (i-32)/16 + 1
	top := uint32((i-32)%16 + 16)
	return (float64(top<<shift) + float64((top+1)<<shift)) / 2
}

func (h *latHist) add(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	if us > 1<<31 {
		us = 1 << 31
	}
	h.b[latBucket(uint32(us))].Add(1)
}

// latCounts is a snapshot (or the sum of several).
type latCounts [latBuckets]uint64

func (c *latCounts) addFrom(h *latHist) {
	for i := range h.b {
		c[i] += uint64(h.b[i].Load())
	}
}

// minus is c − o, bucket by bucket.
func (c latCounts) minus(o latCounts) latCounts {
	for i := range c {
		c[i] -= o[i]
	}
	return c
}

// percentile q (0..1) in microseconds; 0 with no samples.
func (c latCounts) percentile(q float64) float64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n-1)) + 1
	var seen uint64
	for i, v := range c {
		if seen += v; seen >= want {
			return latMid(i)
		}
	}
	return latMid(latBuckets - 1)
}
