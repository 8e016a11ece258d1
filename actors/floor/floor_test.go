package floor

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// render turns a Result's sends into "recipient: EVENT args" lines, resolving ToAll/ToAllBut
// against the machine's members in sorted order, the way the channel actor does.
func render(m *Machine, r Result) []string {
	var out []string
	for _, e := range r.Effects {
		if e.Kind != EffectSend {
			continue
		}
		for _, u := range recipients(m, e) {
			out = append(out, u+": "+describe(e.Event))
		}
	}
	return out
}

// recipients are the users a send effect reaches: its user, or the machine's members (but its
// user, for ToAllBut) in sorted order.
func recipients(m *Machine, e Effect) []string {
	if e.Target == ToUser {
		return []string{e.User}
	}
	var to []string
	for _, u := range slices.Sorted(maps.Keys(m.members)) {
		if e.Target == ToAll || u != e.User {
			to = append(to, u)
		}
	}
	return to
}

func describe(ev Event) string {
	switch ev.Kind {
	case EventGranted:
		return fmt.Sprintf("GRANTED %d %s", ev.Priority, ev.MaxDuration)
	case EventDeny:
		return "DENY " + ev.Reason
	case EventTaken:
		return fmt.Sprintf("TAKEN %s %d", ev.User, ev.Priority)
	case EventIdle:
		return "IDLE"
	case EventRevoke:
		return "REVOKE " + ev.Reason
	case EventQueuePos:
		return fmt.Sprintf("POS %d/%d", ev.Position, ev.Size)
	case EventPong:
		return "PONG"
	}
	return "?"
}

func timers(r Result) []string {
	var out []string
	for _, e := range r.Effects {
		switch e.Kind {
		case EffectArmTimer:
			out = append(out, fmt.Sprintf("arm %s %s", e.Timer, e.After))
		case EffectCancelTimer:
			out = append(out, "cancel "+e.Timer.String())
		}
	}
	return out
}

func queueOf(m *Machine) string {
	var s []string
	for _, e := range m.queue {
		s = append(s, fmt.Sprintf("%s:%d", e.User, e.Priority))
	}
	return strings.Join(s, ",")
}

func holderOf(m *Machine) string {
	u, p, _, ok := m.Holder()
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s:%d", u, p)
}

func newMachine(limit int, users ...string) *Machine {
	m := New(Config{QueueLimit: limit})
	for _, u := range users {
		m.Join(u)
	}
	return m
}

func TestTransitions(t *testing.T) {
	at := t0.Add(time.Second)
	cases := []struct {
		name       string
		limit      int
		setup      func(m *Machine)
		act        func(m *Machine) Result
		want       []string
		wantHolder string
		wantQueue  string
		wantDenied string
	}{
		{
			name: "idle request grants; every other member sees taken",
			act:  func(m *Machine) Result { return m.Request("a", 100, at) },
			want: []string{"a: GRANTED 100 30s", "b: TAKEN a 100", "c: TAKEN a 100"},

			wantHolder: "a:100",
		},
		{
			name:       "request from non-member is denied",
			act:        func(m *Machine) Result { return m.Request("zed", 100, at) },
			want:       []string{"zed: DENY not_member"},
			wantDenied: DenyNotMember,
		},
		{
			name:       "request from holder is denied already_granted",
			setup:      func(m *Machine) { m.Request("a", 100, t0) },
			act:        func(m *Machine) Result { return m.Request("a", 200, at) },
			want:       []string{"a: DENY already_granted"},
			wantHolder: "a:100",
			wantDenied: DenyAlreadyGranted,
		},
		{
			name:       "equal priority queues with position",
			setup:      func(m *Machine) { m.Request("a", 100, t0) },
			act:        func(m *Machine) Result { return m.Request("b", 100, at) },
			want:       []string{"b: POS 1/1"},
			wantHolder: "a:100",
			wantQueue:  "b:100",
		},
		{
			name:       "lower priority queues",
			setup:      func(m *Machine) { m.Request("a", 200, t0) },
			act:        func(m *Machine) Result { return m.Request("b", 100, at) },
			want:       []string{"b: POS 1/1"},
			wantHolder: "a:200",
			wantQueue:  "b:100",
		},
		{
			name:  "higher priority preempts: revoke, then granted and taken incl. old holder",
			setup: func(m *Machine) { m.Request("a", 100, t0) },
			act:   func(m *Machine) Result { return m.Request("b", 200, at) },
			want: []string{"a: REVOKE preempted", "b: GRANTED 200 30s",
				"a: TAKEN b 200", "c: TAKEN b 200"},
			wantHolder: "b:200",
		},
		{
			name:  "emergency preempts peril",
			setup: func(m *Machine) { m.Request("a", 254, t0) },
			act:   func(m *Machine) Result { return m.Request("b", 255, at) },
			want: []string{"a: REVOKE preempted", "b: GRANTED 255 30s",
				"a: TAKEN b 255", "c: TAKEN b 255"},
			wantHolder: "b:255",
		},
		{
			name:       "emergency vs emergency queues",
			setup:      func(m *Machine) { m.Request("a", 255, t0) },
			act:        func(m *Machine) Result { return m.Request("b", 255, at) },
			want:       []string{"b: POS 1/1"},
			wantHolder: "a:255",
			wantQueue:  "b:255",
		},
		{
			name: "preemption with a queue: the preempter leaves the queue, others move up",
			setup: func(m *Machine) {
				m.Request("a", 100, t0)
				m.Request("b", 100, t0)
				m.Request("c", 100, t0)
			},
			act: func(m *Machine) Result { return m.Request("b", 200, at) },
			want: []string{"a: REVOKE preempted", "b: GRANTED 200 30s",
				"a: TAKEN b 200", "c: TAKEN b 200", "c: POS 1/1"},
			wantHolder: "b:200",
			wantQueue:  "c:100",
		},
		{
			name: "higher-priority arrival jumps ahead; those behind are told",
			setup: func(m *Machine) {
				m.Request("a", 200, t0)
				m.Request("b", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Request("c", 150, at) },
			want:       []string{"c: POS 1/2", "b: POS 2/2"},
			wantHolder: "a:200",
			wantQueue:  "c:150,b:100",
		},
		{
			name: "equal priority arrival goes behind; nobody else is told",
			setup: func(m *Machine) {
				m.Request("a", 200, t0)
				m.Request("b", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Request("c", 100, at) },
			want:       []string{"c: POS 2/2"},
			wantHolder: "a:200",
			wantQueue:  "b:100,c:100",
		},
		{
			name:  "queue full is denied",
			limit: 1,
			setup: func(m *Machine) {
				m.Request("a", 200, t0)
				m.Request("b", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Request("c", 100, at) },
			want:       []string{"c: DENY queue_full"},
			wantHolder: "a:200",
			wantQueue:  "b:100",
			wantDenied: DenyQueueFull,
		},
		{
			name:  "a full queue does not stop a preemption",
			limit: 1,
			setup: func(m *Machine) {
				m.Request("a", 100, t0)
				m.Request("b", 100, t0)
			},
			act: func(m *Machine) Result { return m.Request("c", 255, at) },
			want: []string{"a: REVOKE preempted", "c: GRANTED 255 30s",
				"a: TAKEN c 255", "b: TAKEN c 255"},
			wantHolder: "c:255",
			wantQueue:  "b:100",
		},
		{
			name: "repeat request re-positions with the new priority",
			setup: func(m *Machine) {
				m.Request("a", 200, t0)
				m.Request("b", 100, t0)
				m.Request("c", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Request("c", 150, at) },
			want:       []string{"c: POS 1/2", "b: POS 2/2"},
			wantHolder: "a:200",
			wantQueue:  "c:150,b:100",
		},
		{
			name:  "repeat request at the same priority keeps its place and is told it",
			limit: 2,
			setup: func(m *Machine) {
				m.Request("a", 200, t0)
				m.Request("b", 100, t0)
				m.Request("c", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Request("b", 100, at) },
			want:       []string{"b: POS 1/2"},
			wantHolder: "a:200",
			wantQueue:  "b:100,c:100",
		},
		{
			name:       "release by holder with empty queue: idle to all incl. holder",
			setup:      func(m *Machine) { m.Request("a", 100, t0) },
			act:        func(m *Machine) Result { return m.Release("a", at) },
			want:       []string{"a: IDLE", "b: IDLE", "c: IDLE"},
			wantHolder: "",
		},
		{
			name: "release by holder grants the head; releasing holder sees taken",
			setup: func(m *Machine) {
				m.Request("a", 100, t0)
				m.Request("b", 100, t0)
				m.Request("c", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Release("a", at) },
			want:       []string{"b: GRANTED 100 30s", "a: TAKEN b 100", "c: TAKEN b 100", "c: POS 1/1"},
			wantHolder: "b:100",
			wantQueue:  "c:100",
		},
		{
			name: "release by a queued member withdraws it; it gets position 0",
			setup: func(m *Machine) {
				m.Request("a", 100, t0)
				m.Request("b", 100, t0)
				m.Request("c", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Release("b", at) },
			want:       []string{"b: POS 0/1", "c: POS 1/1"},
			wantHolder: "a:100",
			wantQueue:  "c:100",
		},
		{
			name:       "release by neither holder nor queued: not_holder",
			setup:      func(m *Machine) { m.Request("a", 100, t0) },
			act:        func(m *Machine) Result { return m.Release("b", at) },
			want:       []string{"b: DENY not_holder"},
			wantHolder: "a:100",
			wantDenied: DenyNotHolder,
		},
		{
			name:       "release while idle: not_holder",
			act:        func(m *Machine) Result { return m.Release("b", at) },
			want:       []string{"b: DENY not_holder"},
			wantDenied: DenyNotHolder,
		},
		{
			name:       "release by non-member: not_member",
			act:        func(m *Machine) Result { return m.Release("zed", at) },
			want:       []string{"zed: DENY not_member"},
			wantDenied: DenyNotMember,
		},
		{
			name:       "ping by holder: pong",
			setup:      func(m *Machine) { m.Request("a", 100, t0) },
			act:        func(m *Machine) Result { return m.Ping("a") },
			want:       []string{"a: PONG"},
			wantHolder: "a:100",
		},
		{
			name:       "ping by non-holder: not_holder",
			setup:      func(m *Machine) { m.Request("a", 100, t0) },
			act:        func(m *Machine) Result { return m.Ping("b") },
			want:       []string{"b: DENY not_holder"},
			wantHolder: "a:100",
			wantDenied: DenyNotHolder,
		},
		{
			name:       "ping by queued member: not_holder, stays queued",
			setup:      func(m *Machine) { m.Request("a", 100, t0); m.Request("b", 100, t0) },
			act:        func(m *Machine) Result { return m.Ping("b") },
			want:       []string{"b: DENY not_holder"},
			wantHolder: "a:100",
			wantQueue:  "b:100",
			wantDenied: DenyNotHolder,
		},
		{
			name:       "ping by non-member: not_member",
			act:        func(m *Machine) Result { return m.Ping("zed") },
			want:       []string{"zed: DENY not_member"},
			wantDenied: DenyNotMember,
		},
		{
			name:  "holder leaves with empty queue: others get idle, leaver nothing",
			setup: func(m *Machine) { m.Request("a", 100, t0) },
			act:   func(m *Machine) Result { return m.Leave("a", at) },
			want:  []string{"b: IDLE", "c: IDLE"},
		},
		{
			name: "holder leaves while others are queued: head granted, leaver nothing",
			setup: func(m *Machine) {
				m.Request("a", 100, t0)
				m.Request("b", 100, t0)
				m.Request("c", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Leave("a", at) },
			want:       []string{"b: GRANTED 100 30s", "c: TAKEN b 100", "c: POS 1/1"},
			wantHolder: "b:100",
			wantQueue:  "c:100",
		},
		{
			name: "queued member leaves: those behind move up",
			setup: func(m *Machine) {
				m.Join("d")
				m.Request("a", 100, t0)
				m.Request("b", 100, t0)
				m.Request("c", 100, t0)
				m.Request("d", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Leave("b", at) },
			want:       []string{"c: POS 1/2", "d: POS 2/2"},
			wantHolder: "a:100",
			wantQueue:  "c:100,d:100",
		},
		{
			name: "last queued member leaves: nobody told",
			setup: func(m *Machine) {
				m.Request("a", 100, t0)
				m.Request("b", 100, t0)
				m.Request("c", 100, t0)
			},
			act:        func(m *Machine) Result { return m.Leave("c", at) },
			want:       nil,
			wantHolder: "a:100",
			wantQueue:  "b:100",
		},
		{
			name:       "non-holder non-queued member leaves: nothing",
			setup:      func(m *Machine) { m.Request("a", 100, t0) },
			act:        func(m *Machine) Result { return m.Leave("b", at) },
			want:       nil,
			wantHolder: "a:100",
		},
		{
			name: "non-member leaves: nothing",
			act:  func(m *Machine) Result { return m.Leave("zed", at) },
			want: nil,
		},
		{
			name: "admin revoke: revoke admin to holder, queue cleared, idle to all",
			setup: func(m *Machine) {
				m.Request("a", 100, t0)
				m.Request("b", 100, t0)
			},
			act:  func(m *Machine) Result { _, r := m.Revoke(at); return r },
			want: []string{"a: REVOKE admin", "a: IDLE", "b: IDLE", "c: IDLE"},
		},
		{
			name: "admin revoke of an idle floor: nothing",
			act:  func(m *Machine) Result { _, r := m.Revoke(at); return r },
			want: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = 10
			}
			m := newMachine(limit, "a", "b", "c")
			if tc.setup != nil {
				tc.setup(m)
			}
			r := tc.act(m)
			if got := render(m, r); !slices.Equal(got, tc.want) {
				t.Errorf("events:\n got %q\nwant %q", got, tc.want)
			}
			if got := holderOf(m); got != tc.wantHolder {
				t.Errorf("holder %q, want %q", got, tc.wantHolder)
			}
			if got := queueOf(m); got != tc.wantQueue {
				t.Errorf("queue %q, want %q", got, tc.wantQueue)
			}
			if r.Denied != tc.wantDenied {
				t.Errorf("denied %q, want %q", r.Denied, tc.wantDenied)
			}
			if tc.wantHolder == "" && m.State() != Idle || tc.wantHolder != "" && m.State() != Taken {
				t.Errorf("state %s with holder %q", m.State(), tc.wantHolder)
			}
			if m.State() == Idle && m.QueueLen() != 0 {
				t.Errorf("idle floor with queue %q", queueOf(m))
			}
		})
	}
}

func TestRevokeAnswersHolder(t *testing.T) {
	m := newMachine(10, "a", "b")
	if who, _ := m.Revoke(t0); who != "" {
		t.Fatalf("idle revoke answered %q, want empty", who)
	}
	m.Request("a", 100, t0)
	who, r := m.Revoke(t0.Add(3 * time.Second))
	if who != "a" {
		t.Fatalf("revoke answered %q, want a", who)
	}
	if r.Ended == nil || r.Ended.Reason != RevokeAdmin || r.Ended.Held != 3*time.Second {
		t.Fatalf("ended = %+v, want admin after 3s", r.Ended)
	}
}

func armed(r Result, kind TimerKind) (uint64, bool) {
	for _, e := range r.Effects {
		if e.Kind == EffectArmTimer && e.Timer == kind {
			return e.Generation, true
		}
	}
	return 0, false
}

func TestTimersStartAtGrantAndCancelAtEnd(t *testing.T) {
	m := newMachine(10, "a", "b")
	r := m.Request("a", 100, t0)
	if got, want := timers(r), []string{"arm ping 6s", "arm max_duration 30s"}; !slices.Equal(got, want) {
		t.Fatalf("grant timers %q, want %q", got, want)
	}
	r = m.Ping("a")
	if got, want := timers(r), []string{"arm ping 6s"}; !slices.Equal(got, want) {
		t.Fatalf("ping timers %q, want %q", got, want)
	}
	r = m.Release("a", t0)
	if got, want := timers(r), []string{"cancel ping", "cancel max_duration"}; !slices.Equal(got, want) {
		t.Fatalf("release timers %q, want %q", got, want)
	}
	if r := m.Request("b", 100, t0); len(timers(r)) != 2 {
		t.Fatalf("queued→granted timers %q", timers(r))
	}
	if r := m.Request("a", 100, t0); len(timers(r)) != 0 {
		t.Fatalf("a queued request armed timers: %q", timers(r))
	}
}

func TestPingTimeoutRevokes(t *testing.T) {
	m := newMachine(10, "a", "b", "c")
	r := m.Request("a", 100, t0)
	gen, _ := armed(r, TimerPing)
	m.Request("b", 100, t0)
	r = m.Timer(TimerPing, gen, t0.Add(6*time.Second))
	want := []string{"a: REVOKE ping_timeout", "b: GRANTED 100 30s", "a: TAKEN b 100", "c: TAKEN b 100"}
	if got := render(m, r); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if r.Ended == nil || r.Ended.Reason != RevokePingTimeout || r.Granted == nil || r.Granted.User != "b" {
		t.Fatalf("ended %+v granted %+v", r.Ended, r.Granted)
	}
}

func TestMaxDurationRevokesToIdle(t *testing.T) {
	m := newMachine(10, "a", "b")
	r := m.Request("a", 100, t0)
	gen, _ := armed(r, TimerMaxDuration)
	m.Ping("a") // a ping does not extend the maximum duration
	r = m.Timer(TimerMaxDuration, gen, t0.Add(30*time.Second))
	want := []string{"a: REVOKE max_duration", "a: IDLE", "b: IDLE"}
	if got := render(m, r); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestStaleTimersDoNothing(t *testing.T) {
	m := newMachine(10, "a", "b")
	r := m.Request("a", 100, t0)
	pingGen, _ := armed(r, TimerPing)
	maxGen, _ := armed(r, TimerMaxDuration)

	// A ping re-arms: the first ping timer is stale.
	m.Ping("a")
	if r := m.Timer(TimerPing, pingGen, t0); len(r.Effects) != 0 || !m.IsHolder("a") {
		t.Fatalf("stale ping timer acted: %+v", r)
	}
	// A generation of the other kind does not match either.
	if r := m.Timer(TimerPing, maxGen, t0); len(r.Effects) != 0 {
		t.Fatalf("max generation fired the ping timer: %+v", r)
	}
	// Released and re-granted: the first grant's timers are stale.
	m.Release("a", t0)
	if r := m.Timer(TimerMaxDuration, maxGen, t0); len(r.Effects) != 0 {
		t.Fatalf("stale max timer acted while idle: %+v", r)
	}
	m.Request("a", 100, t0)
	if r := m.Timer(TimerMaxDuration, maxGen, t0); len(r.Effects) != 0 || !m.IsHolder("a") {
		t.Fatalf("stale max timer acted on a new grant: %+v", r)
	}
	if r := m.Timer(TimerPing, 0, t0); len(r.Effects) != 0 {
		t.Fatalf("generation 0 acted: %+v", r)
	}
}

func TestQueueOrderPriorityThenArrival(t *testing.T) {
	m := newMachine(10, "h", "a", "b", "c", "d", "e")
	m.Request("h", 255, t0)
	m.Request("a", 100, t0)
	m.Request("b", 200, t0)
	m.Request("c", 100, t0)
	m.Request("d", 255, t0)
	m.Request("e", 200, t0)
	if got, want := queueOf(m), "d:255,b:200,e:200,a:100,c:100"; got != want {
		t.Fatalf("queue %q, want %q", got, want)
	}
	// Grants follow queue order.
	var order []string
	for m.State() == Taken {
		u, _, _, _ := m.Holder()
		order = append(order, u)
		m.Release(u, t0)
	}
	if got, want := strings.Join(order, ","), "h,d,b,e,a,c"; got != want {
		t.Fatalf("grant order %q, want %q", got, want)
	}
}

func TestPositionUpdatesOnEveryChange(t *testing.T) {
	m := newMachine(10, "h", "a", "b", "c")
	m.Request("h", 255, t0)
	m.Request("a", 100, t0)
	m.Request("b", 100, t0)
	r := m.Request("c", 200, t0)
	want := []string{"c: POS 1/3", "a: POS 2/3", "b: POS 3/3"}
	if got := render(m, r); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	// After each step every member's last position must equal its real one.
	last := map[string]int{"a": 2, "b": 3, "c": 1}
	steps := []func() Result{
		func() Result { return m.Release("h", t0) }, // c granted
		func() Result { return m.Request("b", 150, t0) },
		func() Result { return m.Leave("b", t0) },
	}
	for i, step := range steps {
		r := step()
		for _, e := range r.Effects {
			if e.Kind == EffectSend && e.Event.Kind == EventQueuePos {
				last[e.User] = e.Event.Position
			}
			if e.Kind == EffectSend && e.Event.Kind == EventGranted {
				last[e.User] = 0 // the holder is out of the queue
			}
		}
		for u := range last {
			if !m.IsMember(u) {
				continue
			}
			if got, real := last[u], m.Position(u); got != real {
				t.Fatalf("step %d: %s last told position %d, real %d", i, u, got, real)
			}
		}
	}
}

func TestGrantRecordsLatencyFromFirstRequest(t *testing.T) {
	m := newMachine(10, "a", "b")
	if r := m.Request("a", 100, t0); r.Granted == nil || r.Granted.FromQueue {
		t.Fatalf("immediate grant %+v", r.Granted)
	}
	m.Request("b", 100, t0.Add(time.Second))
	r := m.Release("a", t0.Add(5*time.Second))
	if r.Granted == nil || r.Granted.At.Sub(r.Granted.RequestedAt) != 4*time.Second || !r.Granted.FromQueue {
		t.Fatalf("granted %+v, want latency 4s", r.Granted)
	}
	if r.Ended == nil || r.Ended.Held != 5*time.Second || r.Ended.Reason != EndRelease {
		t.Fatalf("ended %+v", r.Ended)
	}
}

func TestStateString(t *testing.T) {
	if Idle.String() != "idle" || Taken.String() != "taken" {
		t.Fatalf("state strings %q %q", Idle, Taken)
	}
}
