package gateway

import "time"

// tokenBucket is the per-connection rate limit: rate frames per second, bursts up to burst.
// Owned by the connection's reader goroutine.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int, now time.Time) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// allow takes one token if there is one. A rate of zero or less disables the limit.
func (b *tokenBucket) allow(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refill adds the tokens earned since the last call.
func (b *tokenBucket) refill(now time.Time) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
		b.last = now
	}
}

// peek reports whether a token is there, without taking it.
func (b *tokenBucket) peek(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.refill(now)
	return b.tokens >= 1
}

// full reports whether the bucket is back at its burst: it remembers nothing then.
func (b *tokenBucket) full(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.refill(now)
	return b.tokens >= b.burst
}

// badFrames counts bad frames in a sliding window: more than limit within window closes the
// connection (docs/protocol.md, "Error codes": 20 within 10 s → 4004). Owned by the reader
// goroutine.
type badFrames struct {
	limit  int
	window time.Duration
	times  []time.Time // ring of the last limit+1 bad frames
	next   int
	n      int
}

func newBadFrames(limit int, window time.Duration) badFrames {
	return badFrames{limit: limit, window: window, times: make([]time.Time, limit+1)}
}

// add records a bad frame and reports whether the limit is now exceeded.
func (b *badFrames) add(now time.Time) bool {
	if b.limit <= 0 {
		return false
	}
	b.times[b.next] = now
	b.next = (b.next + 1) % len(b.times)
	if b.n < len(b.times) {
		b.n++
	}
	if b.n < len(b.times) {
		return false
	}
	oldest := b.times[b.next] // the slot to be overwritten next is the oldest of limit+1
	return now.Sub(oldest) <= b.window
}
