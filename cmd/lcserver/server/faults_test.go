package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// Fault tests of the control plane (docs/reliability.md, "Faults").

// A queued member whose device vanishes (TCP gone, no close handshake) leaves the queue at
// once: the others see it leave, and the floor goes to the next one still there.
func TestFaultClientGoneMidQueue(t *testing.T) {
	s := start(t, nil)
	alice, carol := s.client("alice", 100), s.client("carol", 100)
	bob := wstest.Dial(t, s.ws)
	bob.Identify("bob", mintFor(t, "bob", 100), -1)
	for _, c := range []*wstest.Client{alice, bob, carol} {
		c.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	}
	alice.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	alice.Await(opFloorGranted)
	bob.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	expectEvent(t, bob, opFloorQueuePos, d{"position": float64(1)})
	carol.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	expectEvent(t, carol, opFloorQueuePos, d{"position": float64(2)})

	bob.Drop()
	expectEvent(t, alice, opChannelEvent, d{"channel_id": "CH_0001", "event": "leave", "user_id": "bob"})
	_, body := s.get("/channels/CH_0001")
	var ch struct {
		Queue []struct {
			UserID string `json:"user_id"`
		} `json:"queue"`
	}
	if err := json.Unmarshal([]byte(body), &ch); err != nil || len(ch.Queue) != 1 || ch.Queue[0].UserID != "carol" {
		t.Fatalf("queue after bob vanished: %s (%v), want carol alone", body, err)
	}
	alice.Send(opFloorRelease, d{"channel_id": "CH_0001"})
	carol.Await(opFloorGranted)
	expectEvent(t, alice, opFloorTaken, d{"user_id": "carol"})
}

// A client that sends CHANNEL_JOIN with an SDP offer and vanishes before the ACK: the join
// still completes inside the server, the ending session leaves it again, and no member and
// no media peer is left behind.
func TestFaultClientGoneMidJoin(t *testing.T) {
	s, mp, _ := startWithMedia(t)
	watcher := s.client("watcher", 100)
	watcher.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	for i := range 5 {
		c := wstest.Dial(t, s.ws)
		c.Identify("ghost", mintFor(t, "ghost", 100), -1)
		pc := peertest.NewClient(t, "ghost")
		c.Send(opChannelJoin, d{"channel_id": "CH_0002", "sdp_offer": pc.Offer(t)})
		c.Drop()
		pc.Close()
		// The connection counts as open until its session has stopped, which it does only
		// after the join in flight was answered and left again.
		actortest.Eventually(t, 5*time.Second, "ghost's connection ended", func() bool { return s.metric("livechat_sessions") == 1 })
		if n, u := s.channelMembers("CH_0002"), s.users(); n != 1 || u != 1 {
			t.Fatalf("round %d: %d members and %d users after the ghost's session ended, want the watcher alone", i, n, u)
		}
		actortest.Eventually(t, 5*time.Second, "ghost's media peer stopped", func() bool { return len(mp.Peers()) == 0 })
	}
	watcher.Request(opChannelInfo, d{"channel_id": "CH_0002"})
}
