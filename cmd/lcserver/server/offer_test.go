package server

import "testing"

// TestBadOfferLeavesTheChannelAsItWas: a CHANNEL_JOIN with a bad SDP offer is refused with
// 2006 before it reaches the channel — even by a member, whose membership, floor and media
// stay as they were, and even for a full or unknown channel (2006 comes first).
func TestBadOfferLeavesTheChannelAsItWas(t *testing.T) {
	s := start(t, nil)
	alice, bob := s.client("alice", 100), s.client("bob", 100)
	alice.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	alice.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	alice.Expect(opFloorGranted)

	// A join by a member would be 2003 from the channel; the offer is judged first.
	if code := alice.RequestError(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": "v=0 garbage"}); code != 2006 {
		t.Fatalf("member's JOIN with a bad offer: %d, want 2006", code)
	}
	if code := bob.RequestError(opChannelJoin, d{"channel_id": "nowhere", "sdp_offer": "v=0 garbage"}); code != 2006 {
		t.Fatalf("JOIN of an unknown channel with a bad offer: %d, want 2006", code)
	}
	if code := bob.RequestError(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": "v=0 garbage"}); code != 2006 {
		t.Fatalf("JOIN with a bad offer: %d, want 2006", code)
	}

	info := bob.Request(opChannelInfo, d{"channel_id": "CH_0001"}).Map()
	members, _ := info["members"].([]any)
	floor, _ := info["floor"].(map[string]any)
	if len(members) != 1 || num(t, info, "member_count") != 1 || floor["state"] != "taken" || floor["holder"] != "alice" {
		t.Fatalf("INFO after bad offers = %v, want alice alone, holding the floor", info)
	}
	// The next join alice hears of is bob's good one: the bad ones made no event.
	bob.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	if ev := alice.Await(opChannelEvent).Map(); ev["event"] != "join" || ev["user_id"] != "bob" {
		t.Fatalf("alice's next CHANNEL_EVENT = %v, want bob's join", ev)
	}
	if got := s.metric("livechat_peers"); got != 0 {
		t.Fatalf("livechat_peers = %v after refused offers, want 0", got)
	}
}
