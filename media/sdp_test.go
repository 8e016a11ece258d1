package media

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

var updateOffers = flag.Bool("update-offers", false, "regenerate testdata/sdp/pion.sdp with pion/webrtc")

const sdpDir = "../testdata/sdp"

func readOffer(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sdpDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseOfferRealClients(t *testing.T) {
	if *updateOffers {
		writePionOffer(t, filepath.Join(sdpDir, "pion.sdp"))
	}
	tests := []struct {
		file   string
		pt     uint8
		mid    string
		ufrag  string
		bundle bool
	}{
		{"chrome.sdp", 111, "0", "Fz2k", true},
		{"chrome-audio-data.sdp", 111, "0", "Fz2k", true},
		{"firefox.sdp", 109, "0", "8f3a2b1c", true},
		{"pion.sdp", 111, "0", "", true},
		{"chromium-recvonly.sdp", 111, "0", "tsOb", true},
		{"firefox-recvonly.sdp", 109, "0", "eea6b72b", true},
		{"aiortc-sendrecv.sdp", 96, "0", "Hq7r", true},
		{"aiortc-recvonly.sdp", 96, "0", "Hq7r", true},
		{"gstreamer-webrtcbin.sdp", 96, "audio0", "7bmR0e3sPq+J9u1xYc2nVw8kZtL4aHfD", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			o, err := ParseOffer(readOffer(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if o.OpusPT != tt.pt || o.Mid != tt.mid || o.Bundle != tt.bundle {
				t.Fatalf("pt %d mid %q bundle %v", o.OpusPT, o.Mid, o.Bundle)
			}
			if tt.ufrag != "" && o.ICEUfrag != tt.ufrag {
				t.Fatalf("ufrag %q", o.ICEUfrag)
			}
			if o.FingerprintHash != "sha-256" || len(o.Fingerprint) != 32 || o.ICEPwd == "" {
				t.Fatalf("fingerprint %s %x pwd %q", o.FingerprintHash, o.Fingerprint, o.ICEPwd)
			}
		})
	}
}

// goldenOffers are the recorded offers of every client stack the server is tried with
// (testdata/sdp/README.md says where each comes from) and what the answer to each must say.
var goldenOffers = []struct {
	file      string
	pt        uint8  // the Opus payload type the answer must use
	direction string // the answer's direction (RFC 3264 §6.1)
}{
	{"chrome.sdp", 111, "sendrecv"},
	{"chrome-audio-data.sdp", 111, "sendrecv"},
	{"chromium-recvonly.sdp", 111, "sendonly"},
	{"firefox.sdp", 109, "sendrecv"},
	{"firefox-recvonly.sdp", 109, "sendonly"},
	{"pion.sdp", 111, "sendrecv"},
	{"aiortc-sendrecv.sdp", 96, "sendrecv"},
	{"aiortc-recvonly.sdp", 96, "sendonly"},
	{"gstreamer-webrtcbin.sdp", 96, "sendrecv"},
}

// TestAnswerGolden answers every recorded offer, parses the answer back and checks each
// attribute docs/media.md requires: direction, payload type, and SSRC lines exactly when the
// server sends.
func TestAnswerGolden(t *testing.T) {
	cert, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldenOffers {
		t.Run(g.file, func(t *testing.T) {
			o, perr := ParseOffer(readOffer(t, g.file))
			if perr != nil {
				t.Fatal(perr)
			}
			if o.OpusPT != g.pt {
				t.Errorf("Opus payload type %d, want %d", o.OpusPT, g.pt)
			}
			if got := o.AnswerDirection().String(); got != g.direction {
				t.Errorf("answer direction %s, want %s", got, g.direction)
			}
			ufrag, pwd := NewICECredentials()
			p := AnswerParams{Ufrag: ufrag, Pwd: pwd, Fingerprint: cert.Fingerprint,
				Host: netip.MustParseAddrPort("127.0.0.1:10000"), SSRC: 424242,
				CName: "livechat", StreamID: "livechat", TrackID: "ptt"}
			answerChecked(t, o, p)
		})
	}
}

// TestAnswerDirectionMirrorsTheOffer: each of the four offer directions, written on the
// m-line, at session level or not at all, gets the answer of RFC 3264 §6.1, with the
// server's SSRC announced only when it sends.
func TestAnswerDirectionMirrorsTheOffer(t *testing.T) {
	chrome := readOffer(t, "chrome.sdp")
	tests := []struct {
		name, offer          string
		want                 string
		serverSends, serverR bool
	}{
		{"sendrecv", chrome, "sendrecv", true, true},
		{"recvonly", strings.Replace(chrome, "a=sendrecv", "a=recvonly", 1), "sendonly", true, false},
		{"sendonly", strings.Replace(chrome, "a=sendrecv", "a=sendonly", 1), "recvonly", false, true},
		{"inactive", strings.Replace(chrome, "a=sendrecv", "a=inactive", 1), "inactive", false, false},
		{"absent", strings.Replace(chrome, "a=sendrecv\r\n", "", 1), "sendrecv", true, true},
		{"session-level recvonly", strings.Replace(strings.Replace(chrome, "a=sendrecv\r\n", "", 1),
			"t=0 0\r\n", "t=0 0\r\na=recvonly\r\n", 1), "sendonly", true, false},
		{"m-line overrides session", strings.Replace(chrome, "t=0 0\r\n", "t=0 0\r\na=inactive\r\n", 1),
			"sendrecv", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOffer(tt.offer)
			if err != nil {
				t.Fatal(err)
			}
			if got := o.AnswerDirection().String(); got != tt.want || o.ServerSends() != tt.serverSends || o.ServerReceives() != tt.serverR {
				t.Fatalf("answer %s sends %v receives %v, want %s %v %v", got, o.ServerSends(), o.ServerReceives(),
					tt.want, tt.serverSends, tt.serverR)
			}
			p := testParams()
			answerChecked(t, o, p)
		})
	}
}

// testParams are answer parameters with fresh credentials, a fixed host candidate and SSRC.
func testParams() AnswerParams {
	return AnswerParams{Ufrag: RandomAlnum(16), Pwd: RandomAlnum(32), Fingerprint: "AA:BB",
		Host: netip.MustParseAddrPort("127.0.0.1:10000"), SSRC: 424242, CName: "c", StreamID: "s", TrackID: "t"}
}

// answerChecked builds the answer to o with p and checks it with checkAnswer.
func answerChecked(t *testing.T, o *Offer, p AnswerParams) {
	t.Helper()
	answer, err := BuildAnswer(o, p)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, o, p, answer)
}

func checkAnswer(t *testing.T, o *Offer, p AnswerParams, answer string) {
	t.Helper()
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(answer); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, answer)
	}
	if _, ok := sd.Attribute("ice-lite"); !ok {
		t.Error("no session-level a=ice-lite")
	}
	group, hasGroup := sd.Attribute("group")
	if o.Bundle && group != "BUNDLE "+o.Mid {
		t.Errorf("group %q, want BUNDLE %s", group, o.Mid)
	}
	if !o.Bundle && hasGroup {
		t.Error("BUNDLE in the answer of an offer without it")
	}
	if len(sd.MediaDescriptions) != len(o.sd.MediaDescriptions) {
		t.Fatalf("answer has %d m-lines, offer %d", len(sd.MediaDescriptions), len(o.sd.MediaDescriptions))
	}
	for i, md := range sd.MediaDescriptions {
		if i != o.MLine {
			if md.MediaName.Port.Value != 0 {
				t.Errorf("m-line %d (%s) not rejected", i, md.MediaName.Media)
			}
			continue
		}
		want := map[string]string{
			"mid": o.Mid, "ice-ufrag": p.Ufrag, "ice-pwd": p.Pwd, "setup": "passive",
			"fingerprint": "sha-256 " + p.Fingerprint, "rtcp-mux": "", "end-of-candidates": "",
			o.AnswerDirection().String(): "",
		}
		for k, v := range want {
			if got, ok := md.Attribute(k); !ok || got != v {
				t.Errorf("a=%s: got %q (present %v), want %q", k, got, ok, v)
			}
		}
		var directions []string
		for _, a := range md.Attributes {
			if _, err := sdp.NewDirection(a.Key); err == nil {
				directions = append(directions, a.Key)
			}
		}
		if len(directions) != 1 {
			t.Errorf("direction attributes %v, want exactly one", directions)
		}
		if md.MediaName.Media != "audio" || strings.Join(md.MediaName.Formats, " ") != itoa(o.OpusPT) {
			t.Errorf("m-line %v", md.MediaName)
		}
		rtpmap, _ := md.Attribute("rtpmap")
		if !strings.HasPrefix(rtpmap, itoa(o.OpusPT)+" opus/48000") {
			t.Errorf("rtpmap %q", rtpmap)
		}
		cand, _ := md.Attribute("candidate")
		if !regexp.MustCompile(`^\S+ 1 udp \d+ 127\.0\.0\.1 10000 typ host$`).MatchString(cand) {
			t.Errorf("candidate %q", cand)
		}
		var ssrcCname, ssrcMsid, ssrcOther bool
		for _, a := range md.Attributes {
			switch {
			case a.Key == "ssrc" && a.Value == "424242 cname:"+p.CName:
				ssrcCname = true
			case a.Key == "ssrc" && a.Value == "424242 msid:"+p.StreamID+" "+p.TrackID:
				ssrcMsid = true
			case a.Key == "ssrc":
				ssrcOther = true
			}
		}
		msid, hasMsid := md.Attribute("msid")
		_, hasSemantic := sd.Attribute("msid-semantic")
		if o.ServerSends() {
			if !ssrcCname || !ssrcMsid || msid != p.StreamID+" "+p.TrackID || !hasSemantic {
				t.Errorf("server sends, but a=ssrc cname %v, a=ssrc msid %v, a=msid %q, msid-semantic %v", ssrcCname, ssrcMsid, msid, hasSemantic)
			}
		} else if ssrcCname || ssrcMsid || hasMsid || hasSemantic {
			t.Errorf("server does not send, but the answer announces a stream (ssrc %v/%v, msid %v, msid-semantic %v)",
				ssrcCname, ssrcMsid, hasMsid, hasSemantic)
		}
		if ssrcOther {
			t.Error("the answer has a=ssrc lines of another SSRC than the server's")
		}
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{16}$`).MatchString(p.Ufrag) || len(p.Pwd) < 24 {
		t.Errorf("credentials %q %q", p.Ufrag, p.Pwd)
	}
}

func itoa(pt uint8) string { return strconv.Itoa(int(pt)) }

func TestParseOfferRejectsBadOffers(t *testing.T) {
	tests := map[string]string{
		"no-audio.sdp":       "no audio m-line",
		"no-opus.sdp":        "no Opus",
		"no-fingerprint.sdp": "no a=fingerprint",
		"no-ufrag.sdp":       "no a=ice-ufrag",
		"garbage.sdp":        "unparseable",
		"ssrc-no-value.sdp":  "a=ssrc",
	}
	for file, reason := range tests {
		t.Run(file, func(t *testing.T) {
			_, err := ParseOffer(readOffer(t, filepath.Join("bad", file)))
			var oe *OfferError
			if !errors.As(error(err), &oe) || !strings.Contains(oe.Reason, reason) {
				t.Fatalf("err = %v, want an OfferError containing %q", err, reason)
			}
		})
	}
	chrome := readOffer(t, "chrome.sdp")
	inline := map[string]string{
		"empty":              "",
		"passive":            strings.Replace(chrome, "a=setup:actpass", "a=setup:passive", 1),
		"no rtcp-mux":        strings.Replace(chrome, "a=rtcp-mux\r\n", "", 1),
		"bad digest":         strings.Replace(chrome, "a=fingerprint:sha-256 ", "a=fingerprint:sha-256 ZZ:", 1),
		"unknown hash":       strings.Replace(chrome, "a=fingerprint:sha-256 ", "a=fingerprint:md5 ", 1),
		"ssrc no colon":      strings.Replace(chrome, "a=rtcp-mux\r\n", "a=rtcp-mux\r\na=ssrc\r\n", 1),
		"ssrc only spaces":   strings.Replace(chrome, "a=rtcp-mux\r\n", "a=rtcp-mux\r\na=ssrc:   \r\n", 1),
		"ssrc not a number":  strings.Replace(chrome, "a=rtcp-mux\r\n", "a=rtcp-mux\r\na=ssrc:abc cname:x\r\n", 1),
		"ssrc above 32 bits": strings.Replace(chrome, "a=rtcp-mux\r\n", "a=rtcp-mux\r\na=ssrc:4294967296 cname:x\r\n", 1),
	}
	for name, offer := range inline {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseOffer(offer); err == nil || !strings.HasPrefix(err.Reason, "bad SDP offer: ") {
				t.Fatalf("err = %v, want an OfferError", err)
			}
		})
	}
}

func TestBuildAnswerWithoutBundle(t *testing.T) {
	offer := strings.Replace(readOffer(t, "chrome.sdp"), "a=group:BUNDLE 0\r\n", "", 1)
	o, err := ParseOffer(offer)
	if err != nil {
		t.Fatal(err)
	}
	p := testParams()
	answerChecked(t, o, p)
}

// TestParseOfferPrefersTheFirstListedOpus: with two Opus payload types the m-line's format
// order (the offerer's preference) decides, not the order of the a=rtpmap lines.
func TestParseOfferPrefersTheFirstListedOpus(t *testing.T) {
	chrome := readOffer(t, "chrome.sdp")
	o, err := ParseOffer(chrome)
	if err != nil {
		t.Fatal(err)
	}
	if o.OpusPT != 111 {
		t.Fatalf("pt %d", o.OpusPT)
	}
	// Add Opus on 120 after 111's rtpmap but first in the format list.
	offer := strings.Replace(chrome, "UDP/TLS/RTP/SAVPF 111", "UDP/TLS/RTP/SAVPF 120 111", 1)
	offer = strings.Replace(offer, "a=rtpmap:111 opus/48000/2\r\n", "a=rtpmap:111 opus/48000/2\r\na=rtpmap:120 opus/48000/2\r\na=fmtp:120 useinbandfec=0\r\n", 1)
	if o, err = ParseOffer(offer); err != nil {
		t.Fatal(err)
	}
	if o.OpusPT != 120 || o.OpusFmtp != "useinbandfec=0" {
		t.Fatalf("pt %d fmtp %q, want 120 useinbandfec=0", o.OpusPT, o.OpusFmtp)
	}
}
