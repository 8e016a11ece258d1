package gateway

import (
	"time"

	"golang.org/x/time/rate"
)

// tokenBucket is a rate limit of rate events per second, bursts up to burst, on the caller's
// clock (every call passes now). A rate of zero or less disables it. Owned by one goroutine.
type tokenBucket struct {
	lim *rate.Limiter // nil: no limit
}

func newTokenBucket(perSecond float64, burst int, now time.Time) tokenBucket {
	if perSecond <= 0 {
		return tokenBucket{}
	}
	l := rate.NewLimiter(rate.Limit(perSecond), burst)
	l.AllowN(now, 0) // start the refill clock at now: the bucket starts full
	return tokenBucket{lim: l}
}

// allow takes one token if there is one.
func (b tokenBucket) allow(now time.Time) bool { return b.lim == nil || b.lim.AllowN(now, 1) }

// peek reports whether a token is there, without taking it.
func (b tokenBucket) peek(now time.Time) bool { return b.lim == nil || b.lim.TokensAt(now) >= 1 }

// full reports whether the bucket is back at its burst: it remembers nothing then.
func (b tokenBucket) full(now time.Time) bool {
	return b.lim == nil || b.lim.TokensAt(now) >= float64(b.lim.Burst())
}

// badFrames counts bad frames in a sliding window: more than limit within window closes the
// connection (docs/protocol.md, "Error codes": 20 within 10 s → 4004). Owned by the reader
// goroutine.
type badFrames struct {
	limit  int
	window time.Duration
	times  []time.Time // ring of the last limit+1 bad frames; made at the first one
	next   int
	n      int
}

func newBadFrames(limit int, window time.Duration) badFrames {
	return badFrames{limit: limit, window: window}
}

// add records a bad frame and reports whether the limit is now exceeded.
func (b *badFrames) add(now time.Time) bool {
	if b.limit <= 0 {
		return false
	}
	if b.times == nil { // most connections never send a bad frame
		b.times = make([]time.Time, b.limit+1)
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
