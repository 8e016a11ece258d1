package peer

import (
	"strings"
	"testing"
)

// sdpAttr is the value of the first line of sdp that starts with prefix ("a=ice-pwd:").
func sdpAttr(t testing.TB, sdp, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
			return v
		}
	}
	t.Fatalf("no %s line", strings.TrimSuffix(prefix, ":"))
	return ""
}

func answerPwd(t testing.TB, answer string) string { return sdpAttr(t, answer, "a=ice-pwd:") }

func fingerprintLine(t *testing.T, sdp string) string {
	return "a=fingerprint:" + sdpAttr(t, sdp, "a=fingerprint:")
}

func replaceFingerprint(t *testing.T, offer, from string) string {
	return strings.ReplaceAll(offer, fingerprintLine(t, offer), fingerprintLine(t, from))
}

// iceUfrag is the a=ice-ufrag of an SDP (the client's, for an offer).
func iceUfrag(t testing.TB, sdp string) string { return sdpAttr(t, sdp, "a=ice-ufrag:") }
