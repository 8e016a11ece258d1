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

	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// This file proves SPEC §4, §4.1, §5 and §7 sentence by sentence against the real in-process
// server. Exactness tests compare the complete list of frames each client received, not just
// "some frame like this arrived".

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

// SPEC §5 "Exact fan-out", queue position updates, preemption, release, disconnect and admin
// revoke: every member's complete list of floor frames, in order.
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
	eventually(t, 3*time.Second, "carol's disconnect handled", func() bool { return s.channelMembers(ch) == 3 })
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

// SPEC §5: max_duration revokes the holder and the floor moves on.
func TestSpecFloorMaxDurationRevokes(t *testing.T) {
	s := start(t, func(c *Config) { c.FloorMaxDuration = 200 * time.Millisecond })
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
	// Pings keep the ping timer alive but not the max-duration timer.
	for {
		a.Send(opFloorPing, d{"channel_id": "CH_0002"})
		f := a.Next()
		if f.Op == opFloorRevoke {
			if f.Map()["reason"] != "max_duration" {
				t.Fatalf("REVOKE = %v, want max_duration", f)
			}
			break
		}
		time.Sleep(20 * time.Millisecond) // ping pace of a holder, not synchronisation
	}
	expectEvent(t, b, opFloorGranted, d{"channel_id": "CH_0002"})
	expectEvent(t, a, opFloorTaken, d{"channel_id": "CH_0002", "user_id": "b"})
}

// SPEC §4 / §4.1: HELLO and READY payloads, exactly.
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

// SPEC §4 / §4.1: priority 0 is a priority like any other. A token with max_priority 0 (or an
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

// SPEC §4.1: the channel object, everywhere it appears, and CHANNEL_INFO's members and queue.
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

// SPEC §4 / §4.1: CHANNEL_CREATE does not join the creator; CHANNEL_EVENT create, update and
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
	eventually(t, 3*time.Second, "channel actor ended", func() bool { return s.actorsNamed("channel-"+ch+"-") == 0 })
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
