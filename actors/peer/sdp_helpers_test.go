package peer

import (
	"strings"
	"testing"
)

func answerPwd(t testing.TB, answer string) string {
	t.Helper()
	for _, l := range strings.Split(answer, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=ice-pwd:"); ok {
			return v
		}
	}
	t.Fatal("no ice-pwd in answer")
	return ""
}

func fingerprintLine(t *testing.T, sdp string) string {
	t.Helper()
	for _, l := range strings.Split(sdp, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "a=fingerprint:") {
			return l
		}
	}
	t.Fatal("no fingerprint")
	return ""
}

func replaceFingerprint(t *testing.T, offer, from string) string {
	return strings.ReplaceAll(offer, fingerprintLine(t, offer), fingerprintLine(t, from))
}

// iceUfrag is the a=ice-ufrag of an SDP (the client's, for an offer).
func iceUfrag(t testing.TB, sdp string) string {
	t.Helper()
	for _, l := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=ice-ufrag:"); ok {
			return v
		}
	}
	t.Fatal("no ice-ufrag")
	return ""
}
