package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

// FuzzVerify feeds IDENTIFY tokens to Verify. The fuzzer writes the JOSE header and the
// claims; when sign is set the test signs them with the server secret, so the claims parser
// is explored behind a valid HS256 signature (no fuzzer forges an HMAC), otherwise raw is
// verified as sent. Whatever the input: no panic, and a token is accepted only if it is signed
// with the secret under HS256, names a subject, has not expired and carries a max_priority in
// 0..255 — and another secret refuses it.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	hs256 := `{"alg":"HS256","typ":"JWT"}`
	f.Add(hs256, `{"sub":"alice","exp":1800003600,"max_priority":200}`, true, "")
	f.Add(hs256, `{"sub":"alice","exp":1800003600}`, true, "")
	f.Add(hs256, `{"sub":"","exp":1800003600}`, true, "")
	f.Add(hs256, `{"sub":"alice","exp":1799999999}`, true, "")
	f.Add(hs256, `{"sub":"alice","exp":"1800003600"}`, true, "")
	f.Add(hs256, `{"sub":"alice","exp":1.8e9,"max_priority":-1}`, true, "")
	f.Add(hs256, `{"sub":"alice","exp":1800003600,"max_priority":256}`, true, "")
	f.Add(hs256, `{"sub":["a"],"exp":1800003600,"nbf":1900000000}`, true, "")
	f.Add(`{"alg":"none"}`, `{"sub":"alice","exp":1800003600}`, true, "")
	f.Add(`{"alg":"HS512"}`, `{"sub":"alice","exp":1800003600}`, true, "")
	f.Add(`{"alg":"HS256","crit":["b64"],"b64":false}`, `{"sub":"alice","exp":1800003600}`, true, "")
	f.Add("", "", false, "")
	f.Add("", "", false, "a.b.c")
	f.Add("", "", false, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("", "", false, "....")
	if tok, err := Mint(secret, "bob", 7, time.Hour, now); err == nil {
		f.Add("", "", false, tok)
	}
	other := []byte("another-secret")
	f.Fuzz(func(t *testing.T, header, claims string, sign bool, raw string) {
		tok := raw
		if sign {
			enc := base64.RawURLEncoding
			signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(signing))
			tok = signing + "." + enc.EncodeToString(mac.Sum(nil))
		}
		c, err := Verify(secret, tok, now)
		if err != nil {
			return
		}
		if c.UserID == "" || c.MaxPriority < 0 || c.MaxPriority > 255 || !c.ExpiresAt.After(now) {
			t.Fatalf("accepted %q with claims %+v", tok, c)
		}
		if !sign {
			return // a raw token that verifies was minted by the seed with the secret
		}
		var h map[string]any // as the JWT library reads it: keys are case-sensitive
		if json.Unmarshal([]byte(header), &h) != nil || h["alg"] != "HS256" {
			t.Fatalf("accepted a token whose header %q does not say HS256", header)
		}
		if _, err := Verify(other, tok, now); err == nil {
			t.Fatal("another secret accepted the token")
		}
	})
}
