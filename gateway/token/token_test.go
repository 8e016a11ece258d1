package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("test-secret")

func TestMintVerifyRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok, err := Mint(secret, "alice", 255, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(secret, tok, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "alice" || c.MaxPriority != 255 || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("claims = %+v", c)
	}
}

func TestVerifyRefuses(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good, _ := Mint(secret, "bob", 100, time.Hour, now)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "bob"}).SignedString(secret)
	noSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}).SignedString(secret)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "bob", "exp": now.Add(time.Hour).Unix()}).SignedString(secret)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "bob", "exp": now.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	badPrio, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "bob", "exp": now.Add(time.Hour).Unix(), "max_priority": 300}).SignedString(secret)
	strExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "bob", "exp": "9999999999"}).SignedString(secret)
	strIat, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "bob", "exp": now.Add(time.Hour).Unix(), "iat": "1"}).SignedString(secret)
	cases := map[string]struct {
		tok string
		at  time.Time
	}{
		"expired":        {good, now.Add(2 * time.Hour)},
		"wrong secret":   {strings.TrimSuffix(good, good[len(good)-4:]) + "AAAA", now},
		"no exp":         {noExp, now},
		"no sub":         {noSub, now},
		"hs512":          {hs512, now},
		"alg none":       {none, now},
		"garbage":        {"not.a.jwt", now},
		"priority > 255": {badPrio, now},
		"exp a string":   {strExp, now},
		"iat a string":   {strIat, now},
	}
	for name, tc := range cases {
		if _, err := Verify(secret, tc.tok, tc.at); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestDefaultMaxPriority(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "carol", "exp": now.Add(time.Hour).Unix()}).SignedString(secret)
	c, err := Verify(secret, tok, now)
	if err != nil || c.MaxPriority != DefaultMaxPriority {
		t.Fatalf("claims %+v err %v", c, err)
	}
}
