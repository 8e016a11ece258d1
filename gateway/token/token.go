// Package token mints and verifies the IDENTIFY tokens of mini-livechat: JWTs signed with
// HS256 under LIVECHAT_SECRET, with `sub` = user id, `exp`, and an optional `max_priority`
// (default 100) that caps the floor priority the user may claim (docs/protocol.md, "IDENTIFY").
package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultMaxPriority applies when a token carries no max_priority.
const DefaultMaxPriority = 100

// DefaultSecret is LIVECHAT_SECRET's default; a server using it logs a loud warning.
const DefaultSecret = "changeme-secret"

// Claims is what a verified token says.
type Claims struct {
	UserID      string
	MaxPriority int
	ExpiresAt   time.Time
}

type jwtClaims struct {
	jwt.RegisteredClaims
	MaxPriority *int `json:"max_priority,omitempty"`
}

// UnmarshalJSON refuses time claims that are not JSON numbers. RFC 7519 §2 defines NumericDate
// as a JSON number, but jwt.NumericDate also accepts a numeric string ("exp": "9999999999"),
// which no issuer of ours writes: a token shaped like that is not one of ours.
func (c *jwtClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if v, ok := raw[k]; ok && !isJSONNumber(v) {
			return fmt.Errorf("claim %s must be a JSON number", k)
		}
	}
	type plain jwtClaims // the same fields without this method
	return json.Unmarshal(b, (*plain)(c))
}

func isJSONNumber(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
}

// ErrInvalid indicates a token that is malformed, badly signed, expired or lacks a claim.
var ErrInvalid = errors.New("invalid token")

// Mint signs a token for userID that expires ttl after now.
func Mint(secret []byte, userID string, maxPriority int, ttl time.Duration, now time.Time) (string, error) {
	if userID == "" {
		return "", fmt.Errorf("mint token: empty user id")
	}
	if maxPriority < 0 || maxPriority > 255 {
		return "", fmt.Errorf("mint token: max priority %d outside 0..255", maxPriority)
	}
	c := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		MaxPriority: &maxPriority,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint token for %s: %w", userID, err)
	}
	return s, nil
}

// Verify checks an HS256 token (any other alg, `none` included, is refused: the algorithm is
// pinned, never taken from the token's header), its expiry against now (`exp` is required and
// must be a JSON number), and that it names a subject. The caller compares Claims.UserID with the
// IDENTIFY user_id.
func Verify(secret []byte, tok string, now time.Time) (Claims, error) {
	var c jwtClaims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Subject == "" {
		return Claims{}, fmt.Errorf("%w: no sub claim", ErrInvalid)
	}
	maxP := DefaultMaxPriority
	if c.MaxPriority != nil {
		maxP = *c.MaxPriority
	}
	if maxP < 0 || maxP > 255 {
		return Claims{}, fmt.Errorf("%w: max_priority %d outside 0..255", ErrInvalid, maxP)
	}
	return Claims{UserID: c.Subject, MaxPriority: maxP, ExpiresAt: c.ExpiresAt.Time}, nil
}
