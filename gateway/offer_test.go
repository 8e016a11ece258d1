package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadOfferIsRefusedBeforeItReachesAChannel: the gateway parses a CHANNEL_JOIN's SDP offer;
// a bad one is answered ERROR 2006 (with the request's nonce) and no join goes to the
// directory, so no channel actor ever sees it. A good one arrives parsed.
func TestBadOfferIsRefusedBeforeItReachesAChannel(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("alice")

	c.Send(int(OpChannelJoin), map[string]any{"channel_id": "CH_1", "sdp_offer": "v=0 garbage", "nonce": "j1"})
	code, m := errCode(t, c.Next())
	if code != 2006 || m["nonce"] != "j1" || m["req_op"].(float64) != 11 || !strings.HasPrefix(m["reason"].(string), "bad SDP offer: ") {
		t.Fatalf("JOIN with a bad offer: %v, want ERROR 2006 \"bad SDP offer: …\" echoing req_op and nonce", m)
	}

	chrome, err := os.ReadFile(filepath.Join("..", "testdata", "sdp", "chrome.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	c.Request(int(OpChannelJoin), map[string]any{"channel_id": "CH_1", "sdp_offer": string(chrome)})
	select {
	case j := <-e.joins:
		if j.Offer == nil || j.Offer.ICEUfrag == "" || j.Offer.OpusPT == 0 {
			t.Fatalf("first join the directory saw: offer %+v, want the good offer parsed", j.Offer)
		}
	default:
		t.Fatal("the good join never reached the directory")
	}
	if len(e.joins) != 0 {
		t.Fatalf("the directory saw %d more joins, want only the good one", len(e.joins))
	}

	c.Request(int(OpChannelJoin), map[string]any{"channel_id": "CH_2", "sdp_offer": ""})
	if j := <-e.joins; j.Offer != nil {
		t.Fatalf("an empty sdp_offer arrived as offer %+v, want a signaling-only join", j.Offer)
	}
}
