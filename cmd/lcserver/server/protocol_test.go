package server

import (
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media/clock"
)

// Opcodes, as numbers on purpose: the tests check the wire, not the gateway's table.
const (
	opHeartbeat     = 1
	opHeartbeatAck  = 2
	opIdentify      = 3
	opChannelCreate = 10
	opChannelJoin   = 11
	opChannelLeave  = 12
	opChannelUpdate = 13
	opChannelDelete = 14
	opChannelList   = 15
	opChannelInfo   = 16
	opMessageCreate = 20
	opFloorRequest  = 30
	opFloorRelease  = 31
	opFloorPing     = 32
	opChannelEvent  = 100
	opMessageEvent  = 101
	opFloorGranted  = 110
	opFloorDeny     = 111
	opFloorTaken    = 112
	opFloorIdle     = 113
	opFloorRevoke   = 114
	opFloorQueuePos = 115
	opFloorPong     = 116
	opAck           = 200
	opError         = 201
)

type d = map[string]any

func num(t *testing.T, m map[string]any, k string) int {
	t.Helper()
	v, ok := m[k].(float64)
	if !ok {
		t.Fatalf("%s missing or not a number in %v", k, m)
	}
	return int(v)
}

// expectEvent waits for a frame with opcode op whose fields include want, skipping other
// frames (events of other channels or kinds) on the way.
func expectEvent(t *testing.T, c *wstest.Client, op int, want map[string]any) map[string]any {
	t.Helper()
	var seen []map[string]any
	for i := 0; i < 100; i++ {
		f, err := c.AwaitErr(op)
		if err != nil {
			t.Fatalf("waiting for op %d with %v (saw %v): %v", op, want, seen, err)
		}
		m := f.Map()
		match := true
		for k, v := range want {
			if m[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
		seen = append(seen, m)
	}
	t.Fatalf("no op %d with %v among %v", op, want, seen)
	return nil
}

func TestChannelLifecycleOverWebSocket(t *testing.T) {
	s := start(t, nil)
	alice, bob := s.client("alice", 100), s.client("bob", 100)

	// CREATE: ACK to the creator with the channel object; CHANNEL_EVENT create to everyone.
	ack := alice.Request(opChannelCreate, d{"channel_id": "team", "freq": "0100", "channel_name": "Team", "capacity": 2}).Map()
	if ack["channel_id"] != "team" || num(t, ack, "capacity") != 2 || num(t, ack, "req_op") != opChannelCreate {
		t.Fatalf("CREATE ACK = %v", ack)
	}
	ev := expectEvent(t, bob, opChannelEvent, d{"channel_id": "team", "event": "create"})
	if ch, _ := ev["channel"].(map[string]any); ch == nil || ch["channel_name"] != "Team" {
		t.Fatalf("create event without the channel object: %v", ev)
	}
	if code := bob.RequestError(opChannelCreate, d{"channel_id": "team", "freq": "1", "channel_name": "x"}); code != 2005 {
		t.Fatalf("duplicate CREATE: %d, want 2005", code)
	}

	// The creator is not a member: INFO lists nobody.
	info := alice.Request(opChannelInfo, d{"channel_id": "team"}).Map()
	if members, _ := info["members"].([]any); len(members) != 0 {
		t.Fatalf("creator joined by CREATE: %v", info)
	}

	// JOIN: ACK with members and floor; the others get CHANNEL_EVENT join.
	ack = alice.Request(opChannelJoin, d{"channel_id": "team"}).Map()
	if ack["channel_id"] != "team" || ack["floor"].(map[string]any)["state"] != "idle" {
		t.Fatalf("JOIN ACK = %v", ack)
	}
	bob.Request(opChannelJoin, d{"channel_id": "team"})
	expectEvent(t, alice, opChannelEvent, d{"channel_id": "team", "event": "join", "user_id": "bob"})
	if code := bob.RequestError(opChannelJoin, d{"channel_id": "team"}); code != 2003 {
		t.Fatalf("second JOIN: %d, want 2003", code)
	}
	carol := s.client("carol", 255)
	if code := carol.RequestError(opChannelJoin, d{"channel_id": "team"}); code != 2001 {
		t.Fatalf("JOIN of a full channel: %d, want 2001", code)
	}
	if code := carol.RequestError(opChannelJoin, d{"channel_id": "nowhere"}); code != 2000 {
		t.Fatalf("JOIN of an unknown channel: %d, want 2000", code)
	}
	if code := carol.RequestError(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": "v=0 garbage"}); code != 2006 {
		t.Fatalf("JOIN with a bad offer: %d, want 2006", code)
	}

	info = carol.Request(opChannelInfo, d{"channel_id": "team"}).Map()
	if members, _ := info["members"].([]any); len(members) != 2 || num(t, info, "member_count") != 2 {
		t.Fatalf("INFO = %v, want alice and bob", info)
	}

	// UPDATE and DELETE: only the creator.
	if code := bob.RequestError(opChannelUpdate, d{"channel_id": "team", "channel_name": "Mine"}); code != 2002 {
		t.Fatalf("UPDATE by a non-creator: %d, want 2002", code)
	}
	ack = alice.Request(opChannelUpdate, d{"channel_id": "team", "channel_name": "Team A"}).Map()
	if ack["channel_name"] != "Team A" {
		t.Fatalf("UPDATE ACK = %v", ack)
	}
	ev = expectEvent(t, carol, opChannelEvent, d{"channel_id": "team", "event": "update"})
	if ev["channel"].(map[string]any)["channel_name"] != "Team A" {
		t.Fatalf("update event = %v", ev)
	}
	if code := bob.RequestError(opChannelDelete, d{"channel_id": "team"}); code != 2002 {
		t.Fatalf("DELETE by a non-creator: %d, want 2002", code)
	}

	// LEAVE: ACK; the others get CHANNEL_EVENT leave; leaving twice is 2004.
	bob.Request(opChannelLeave, d{"channel_id": "team"})
	expectEvent(t, alice, opChannelEvent, d{"channel_id": "team", "event": "leave", "user_id": "bob"})
	if code := bob.RequestError(opChannelLeave, d{"channel_id": "team"}); code != 2004 {
		t.Fatalf("second LEAVE: %d, want 2004", code)
	}

	alice.Request(opChannelDelete, d{"channel_id": "team"})
	expectEvent(t, carol, opChannelEvent, d{"channel_id": "team", "event": "delete"})
	if code := alice.RequestError(opChannelInfo, d{"channel_id": "team"}); code != 2000 {
		t.Fatalf("INFO of a deleted channel: %d, want 2000", code)
	}
	list := alice.Request(opChannelList, nil).Map()
	if chans, _ := list["channels"].([]any); len(chans) != 3 {
		t.Fatalf("LIST after delete = %v, want the three presets", list)
	}
}

func TestChatOverWebSocket(t *testing.T) {
	s := start(t, nil)
	alice, bob, carol := s.client("alice", 100), s.client("bob", 100), s.client("carol", 100)
	alice.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	bob.Request(opChannelJoin, d{"channel_id": "CH_0001"})

	ack := alice.Request(opMessageCreate, d{"channel_id": "CH_0001", "content": "안녕 👋"}).Map()
	id, _ := ack["message_id"].(string)
	if id == "" {
		t.Fatalf("MESSAGE_CREATE ACK = %v, want a string message_id", ack)
	}
	for _, c := range []*wstest.Client{alice, bob} {
		ev := expectEvent(t, c, opMessageEvent, d{"channel_id": "CH_0001", "message_id": id, "user_id": "alice", "content": "안녕 👋"})
		ts, _ := ev["timestamp"].(string)
		if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", ts); err != nil {
			t.Fatalf("timestamp %q is not RFC 3339 with milliseconds", ts)
		}
	}
	if code := alice.RequestError(opMessageCreate, d{"channel_id": "CH_0001", "content": ""}); code != 3000 {
		t.Fatalf("empty message: %d, want 3000", code)
	}
	if code := alice.RequestError(opMessageCreate, d{"channel_id": "CH_0001", "content": strings.Repeat("é", 2001)}); code != 3001 {
		t.Fatalf("2001-character message: %d, want 3001", code)
	}
	alice.Request(opMessageCreate, d{"channel_id": "CH_0001", "content": strings.Repeat("é", 2000)})
	if code := carol.RequestError(opMessageCreate, d{"channel_id": "CH_0001", "content": "hi"}); code != 3002 {
		t.Fatalf("message from a non-member: %d, want 3002", code)
	}
	carol.ExpectNone(50 * time.Millisecond) // non-members see no chat
}

func TestFloorControlOverWebSocket(t *testing.T) {
	s := start(t, nil)
	alice, bob, carol := s.client("alice", 100), s.client("bob", 100), s.client("carol", 255)
	dave := s.client("dave", 100)
	for _, c := range []*wstest.Client{alice, bob, carol} {
		c.Request(opChannelJoin, d{"channel_id": "CH_0002"})
	}
	ch := d{"channel_id": "CH_0002"}

	alice.Send(opFloorRequest, d{"channel_id": "CH_0002", "nonce": "f1"})
	g := expectEvent(t, alice, opFloorGranted, d{"channel_id": "CH_0002"})
	if num(t, g, "priority") != 100 || num(t, g, "max_duration_ms") <= 0 {
		t.Fatalf("GRANTED = %v", g)
	}
	expectEvent(t, bob, opFloorTaken, d{"channel_id": "CH_0002", "user_id": "alice"})
	expectEvent(t, carol, opFloorTaken, d{"channel_id": "CH_0002", "user_id": "alice"})

	alice.Send(opFloorPing, ch)
	expectEvent(t, alice, opFloorPong, ch)
	alice.Send(opFloorRequest, ch)
	expectEvent(t, alice, opFloorDeny, d{"channel_id": "CH_0002", "reason": "already_granted"})

	bob.Send(opFloorRequest, ch)
	q := expectEvent(t, bob, opFloorQueuePos, ch)
	if num(t, q, "position") != 1 || num(t, q, "size") != 1 {
		t.Fatalf("QUEUE_POS = %v", q)
	}
	dave.Send(opFloorRequest, ch)
	expectEvent(t, dave, opFloorDeny, d{"channel_id": "CH_0002", "reason": "not_member"})
	dave.Send(opFloorRelease, ch)
	expectEvent(t, dave, opFloorDeny, d{"channel_id": "CH_0002"})

	// Emergency preempts: the holder is told first, then sees TAKEN like the others.
	carol.Send(opFloorRequest, d{"channel_id": "CH_0002", "priority": 255})
	expectEvent(t, alice, opFloorRevoke, d{"channel_id": "CH_0002", "reason": "preempted"})
	expectEvent(t, alice, opFloorTaken, d{"channel_id": "CH_0002", "user_id": "carol"})
	g = expectEvent(t, carol, opFloorGranted, ch)
	if num(t, g, "priority") != 255 {
		t.Fatalf("emergency GRANTED = %v", g)
	}
	expectEvent(t, bob, opFloorTaken, d{"channel_id": "CH_0002", "user_id": "carol"})

	// Release hands the floor to the queue head.
	carol.Send(opFloorRelease, ch)
	expectEvent(t, bob, opFloorGranted, ch)
	expectEvent(t, carol, opFloorTaken, d{"channel_id": "CH_0002", "user_id": "bob"})
	bob.Send(opFloorRelease, ch)
	for _, c := range []*wstest.Client{alice, bob, carol} {
		expectEvent(t, c, opFloorIdle, ch)
	}
	if code := alice.RequestError(opFloorRequest, d{"channel_id": "nowhere"}); code != 2000 {
		t.Fatalf("FLOOR_REQUEST on an unknown channel: %d, want 2000", code)
	}
}

func TestFloorRequestPriorityIsCappedByToken(t *testing.T) {
	s := start(t, nil)
	alice, bob := s.client("alice", 100), s.client("bob", 100)
	alice.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	bob.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	alice.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	alice.Await(opFloorGranted)
	// bob asks for emergency without the right: capped to 100, so he queues instead of preempting.
	bob.Send(opFloorRequest, d{"channel_id": "CH_0001", "priority": 255})
	expectEvent(t, bob, opFloorQueuePos, d{"channel_id": "CH_0001"})
	alice.ExpectNone(50 * time.Millisecond)
}

func TestFloorQueueFull(t *testing.T) {
	s := start(t, func(c *Config) { c.QueueLimit = 1 })
	a, b, c := s.client("a", 100), s.client("b", 100), s.client("c", 100)
	for _, x := range []*wstest.Client{a, b, c} {
		x.Request(opChannelJoin, d{"channel_id": "CH_0003"})
	}
	a.Send(opFloorRequest, d{"channel_id": "CH_0003"})
	a.Await(opFloorGranted)
	b.Send(opFloorRequest, d{"channel_id": "CH_0003"})
	b.Await(opFloorQueuePos)
	c.Send(opFloorRequest, d{"channel_id": "CH_0003"})
	expectEvent(t, c, opFloorDeny, d{"channel_id": "CH_0003", "reason": "queue_full"})
}

func TestFloorPingTimeoutRevokes(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s := start(t, func(c *Config) { c.FloorPingTimeout, c.Clock = 150*time.Millisecond, clk })
	a, b := s.client("a", 100), s.client("b", 100)
	a.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	b.Request(opChannelJoin, d{"channel_id": "CH_0001"})
	a.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	a.Await(opFloorGranted)
	b.Await(opFloorTaken)
	// CHANNEL_INFO is answered by the channel after the grant's turn, so the grant's timers are
	// armed when the clock moves.
	b.Request(opChannelInfo, d{"channel_id": "CH_0001"})
	clk.Advance(150 * time.Millisecond)
	expectEvent(t, a, opFloorRevoke, d{"channel_id": "CH_0001", "reason": "ping_timeout"})
	expectEvent(t, b, opFloorIdle, d{"channel_id": "CH_0001"})
}

func TestNonceAndReqOpEcho(t *testing.T) {
	s := start(t, nil)
	c := wstest.Dial(t, s.ws)
	defer c.Close()
	c.Send(opChannelList, d{"nonce": "pre"})
	e := c.Expect(opError).Map()
	if num(t, e, "code") != 1000 || num(t, e, "req_op") != opChannelList || e["nonce"] != "pre" {
		t.Fatalf("ERROR = %v", e)
	}
	c.Identify("alice", mintFor(t, "alice", 100), -1)
	for _, tc := range []struct {
		op    int
		d     map[string]any
		reply int
	}{
		{opChannelList, d{"nonce": "a1"}, opAck},
		{opChannelInfo, d{"channel_id": "CH_0001", "nonce": "a2"}, opAck},
		{opChannelInfo, d{"channel_id": "zzz", "nonce": "e1"}, opError},
		{opChannelJoin, d{"channel_id": 7, "nonce": "e2"}, opError},
		{99, d{"nonce": "e3"}, opError},
	} {
		c.Send(tc.op, tc.d)
		f := c.Expect(tc.reply).Map()
		if num(t, f, "req_op") != tc.op || f["nonce"] != tc.d["nonce"] {
			t.Fatalf("answer to op %d = %v, want req_op %d and nonce %v", tc.op, f, tc.op, tc.d["nonce"])
		}
	}
	// Without a nonce, the answer has none.
	c.Send(opChannelList, nil)
	if f := c.Expect(opAck).Map(); f["nonce"] != nil || num(t, f, "req_op") != opChannelList {
		t.Fatalf("ACK without nonce = %v", f)
	}
}
