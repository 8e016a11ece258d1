package history

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// DefaultURLLifetime is how long a member's signed recording URL plays when
// URLSigner.Lifetime is zero (docs/history.md).
const DefaultURLLifetime = 10 * time.Minute

// RecordingPath is the public path of burst id's recording; RecordingURL adds the signature.
func RecordingPath(id int64) string { return fmt.Sprintf("/recordings/%d.ogg", id) }

// URLSigner signs and checks the short-lived recording URLs handed to members with
// HISTORY_LIST: an HMAC-SHA256 over the burst id, the user and the expiry. Its key is derived
// from the server secret for this one purpose, so a URL's signature is never a valid IDENTIFY
// token and an IDENTIFY token never signs a URL. A URL names one burst: it cannot fetch another
// burst, nor a burst of another channel.
type URLSigner struct {
	key      []byte
	lifetime time.Duration
}

// NewURLSigner derives the URL key from the server secret; lifetime ≤ 0 takes
// DefaultURLLifetime.
func NewURLSigner(secret []byte, lifetime time.Duration) *URLSigner {
	if lifetime <= 0 {
		lifetime = DefaultURLLifetime
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("mini-livechat recording url v1"))
	return &URLSigner{key: m.Sum(nil), lifetime: lifetime}
}

// Errors of a recording URL's check (the HTTP handler maps them to 403).
var (
	ErrURLExpired = errors.New("recording URL expired")
	ErrURLForged  = errors.New("recording URL signature is not valid")
)

// Sign returns the URL (path and query) that lets userID fetch burst id's recording until the
// returned expiry.
func (s *URLSigner) Sign(id int64, userID string, now time.Time) (string, time.Time) {
	exp := now.Add(s.lifetime).Truncate(time.Second)
	q := url.Values{}
	q.Set("user", userID)
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("sig", s.sig(id, userID, exp.Unix()))
	return RecordingPath(id) + "?" + q.Encode(), exp.UTC()
}

// Verify checks the query of a request for burst id's recording: a signature over id, user and
// exp made with this server's key, and exp not passed at now. It returns the user it was
// issued to.
func (s *URLSigner) Verify(id int64, q url.Values, now time.Time) (string, error) {
	user, expS, sig := q.Get("user"), q.Get("exp"), q.Get("sig")
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || user == "" || sig == "" {
		return "", fmt.Errorf("%w: user, exp and sig are required", ErrURLForged)
	}
	want := s.sig(id, user, exp)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "", ErrURLForged
	}
	if !now.Before(time.Unix(exp, 0)) {
		return "", fmt.Errorf("%w at %s", ErrURLExpired, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return user, nil
}

func (s *URLSigner) sig(id int64, user string, exp int64) string {
	m := hmac.New(sha256.New, s.key)
	// Lengths are not needed as separators: id and exp are decimal, user is last.
	fmt.Fprintf(m, "%d\n%d\n%s", id, exp, user)
	return hex.EncodeToString(m.Sum(nil))
}
