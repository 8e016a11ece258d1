package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media/clock"
)

// This file proves docs/protocol.md, docs/floor-control.md and docs/operations.md §1 sentence by
// sentence against the real in-process server. Exactness tests compare the complete list of frames
// each client received, not just "some frame like this arrived".

// settle returns every frame c has received before the answer to a CHANNEL_INFO of ch. The
// INFO goes session → directory → channel and back, so every event the directory or the
// channel sent to c before handling it is already in c's queue ahead of the answer: the result
// is exactly what c got from everything the test did so far — provided the last action was
// c's own frame (same connection, so it is handled first) or its effect was already seen.
func settle(t *testing.T, c *wstest.Client, ch string) []string {
	t.Helper()
	nonce := fmt.Sprintf("settle-%p-%d", c, time.Now().UnixNano())
	if err := c.SendErr(opChannelInfo, d{"channel_id": ch, "nonce": nonce}); err != nil {
		t.Fatalf("settle: %v", err)
	}
	var got []string
	for i := 0; i < 1000; i++ {
		f, err := c.NextErr()
		if err != nil {
			t.Fatalf("settle: %v (after %v)", err, got)
		}
		if (f.Op == opAck || f.Op == opError) && strings.Contains(string(f.D), `"nonce":"`+nonce+`"`) {
			return got
		}
		got = append(got, fmt.Sprintf("%d %s", f.Op, f.D))
	}
	t.Fatalf("settle: no answer among 1000 frames")
	return nil
}

// wantFrames checks that c received exactly want (op and raw JSON of d) since the last settle.
func wantFrames(t *testing.T, who string, c *wstest.Client, ch string, want ...string) {
	t.Helper()
	got := settle(t, c, ch)
	if !slices.Equal(got, want) {
		t.Fatalf("%s received\n  %s\nwant\n  %s", who, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// keys returns the sorted keys of a JSON object.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func wantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keys(m); !slices.Equal(got, want) {
		t.Fatalf("%s has keys %v, want %v (%v)", what, got, want, m)
	}
}

func post(t *testing.T, s *testServer, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.http+path, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// docs/floor-control.md, "Every transition": exact fan-out, queue position updates, preemption,
// release, disconnect and admin revoke: every member's complete list of floor frames, in order.
func TestSpecFloorFanOutIsExact(t *testing.T) {
	s := start(t, nil)
	const ch = "CH_0001"
	alice, bob, carol, dave := s.client("alice", 200), s.client("bob", 100), s.client("carol", 255), s.client("dave", 100)
	eve := s.client("eve", 255) // identified, never joins: sees no floor event at all
	all := map[string]*wstest.Client{"alice": alice, "bob": bob, "carol": carol, "dave": dave}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		all[u].Request(opChannelJoin, d{"channel_id": ch})
	}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		settle(t, all[u], ch) // drain the join events
	}
	const (
		grantedC255 = `110 {"channel_id":"CH_0001","priority":255,"max_duration_ms":30000}`
		takenC255   = `112 {"channel_id":"CH_0001","user_id":"carol","priority":255}`
		idle        = `113 {"channel_id":"CH_0001"}`
	)
	pos := func(p, n int) string {
		return fmt.Sprintf(`115 {"channel_id":"CH_0001","position":%d,"size":%d}`, p, n)
	}

	// Idle + request → GRANTED to the requester only, TAKEN to every other member.
	carol.Send(opFloorRequest, d{"channel_id": ch, "priority": 255})
	wantFrames(t, "carol", carol, ch, grantedC255)
	for _, u := range []string{"alice", "bob", "dave"} {
		wantFrames(t, u, all[u], ch, takenC255)
	}
	wantFrames(t, "eve", eve, ch)

	// Queued requests: the requester learns its position; nobody else hears of it while no
	// other queued member's position changes.
	bob.Send(opFloorRequest, d{"channel_id": ch})
	wantFrames(t, "bob", bob, ch, pos(1, 1))
	dave.Send(opFloorRequest, d{"channel_id": ch})
	wantFrames(t, "dave", dave, ch, pos(2, 2))
	wantFrames(t, "bob", bob, ch)
	// A higher priority (still below the holder's) goes ahead: everyone behind it moves.
	alice.Send(opFloorRequest, d{"channel_id": ch, "priority": 200})
	wantFrames(t, "alice", alice, ch, pos(1, 3))
	wantFrames(t, "bob", bob, ch, pos(2, 3))
	wantFrames(t, "dave", dave, ch, pos(3, 3))
	wantFrames(t, "carol", carol, ch)

	// A queued member releasing leaves the queue (told with position 0, docs/floor-control.md);
	// those behind it move up, those ahead hear nothing.
	bob.Send(opFloorRelease, d{"channel_id": ch})
	wantFrames(t, "bob", bob, ch, pos(0, 2))
	wantFrames(t, "dave", dave, ch, pos(2, 2))
	wantFrames(t, "alice", alice, ch)
	wantFrames(t, "carol", carol, ch)

	// FLOOR_RELEASE by the holder: the queue head is granted; the others, the releaser
	// included, see TAKEN; the rest of the queue moves up.
	carol.Send(opFloorRelease, d{"channel_id": ch})
	takenA := `112 {"channel_id":"CH_0001","user_id":"alice","priority":200}`
	wantFrames(t, "carol", carol, ch, takenA)
	wantFrames(t, "alice", alice, ch, `110 {"channel_id":"CH_0001","priority":200,"max_duration_ms":30000}`)
	wantFrames(t, "bob", bob, ch, takenA)
	wantFrames(t, "dave", dave, ch, takenA, pos(1, 1))

	// bob asks for emergency without the right: capped silently to 100 and queued.
	bob.Send(opFloorRequest, d{"channel_id": ch, "priority": 255})
	wantFrames(t, "bob", bob, ch, pos(2, 2))
	wantFrames(t, "alice", alice, ch)

	// Preemption: REVOKE preempted to the old holder, then TAKEN like every other member; it
	// is not re-queued, and the queue order is unchanged (no position updates).
	carol.Send(opFloorRequest, d{"channel_id": ch, "priority": 255})
	wantFrames(t, "carol", carol, ch, grantedC255)
	wantFrames(t, "alice", alice, ch, `114 {"channel_id":"CH_0001","reason":"preempted"}`, takenC255)
	wantFrames(t, "bob", bob, ch, takenC255)
	wantFrames(t, "dave", dave, ch, takenC255)
	info := alice.Request(opChannelInfo, d{"channel_id": ch}).Map()
	if q, _ := json.Marshal(info["queue"]); string(q) != `[{"priority":100,"user_id":"dave"},{"priority":100,"user_id":"bob"}]` {
		t.Fatalf("queue after preemption = %s, want dave then bob (alice not re-queued)", q)
	}

	// The holder disconnects: it gets nothing; the others see the next GRANTED/TAKEN.
	carol.Drop()
	actortest.Eventually(t, 3*time.Second, "carol's disconnect handled", func() bool { return s.channelMembers(ch) == 3 })
	leftC := `100 {"channel_id":"CH_0001","event":"leave","user_id":"carol"}`
	wantFrames(t, "dave", dave, ch, leftC, `110 {"channel_id":"CH_0001","priority":100,"max_duration_ms":30000}`)
	takenD := `112 {"channel_id":"CH_0001","user_id":"dave","priority":100}`
	wantFrames(t, "alice", alice, ch, leftC, takenD)
	wantFrames(t, "bob", bob, ch, leftC, takenD, pos(1, 1))

	// The holder leaves: it gets only its ACK; the others see the leave and the next grant.
	if f := dave.Request(opChannelLeave, d{"channel_id": ch}).Map(); f["channel_id"] != ch {
		t.Fatalf("LEAVE ACK = %v", f)
	}
	wantFrames(t, "dave", dave, ch)
	leftD := `100 {"channel_id":"CH_0001","event":"leave","user_id":"dave"}`
	wantFrames(t, "bob", bob, ch, leftD, `110 {"channel_id":"CH_0001","priority":100,"max_duration_ms":30000}`)
	wantFrames(t, "alice", alice, ch, leftD, `112 {"channel_id":"CH_0001","user_id":"bob","priority":100}`)

	// Release with an empty queue: FLOOR_IDLE to every member, the releaser included.
	bob.Send(opFloorRelease, d{"channel_id": ch})
	wantFrames(t, "bob", bob, ch, idle)
	wantFrames(t, "alice", alice, ch, idle)
	wantFrames(t, "dave (left)", dave, ch)
	wantFrames(t, "eve", eve, ch)

	// FLOOR_RELEASE from a member neither holding nor queued → not_holder; from a
	// non-member → not_member. Only the asker hears.
	alice.Send(opFloorRelease, d{"channel_id": ch})
	wantFrames(t, "alice", alice, ch, `111 {"channel_id":"CH_0001","reason":"not_holder"}`)
	eve.Send(opFloorRequest, d{"channel_id": ch})
	wantFrames(t, "eve", eve, ch, `111 {"channel_id":"CH_0001","reason":"not_member"}`)
	wantFrames(t, "bob", bob, ch)

	// FLOOR_PING → FLOOR_PONG {channel_id} to the holder only; the holder asking again is
	// denied already_granted.
	alice.Send(opFloorRequest, d{"channel_id": ch})
	wantFrames(t, "alice", alice, ch, `110 {"channel_id":"CH_0001","priority":100,"max_duration_ms":30000}`)
	wantFrames(t, "bob", bob, ch, `112 {"channel_id":"CH_0001","user_id":"alice","priority":100}`)
	alice.Send(opFloorPing, d{"channel_id": ch})
	alice.Send(opFloorRequest, d{"channel_id": ch})
	wantFrames(t, "alice", alice, ch, `116 {"channel_id":"CH_0001"}`, `111 {"channel_id":"CH_0001","reason":"already_granted"}`)
	bob.Send(opFloorRequest, d{"channel_id": ch})
	wantFrames(t, "bob", bob, ch, pos(1, 1))

	// Admin revoke: REVOKE admin to the holder only, queue cleared, IDLE to every member.
	code, body := post(t, s, "/admin/floor-revoke/"+ch)
	if code != http.StatusOK || body["channel_id"] != ch || body["revoked_from"] != "alice" {
		t.Fatalf("floor-revoke = %d %v", code, body)
	}
	wantKeys(t, "floor-revoke answer", body, "channel_id", "revoked_from")
	wantFrames(t, "alice", alice, ch, `114 {"channel_id":"CH_0001","reason":"admin"}`, idle)
	wantFrames(t, "bob", bob, ch, idle)
	if q := alice.Request(opChannelInfo, d{"channel_id": ch}).Map()["queue"].([]any); len(q) != 0 {
		t.Fatalf("queue after admin revoke = %v, want empty", q)
	}
	// Revoke of an idle floor: revoked_from null (present), and nobody hears anything.
	code, body = post(t, s, "/admin/floor-revoke/"+ch)
	if v, ok := body["revoked_from"]; code != http.StatusOK || !ok || v != nil {
		t.Fatalf("revoke of an idle floor = %d %v, want revoked_from null", code, body)
	}
	wantFrames(t, "alice", alice, ch)
	wantFrames(t, "bob", bob, ch)
	if code, body = post(t, s, "/admin/floor-revoke/nowhere"); code != http.StatusNotFound || body["error"] == nil || body["code"] == nil {
		t.Fatalf("revoke of an unknown channel = %d %v, want 404 {error, code}", code, body)
	}
}

// docs/floor-control.md: max_duration revokes the holder and the floor moves on.
func TestSpecFloorMaxDurationRevokes(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s := start(t, func(c *Config) { c.FloorMaxDuration, c.Clock = 200*time.Millisecond, clk })
	a, b := s.client("a", 100), s.client("b", 100)
	a.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	b.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	a.Send(opFloorRequest, d{"channel_id": "CH_0002"})
	g := a.Await(opFloorGranted).Map()
	if num(t, g, "max_duration_ms") != 200 {
		t.Fatalf("GRANTED = %v, want max_duration_ms 200", g)
	}
	b.Send(opFloorRequest, d{"channel_id": "CH_0002"})
	b.Await(opFloorQueuePos)
	// Pings keep the ping timer alive but not the max-duration timer: a ping, its answer, then
	// 20 ms more on the clock, until the revoke (at 200 ms: the eleventh answer at the latest).
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("no FLOOR_REVOKE after the max duration")
		}
		a.Send(opFloorPing, d{"channel_id": "CH_0002"})
		f := a.Next()
		if f.Op == opFloorRevoke {
			if f.Map()["reason"] != "max_duration" {
				t.Fatalf("REVOKE = %v, want max_duration", f)
			}
			break
		}
		clk.Advance(20 * time.Millisecond)
	}
	expectEvent(t, b, opFloorGranted, d{"channel_id": "CH_0002"})
	expectEvent(t, a, opFloorTaken, d{"channel_id": "CH_0002", "user_id": "b"})
}

// docs/protocol.md: HELLO and READY payloads, exactly.
func TestSpecHelloAndReadyPayloads(t *testing.T) {
	s := start(t, nil)
	c := wstest.Dial(t, s.ws)
	defer c.Close()
	if c.HeartbeatInterval != 10000 {
		t.Fatalf("HELLO heartbeat_interval = %d, want 10000", c.HeartbeatInterval)
	}
	_, f, err := c.IdentifyErr("alice", mintFor(t, "alice", 50), -1)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Map()
	wantKeys(t, "READY", r, "session_id", "user_id", "priority", "heartbeat_interval")
	if id, _ := r["session_id"].(string); id == "" || r["user_id"] != "alice" || num(t, r, "priority") != 50 || num(t, r, "heartbeat_interval") != 10000 {
		t.Fatalf("READY = %v, want priority min(100, max_priority) = 50", r)
	}

	// An explicit priority within the token's right is taken as is.
	c2 := wstest.Dial(t, s.ws)
	defer c2.Close()
	if r := c2.Identify("bob", mintFor(t, "bob", 255), 200); r.Priority != 200 {
		t.Fatalf("READY priority = %d, want 200", r.Priority)
	}
}

// docs/protocol.md: priority 0 is a priority like any other. A token with max_priority 0 (or an
// IDENTIFY asking for 0) must not end up at the default 100 once the user joins or talks.
func TestSpecPriorityZeroIsNotPromoted(t *testing.T) {
	s := start(t, nil)
	low := wstest.Dial(t, s.ws)
	defer low.Close()
	if r := low.Identify("low", mintFor(t, "low", 0), -1); r.Priority != 0 {
		t.Fatalf("READY priority = %d, want 0 for max_priority 0", r.Priority)
	}
	ack := low.Request(opChannelJoin, d{"channel_id": "CH_0001"}).Map()
	if m, _ := json.Marshal(ack["active_members"]); string(m) != `[{"priority":0,"user_id":"low"}]` {
		t.Fatalf("JOIN active_members = %s, want low at priority 0", m)
	}
	low.Send(opFloorRequest, d{"channel_id": "CH_0001", "priority": 100})
	if g := low.Await(opFloorGranted).Map(); num(t, g, "priority") != 0 {
		t.Fatalf("GRANTED = %v, want priority capped to 0", g)
	}
	low.Send(opFloorRelease, d{"channel_id": "CH_0001"})
	low.Await(opFloorIdle)

	// A priority-1 member preempts a priority-0 holder.
	one := wstest.Dial(t, s.ws)
	defer one.Close()
	one.Identify("one", mintFor(t, "one", 100), 1)
	one.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	low.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	low.Await(opFloorGranted)
	one.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	expectEvent(t, low, opFloorRevoke, d{"reason": "preempted"})
	if g := one.Await(opFloorGranted).Map(); num(t, g, "priority") != 1 {
		t.Fatalf("GRANTED = %v, want priority 1", g)
	}
}

// rfc3339ms is RFC 3339 with exactly three fraction digits.
var rfc3339ms = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)

// docs/protocol.md: the channel object, everywhere it appears, and CHANNEL_INFO's members and
// queue.
func TestSpecChannelObjectShape(t *testing.T) {
	s := start(t, nil)
	alice, bob := s.client("alice", 100), s.client("bob", 100)
	alice.Request(opChannelJoin, d{"channel_id": "CH_0003"})
	bob.Request(opChannelJoin, d{"channel_id": "CH_0003"})

	// Required fields; queue_size and creator are this server's documented additions.
	objKeys := []string{"channel_id", "freq", "channel_name", "capacity", "member_count", "created_at", "floor", "queue_size"}
	checkObj := func(what string, m map[string]any, state string, holder any) {
		t.Helper()
		got := keys(m)
		for _, k := range objKeys {
			if !slices.Contains(got, k) {
				t.Fatalf("%s lacks %s: %v", what, k, m)
			}
		}
		fl, _ := m["floor"].(map[string]any)
		wantKeys(t, what+" floor", fl, "state", "holder", "priority", "since")
		if fl["state"] != state || fl["holder"] != holder {
			t.Fatalf("%s floor = %v, want state %s holder %v", what, fl, state, holder)
		}
		if ts, _ := m["created_at"].(string); ts == "" {
			t.Fatalf("%s created_at = %v", what, m["created_at"])
		}
		if state == "taken" {
			if since, _ := fl["since"].(string); since == "" || num(t, fl, "priority") != 100 {
				t.Fatalf("%s taken floor = %v, want priority and since", what, fl)
			}
		}
	}
	findCH3 := func(what string, list []any) map[string]any {
		t.Helper()
		for _, x := range list {
			if m := x.(map[string]any); m["channel_id"] == "CH_0003" {
				return m
			}
		}
		t.Fatalf("%s has no CH_0003: %v", what, list)
		return nil
	}

	for _, state := range []string{"idle", "taken"} {
		var holder any
		if state == "taken" {
			alice.Send(opFloorRequest, d{"channel_id": "CH_0003"})
			alice.Await(opFloorGranted)
			bob.Send(opFloorRequest, d{"channel_id": "CH_0003"})
			bob.Await(opFloorQueuePos)
			holder = "alice"
		}
		list := alice.Request(opChannelList, nil).Map()
		wantKeys(t, "CHANNEL_LIST ACK", list, "channels", "req_op", "nonce")
		checkObj("CHANNEL_LIST item", findCH3("CHANNEL_LIST", list["channels"].([]any)), state, holder)

		var rest map[string]any
		if code := getJSON(t, s, "/channels", &rest); code != http.StatusOK {
			t.Fatalf("/channels = %d", code)
		}
		wantKeys(t, "GET /channels", rest, "channels")
		checkObj("GET /channels item", findCH3("GET /channels", rest["channels"].([]any)), state, holder)

		info := alice.Request(opChannelInfo, d{"channel_id": "CH_0003"}).Map()
		checkObj("CHANNEL_INFO", info, state, holder)
		var detail map[string]any
		getJSON(t, s, "/channels/CH_0003", &detail)
		checkObj("GET /channels/CH_0003", detail, state, holder)
		for what, m := range map[string]map[string]any{"CHANNEL_INFO": info, "GET /channels/{id}": detail} {
			members, _ := json.Marshal(m["members"])
			if string(members) != `[{"priority":100,"user_id":"alice"},{"priority":100,"user_id":"bob"}]` {
				t.Fatalf("%s members = %s", what, members)
			}
			queue, _ := json.Marshal(m["queue"])
			wantQ := `[]`
			if state == "taken" {
				wantQ = `[{"priority":100,"user_id":"bob"}]`
			}
			if string(queue) != wantQ {
				t.Fatalf("%s queue = %s, want %s", what, queue, wantQ)
			}
		}
	}
	if code, _ := s.get("/channels/nowhere"); code != http.StatusNotFound {
		t.Fatalf("/channels/nowhere = %d, want 404", code)
	}
}

// docs/protocol.md: CHANNEL_CREATE does not join the creator; CHANNEL_EVENT create, update and
// delete go to every identified session, join and leave to the channel's members only;
// JOIN ACK's shape; delete kicks the members and ends the channel actor.
func TestSpecChannelEventsReachTheRightSessions(t *testing.T) {
	s := start(t, nil)
	alice, bob, carol := s.client("alice", 100), s.client("bob", 100), s.client("carol", 100)
	anon := wstest.Dial(t, s.ws) // connected, never identified: no events
	defer anon.Close()
	const ch = "team-1"

	ack := alice.Request(opChannelCreate, d{"channel_id": ch, "freq": "0100", "channel_name": "팀 📢", "capacity": 5}).Map()
	if ack["channel_id"] != ch || ack["channel_name"] != "팀 📢" || num(t, ack, "member_count") != 0 || num(t, ack, "req_op") != opChannelCreate {
		t.Fatalf("CREATE ACK = %v", ack)
	}
	for name, c := range map[string]*wstest.Client{"alice": alice, "bob": bob, "carol": carol} {
		got := settle(t, c, ch)
		if len(got) != 1 || !strings.HasPrefix(got[0], `100 {"channel_id":"team-1","event":"create","channel":{`) {
			t.Fatalf("%s got %v, want exactly CHANNEL_EVENT create with the channel object", name, got)
		}
	}
	if m := settle(t, alice, ch); len(m) != 0 {
		t.Fatalf("extra frames %v", m)
	}
	if info := alice.Request(opChannelInfo, d{"channel_id": ch}).Map(); num(t, info, "member_count") != 0 {
		t.Fatalf("the creator was joined by CREATE: %v", info)
	}

	// JOIN ACK {channel_id, active_members, floor} (no sdp_answer without an offer); the
	// members already there get CHANNEL_EVENT join; non-members (the creator!) get nothing.
	jack := bob.Request(opChannelJoin, d{"channel_id": ch}).Map()
	wantKeys(t, "JOIN ACK", jack, "channel_id", "active_members", "floor", "req_op", "nonce")
	if m, _ := json.Marshal(jack["active_members"]); string(m) != `[{"priority":100,"user_id":"bob"}]` {
		t.Fatalf("JOIN ACK active_members = %s", m)
	}
	if fl := jack["floor"].(map[string]any); fl["state"] != "idle" || fl["holder"] != nil {
		t.Fatalf("JOIN ACK floor = %v", fl)
	}
	carol.Request(opChannelJoin, d{"channel_id": ch})
	wantFrames(t, "bob", bob, ch, `100 {"channel_id":"team-1","event":"join","user_id":"carol"}`)
	wantFrames(t, "carol", carol, ch)
	wantFrames(t, "alice (creator, not a member)", alice, ch)

	// UPDATE by the creator (not a member): update to every identified session.
	alice.Request(opChannelUpdate, d{"channel_id": ch, "capacity": 6})
	for name, c := range map[string]*wstest.Client{"alice": alice, "bob": bob, "carol": carol} {
		got := settle(t, c, ch)
		if len(got) != 1 || !strings.HasPrefix(got[0], `100 {"channel_id":"team-1","event":"update","channel":{`) || !strings.Contains(got[0], `"capacity":6`) {
			t.Fatalf("%s got %v, want exactly CHANNEL_EVENT update with capacity 6", name, got)
		}
	}

	// LEAVE: the leaver gets its ACK only, the other members the leave event.
	carol.Request(opChannelLeave, d{"channel_id": ch})
	wantFrames(t, "bob", bob, ch, `100 {"channel_id":"team-1","event":"leave","user_id":"carol"}`)
	wantFrames(t, "carol", carol, ch)
	wantFrames(t, "alice", alice, ch)

	// DELETE: every identified session gets delete; the member is kicked (no longer joined)
	// and the channel actor ends.
	if n := s.actorsNamed("channel-" + ch + "-"); n != 1 {
		t.Fatalf("channel actors before delete = %d, want 1", n)
	}
	bob.Send(opFloorRequest, d{"channel_id": ch})
	bob.Await(opFloorGranted)
	alice.Request(opChannelDelete, d{"channel_id": ch})
	for name, c := range map[string]*wstest.Client{"alice": alice, "bob": bob, "carol": carol} {
		got := settle(t, c, "CH_0001")
		if len(got) != 1 || !strings.HasPrefix(got[0], `100 {"channel_id":"team-1","event":"delete"`) {
			t.Fatalf("%s got %v, want exactly CHANNEL_EVENT delete", name, got)
		}
	}
	var bobDetail struct {
		Channels []string `json:"channels"`
	}
	if code := getJSON(t, s, "/admin/users/bob", &bobDetail); code != http.StatusOK || len(bobDetail.Channels) != 0 {
		t.Fatalf("bob after delete = %d %v, want no channels", code, bobDetail.Channels)
	}
	actortest.Eventually(t, 3*time.Second, "channel actor ended", func() bool { return s.actorsNamed("channel-"+ch+"-") == 0 })
	if code := bob.RequestError(opChannelInfo, d{"channel_id": ch}); code != 2000 {
		t.Fatalf("INFO after delete = %d, want 2000", code)
	}
	// The id is free again at once after the DELETE ACK.
	alice.Request(opChannelCreate, d{"channel_id": ch, "freq": "1", "channel_name": "again"})
	if f, err := anon.NextErrWithin(50 * time.Millisecond); err == nil {
		t.Fatalf("an unidentified connection got %v", f)
	}
}

// actorsNamed counts live actors whose id contains part.
func (s *testServer) actorsNamed(part string) int {
	n := 0
	for _, m := range s.srv.system.ProcessRegistry.LocalPIDs.LocalPIDs {
		for _, k := range m.Keys() {
			if strings.Contains(k, part) {
				n++
			}
		}
	}
	return n
}

// docs/protocol.md: ACK and ERROR always carry req_op, and nonce when the request had one — for
// every client op, answered well or badly, before and after IDENTIFY.
func TestSpecEveryAnswerEchoesReqOpAndNonce(t *testing.T) {
	s := start(t, nil)
	c := wstest.Dial(t, s.ws)
	defer c.Close()
	check := func(op int, body map[string]any, wantOp, wantCode int) {
		t.Helper()
		nonce := fmt.Sprintf("n-%d-%d", op, wantCode)
		m := map[string]any{"nonce": nonce}
		for k, v := range body {
			m[k] = v
		}
		c.Send(op, m)
		for {
			f := c.Next()
			if f.Op != opAck && f.Op != opError {
				continue // events
			}
			a := f.Map()
			if f.Op != wantOp || num(t, a, "req_op") != op || a["nonce"] != nonce {
				t.Fatalf("op %d %v answered %v, want op %d with req_op %d and nonce %s", op, body, f, wantOp, op, nonce)
			}
			if wantOp == opError {
				wantKeys(t, "ERROR", a, "code", "reason", "req_op", "nonce")
				if num(t, a, "code") != wantCode || a["reason"] == "" {
					t.Fatalf("op %d: %v, want code %d with a reason", op, a, wantCode)
				}
			}
			return
		}
	}
	for _, op := range []int{opChannelCreate, opChannelJoin, opChannelLeave, opChannelUpdate, opChannelDelete,
		opChannelList, opChannelInfo, opMessageCreate, opFloorRequest, opFloorRelease, opFloorPing} {
		check(op, d{"channel_id": "CH_0001"}, opError, 1000)
	}
	check(opIdentify, d{"user_id": "alice"}, opError, 1004)
	check(opIdentify, d{"user_id": "alice", "token": mintFor(t, "alice", 100), "priority": 101}, opError, 1007)
	check(77, nil, opError, 1003)
	c.Identify("alice", mintFor(t, "alice", 100), -1)
	check(opIdentify, d{"user_id": "alice", "token": mintFor(t, "alice", 100)}, opError, 1002)

	const ch = "echo-ch"
	check(opChannelCreate, d{"channel_id": ch, "freq": "1", "channel_name": "x"}, opAck, 0)
	check(opChannelCreate, d{"channel_id": ch, "freq": "1", "channel_name": "x"}, opError, 2005)
	check(opChannelCreate, d{"channel_id": "bad id", "freq": "1", "channel_name": "x"}, opError, 1004)
	check(opChannelJoin, d{"channel_id": ch}, opAck, 0)
	check(opChannelJoin, d{"channel_id": ch}, opError, 2003)
	check(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": "not sdp"}, opError, 2006)
	check(opChannelUpdate, d{"channel_id": ch, "channel_name": "y"}, opAck, 0)
	check(opChannelUpdate, d{"channel_id": "CH_0001", "channel_name": "y"}, opError, 2002)
	check(opChannelList, nil, opAck, 0)
	check(opChannelInfo, d{"channel_id": ch}, opAck, 0)
	check(opChannelInfo, d{"channel_id": "nowhere"}, opError, 2000)
	check(opMessageCreate, d{"channel_id": ch, "content": "hi"}, opAck, 0)
	check(opMessageCreate, d{"channel_id": ch, "content": ""}, opError, 3000)
	check(opMessageCreate, d{"channel_id": "CH_0001", "content": "hi"}, opError, 3002)
	check(opFloorRequest, d{"channel_id": "nowhere"}, opError, 2000)
	check(opFloorRelease, d{}, opError, 1004)
	check(opFloorPing, d{"channel_id": 5}, opError, 1004)
	check(opChannelLeave, d{"channel_id": ch}, opAck, 0)
	check(opChannelLeave, d{"channel_id": ch}, opError, 2004)
	check(opChannelDelete, d{"channel_id": "CH_0002"}, opError, 2002)
	check(opChannelDelete, d{"channel_id": ch}, opAck, 0)

	// A frame whose op cannot be read has no req_op to echo.
	if err := c.SendRaw([]byte(`{"d":{"nonce":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	if e := c.Await(opError).Map(); num(t, e, "code") != 1004 || e["req_op"] != nil {
		t.Fatalf("ERROR for a frame without op = %v", e)
	}
}

// docs/protocol.md: MESSAGE_EVENT shape, message_id a string, RFC 3339 milliseconds; the length
// limit counts Unicode code points (not bytes, not UTF-16 units).
func TestSpecMessagePayloadAndCodePoints(t *testing.T) {
	s := start(t, nil)
	alice, bob := s.client("alice", 100), s.client("bob", 100)
	alice.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	bob.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	settle(t, alice, "CH_0002")

	ack := alice.Request(opMessageCreate, d{"channel_id": "CH_0002", "content": "hello"}).Map()
	wantKeys(t, "MESSAGE_CREATE ACK", ack, "message_id", "req_op", "nonce")
	id, ok := ack["message_id"].(string)
	if !ok || id == "" {
		t.Fatalf("message_id = %#v, want a non-empty string", ack["message_id"])
	}
	for name, c := range map[string]*wstest.Client{"alice": alice, "bob": bob} {
		f := c.Await(opMessageEvent).Map()
		wantKeys(t, name+"'s MESSAGE_EVENT", f, "channel_id", "message_id", "user_id", "content", "timestamp")
		ts, _ := f["timestamp"].(string)
		if f["message_id"] != id || f["user_id"] != "alice" || f["content"] != "hello" || !rfc3339ms.MatchString(ts) {
			t.Fatalf("%s's MESSAGE_EVENT = %v (timestamp must be RFC 3339 with milliseconds)", name, f)
		}
	}
	// 2000 astral code points (4 UTF-8 bytes, 2 UTF-16 units each) are allowed; 2001 are not.
	alice.Request(opMessageCreate, d{"channel_id": "CH_0002", "content": strings.Repeat("😀", 2000)})
	if code := alice.RequestError(opMessageCreate, d{"channel_id": "CH_0002", "content": strings.Repeat("😀", 2001)}); code != 3001 {
		t.Fatalf("2001 code points: %d, want 3001", code)
	}
	if code := alice.RequestError(opMessageCreate, d{"channel_id": "CH_0002", "content": "   "}); code != 3000 {
		t.Fatalf("blank message: %d, want 3000", code)
	}
}

// docs/protocol.md: ids match [A-Za-z0-9_-]{1,64}, else 1004.
func TestSpecIDPattern(t *testing.T) {
	s := start(t, nil)
	c := s.client("alice", 100)
	long := strings.Repeat("a", 64)
	c.Request(opChannelCreate, d{"channel_id": long, "freq": "1", "channel_name": "x"})
	c.Request(opChannelCreate, d{"channel_id": "A-z_09", "freq": "1", "channel_name": "x"})
	for _, bad := range []string{"", long + "a", "a b", "a.b", "é", "a/b", "채널", "a\x00"} {
		if code := c.RequestError(opChannelCreate, d{"channel_id": bad, "freq": "1", "channel_name": "x"}); code != 1004 {
			t.Fatalf("CREATE %q: %d, want 1004", bad, code)
		}
		if code := c.RequestError(opChannelJoin, d{"channel_id": bad}); code != 1004 {
			t.Fatalf("JOIN %q: %d, want 1004", bad, code)
		}
	}
	for _, bad := range []string{"", long + "a", "bob smith", "bob@x"} {
		u := wstest.Dial(t, s.ws)
		u.Send(opIdentify, d{"user_id": bad, "token": mintFor(t, "x", 100)})
		if e := u.Expect(opError).Map(); num(t, e, "code") != 1004 {
			t.Fatalf("IDENTIFY user_id %q: %v, want 1004", bad, e)
		}
		u.Close()
	}
	u := wstest.Dial(t, s.ws)
	defer u.Close()
	if r := u.Identify(long, mintFor(t, long, 100), -1); r.UserID != long {
		t.Fatalf("READY = %+v", r)
	}
}

// docs/protocol.md: an invalid token closes with 4001 and a reason; so does a token of another alg.
func TestSpecInvalidTokenClosesWith4001AndAReason(t *testing.T) {
	s := start(t, nil)
	for name, tok := range map[string]string{
		"garbage":  "not-a-jwt",
		"alg none": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.",
	} {
		c := wstest.Dial(t, s.ws)
		c.Send(opIdentify, d{"user_id": "alice", "token": tok, "nonce": "t"})
		if e := c.Expect(opError).Map(); num(t, e, "code") != 1001 || e["nonce"] != "t" || num(t, e, "req_op") != opIdentify {
			t.Fatalf("%s: %v, want 1001 with req_op and nonce", name, e)
		}
		if cl := c.ExpectClosed(); cl.Code != 4001 || cl.Reason == "" {
			t.Fatalf("%s: closed %d %q, want 4001 with a reason", name, cl.Code, cl.Reason)
		}
		c.Close()
	}
}

// docs/operations.md §1: REST shapes against the real server, public routes public even with an
// admin token, errors as {error, code}.
func TestSpecRESTShapes(t *testing.T) {
	s := start(t, func(c *Config) { c.AdminToken = "sesame"; c.Version = "v9" })
	alice := s.client("alice", 100)
	alice.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	alice.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	alice.Await(opFloorGranted)

	adminGet := func(path string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.http+path, nil)
		req.Header.Set("Authorization", "Bearer sesame")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s Content-Type = %q", path, ct)
		}
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode, m
	}
	code, st := adminGet("/admin/status")
	wantKeys(t, "/admin/status", st, "uptime_s", "users", "channels", "peers", "floor_active", "version")
	for _, k := range []string{"uptime_s", "users", "channels", "peers", "floor_active"} {
		if _, ok := st[k].(float64); !ok {
			t.Fatalf("/admin/status %s = %#v, want a number", k, st[k])
		}
	}
	if code != 200 || st["users"] != 1.0 || st["channels"] != 3.0 || st["floor_active"] != 1.0 || st["version"] != "v9" {
		t.Fatalf("/admin/status = %d %v", code, st)
	}
	for path, key := range map[string]string{"/admin/users": "users", "/admin/channels": "channels", "/admin/peers": "peers"} {
		code, m := adminGet(path)
		if _, ok := m[key].([]any); code != 200 || !ok || len(m) != 1 {
			t.Fatalf("%s = %d %v, want {%s: [...]}", path, code, m, key)
		}
	}
	_, users := adminGet("/admin/users")
	u := users["users"].([]any)[0].(map[string]any)
	for _, k := range []string{"user_id", "priority", "since_heartbeat_s"} {
		if _, ok := u[k]; !ok {
			t.Fatalf("/admin/users item lacks %s: %v", k, u)
		}
	}
	_, chans := adminGet("/admin/channels")
	for _, x := range chans["channels"].([]any) {
		c := x.(map[string]any)
		if c["channel_id"] == "CH_0001" && (c["floor"].(map[string]any)["holder"] != "alice" || c["queue_size"] != 0.0) {
			t.Fatalf("/admin/channels CH_0001 = %v, want holder alice and queue_size 0", c)
		}
	}
	_, detail := adminGet("/admin/channels/CH_0001")
	for _, k := range []string{"members", "queue", "peers", "floor"} {
		if _, ok := detail[k]; !ok {
			t.Fatalf("/admin/channels/CH_0001 lacks %s: %v", k, detail)
		}
	}
	_, ud := adminGet("/admin/users/alice")
	if chs, _ := ud["channels"].([]any); len(chs) != 1 || chs[0] != "CH_0001" {
		t.Fatalf("/admin/users/alice = %v", ud)
	}
	for _, path := range []string{"/admin/users/nobody", "/admin/channels/nowhere", "/admin/peers/AAAAAAAAAAAAAAAA"} {
		code, m := adminGet(path)
		wantKeys(t, path, m, "error", "code")
		if code != http.StatusNotFound {
			t.Fatalf("%s = %d, want 404", path, code)
		}
	}
	// Public routes need no token.
	if code, _ := s.get("/admin/status"); code != http.StatusUnauthorized {
		t.Fatalf("/admin/status without the token = %d, want 401", code)
	}
	for _, path := range []string{"/healthz", "/metrics", "/channels", "/channels/CH_0001"} {
		if code, body := s.get(path); code != http.StatusOK {
			t.Fatalf("%s = %d %s, want 200 without a token", path, code, body)
		}
	}
	resp, err := http.Get(s.http + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("/ = %d %q, want text/html", resp.StatusCode, ct)
	}
}

// docs/protocol.md: more than 20 bad frames within 10 s close with 4004 — 20 do not; every other
// error leaves the session usable.
func TestSpecBadFrameLimitBoundary(t *testing.T) {
	s := start(t, nil)
	c := s.client("alice", 100)
	for i := 0; i < 20; i++ {
		if err := c.SendRaw([]byte(`{"op":`)); err != nil {
			t.Fatal(err)
		}
		if e := c.Expect(opError).Map(); num(t, e, "code") != 1004 {
			t.Fatalf("bad frame %d: %v", i+1, e)
		}
	}
	// Errors of other kinds (2xxx, 3xxx) are no bad frames, and the session still works.
	for i := 0; i < 5; i++ {
		if code := c.RequestError(opChannelInfo, d{"channel_id": "nowhere"}); code != 2000 {
			t.Fatalf("INFO of an unknown channel: %d", code)
		}
	}
	c.Request(opChannelList, nil)
	if err := c.SendRaw([]byte(`{"op":`)); err != nil {
		t.Fatal(err)
	}
	if cl := c.ExpectClosed(); cl.Code != 4004 || cl.Reason == "" {
		t.Fatalf("21st bad frame: closed %d %q, want 4004 with a reason", cl.Code, cl.Reason)
	}
}

// docs/operations.md §11: the built-in preset channels.
func TestSpecPresetChannels(t *testing.T) {
	s := start(t, nil)
	var list struct {
		Channels []struct {
			ChannelID   string `json:"channel_id"`
			Freq        string `json:"freq"`
			ChannelName string `json:"channel_name"`
			Capacity    int    `json:"capacity"`
			MemberCount int    `json:"member_count"`
		} `json:"channels"`
	}
	if code := getJSON(t, s, "/channels", &list); code != http.StatusOK {
		t.Fatalf("/channels = %d", code)
	}
	got, _ := json.Marshal(list.Channels)
	want := `[{"channel_id":"CH_0001","freq":"0001","channel_name":"📢 영업/시연","capacity":20,"member_count":0},` +
		`{"channel_id":"CH_0002","freq":"0002","channel_name":"🤝 스스 파트너스","capacity":20,"member_count":0},` +
		`{"channel_id":"CH_0003","freq":"0003","channel_name":"🏠 동천 패밀리","capacity":20,"member_count":0}]`
	if string(got) != want {
		t.Fatalf("presets = %s\nwant %s", got, want)
	}
}

// docs/protocol.md, "Error codes": the chat limit is configurable; the channel is the one place
// that judges it.
func TestSpecMessageLengthIsConfigurable(t *testing.T) {
	s := start(t, func(c *Config) { c.MaxMessageLength = 5 })
	c := s.client("alice", 100)
	c.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	c.Request(opMessageCreate, d{"channel_id": "CH_0001", "content": "안녕하세요"})
	if code := c.RequestError(opMessageCreate, d{"channel_id": "CH_0001", "content": "안녕하세요!"}); code != 3001 {
		t.Fatalf("6 code points over a limit of 5: %d, want 3001", code)
	}
	if code := c.RequestError(opMessageCreate, d{"channel_id": "CH_0001"}); code != 1004 {
		t.Fatalf("MESSAGE_CREATE without content: %d, want 1004", code)
	}
}

// docs/protocol.md, "Connection flow": any application frame, not only HEARTBEAT, proves liveness;
// WebSocket pings alone do not (TestZombieSessionIsReapedLikeADisconnect).
func TestSpecAnyApplicationFrameKeepsASessionAlive(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s := start(t, func(c *Config) { c.Clock = clk })
	def := Defaults()
	zombie := 2*def.HeartbeatInterval + def.HeartbeatGrace
	step := zombie * 4 / 5
	c := s.client("alice", 100)
	c.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	// Eight steps of 4/5 of a zombie period (more than six periods) of chat, list and floor
	// pings but no HEARTBEAT: each frame is answered (so the gateway has seen it) before the
	// clock moves on.
	for i := 0; i < 8; i++ {
		switch i % 3 {
		case 0:
			c.Request(opMessageCreate, d{"channel_id": "CH_0001", "content": "still here"})
		case 1:
			c.Request(opChannelList, nil)
		default:
			c.Send(opFloorPing, d{"channel_id": "CH_0001"})
			c.Await(opFloorDeny)
		}
		clk.Advance(step)
	}
	if cl, closed := c.ClosedInfo(); closed {
		t.Fatalf("closed %d %q while sending application frames", cl.Code, cl.Reason)
	}
	if n := s.channelMembers("CH_0001"); n != 1 {
		t.Fatalf("members = %d, want alice still there", n)
	}
	// The same clock does close a session that goes silent for a zombie period. (The writer
	// re-arms its timer on its own goroutine, so time moves on until the close is seen.)
	clk.Advance(zombie)
	actortest.Eventually(t, 5*time.Second, "the silent session closed", func() bool {
		_, closed := c.ClosedInfo()
		if !closed {
			clk.Advance(time.Second)
		}
		return closed
	})
	if cl, _ := c.ClosedInfo(); cl.Code != 4003 {
		t.Fatalf("silent session closed %d %q, want 4003", cl.Code, cl.Reason)
	}
}

// docs/protocol.md: a frame of exactly 64 KiB is accepted; one byte more is ERROR 1006 and
// close 1009.
func TestSpecFrameSizeBoundary(t *testing.T) {
	s := start(t, nil)
	frameOf := func(size int) []byte {
		head, tail := `{"op":1,"d":{"pad":"`, `"}}`
		return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
	}
	c := s.client("alice", 100)
	if err := c.SendRaw(frameOf(64 << 10)); err != nil {
		t.Fatal(err)
	}
	c.Expect(opHeartbeatAck)
	if err := c.SendRaw(frameOf(64<<10 + 1)); err != nil {
		t.Fatal(err)
	}
	if e := c.Expect(opError).Map(); num(t, e, "code") != 1006 {
		t.Fatalf("64 KiB + 1: %v, want 1006", e)
	}
	if cl := c.ExpectClosed(); cl.Code != 1009 || cl.Reason == "" {
		t.Fatalf("closed %d %q, want 1009 with a reason", cl.Code, cl.Reason)
	}
}
