package server

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestListenOnlyMemberOverWebSocket: a member that joins with a recvonly offer (Firefox's own,
// from testdata) gets an a=sendonly answer, is listed as listen-only in the JOIN ACKs and
// CHANNEL_INFO, and its FLOOR_REQUEST is answered FLOOR_DENY listen_only while the floor stays
// free for the others. An offer with a bare a=ssrc line is refused with 2006, not 9000.
func TestListenOnlyMemberOverWebSocket(t *testing.T) {
	s, _, _ := startWithMedia(t)
	offer, err := os.ReadFile("../../../testdata/sdp/firefox-recvonly.sdp")
	if err != nil {
		t.Fatal(err)
	}
	mon := s.client("mon", 100)
	var join struct {
		SDPAnswer     string `json:"sdp_answer"`
		ActiveMembers []struct {
			UserID     string `json:"user_id"`
			ListenOnly bool   `json:"listen_only"`
		} `json:"active_members"`
	}
	if err := mon.Request(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": string(offer)}).Decode(&join); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(join.SDPAnswer, "a=sendonly") || strings.Contains(join.SDPAnswer, "a=sendrecv") {
		t.Fatalf("answer to a recvonly offer:\n%s", join.SDPAnswer)
	}
	if len(join.ActiveMembers) != 1 || !join.ActiveMembers[0].ListenOnly {
		t.Fatalf("active members %+v", join.ActiveMembers)
	}

	bob := s.client("bob", 100)
	bob.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	info := bob.Request(opChannelInfo, d{"channel_id": "CH_0001"}).D
	if !strings.Contains(string(info), `{"user_id":"mon","priority":100,"listen_only":true}`) ||
		strings.Contains(string(info), `"user_id":"bob","priority":100,"listen_only"`) {
		t.Fatalf("CHANNEL_INFO %s", info)
	}

	mon.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	var deny struct {
		ChannelID string `json:"channel_id"`
		Reason    string `json:"reason"`
	}
	if err := mon.Await(opFloorDeny).Decode(&deny); err != nil || deny.Reason != "listen_only" || deny.ChannelID != "CH_0001" {
		t.Fatalf("FLOOR_DENY %+v %v", deny, err)
	}
	bob.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	bob.Await(opFloorGranted)
	mon.Await(opFloorTaken)

	bad, err := os.ReadFile("../../../testdata/sdp/bad/ssrc-no-value.sdp")
	if err != nil {
		t.Fatal(err)
	}
	eve := s.client("eve", 100)
	if code := eve.RequestError(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": string(bad)}); code != 2006 {
		t.Fatalf("bare a=ssrc offer: ERROR %d, want 2006", code)
	}
	eve.ExpectNone(100 * time.Millisecond)
}
