package floor

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestRandomSequencesKeepInvariants drives the machine with random inputs (fixed seeds, bounded
// length) and checks after every step what clients rely on: one holder at most, never queued;
// an ordered queue of members only; idle means an empty queue; every queued member was last
// told its real position; everyone was last told the real holder; stale timers never act.
func TestRandomSequencesKeepInvariants(t *testing.T) {
	users := []string{"a", "b", "c", "d", "e"}
	prios := []int{0, 100, 100, 200, 254, 255, 255}
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed*7919))
		m := New(Config{QueueLimit: 3})
		now := t0
		// What each member was last told.
		pos := map[string]int{}
		holder := map[string]string{}
		var stale []Effect // every timer ever armed
		// The generation of each timer kind as armed and cancelled by the effects (0: none):
		// a timer of any other generation is stale.
		var live [2]uint64
		for step := 0; step < 300; step++ {
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			u := users[rng.IntN(len(users))]
			var r Result
			switch rng.IntN(9) {
			case 0, 1:
				if !m.IsMember(u) {
					m.Join(u)
					// The JOIN ACK tells a new member the floor state.
					h, _, _, _ := m.Holder()
					holder[u], pos[u] = h, 0
				}
			case 2, 3:
				r = m.Request(u, prios[rng.IntN(len(prios))], now)
			case 4:
				r = m.Release(u, now)
			case 5:
				r = m.Ping(u)
			case 6:
				r = m.Leave(u, now)
				delete(pos, u)
				delete(holder, u)
			case 7:
				_, r = m.Revoke(now)
			case 8:
				if len(stale) > 0 {
					e := stale[rng.IntN(len(stale))]
					r = m.Timer(e.Timer, e.Generation, now)
					acted := r.Changed || len(r.Effects) > 0
					if current := e.Generation == live[e.Timer]; acted != current {
						t.Fatalf("seed %d step %d: %s timer gen %d (live %d) acted=%v", seed, step, e.Timer, e.Generation, live[e.Timer], acted)
					}
				}
			}
			for _, e := range r.Effects {
				switch e.Kind {
				case EffectArmTimer:
					stale = append(stale, e)
					live[e.Timer] = e.Generation
				case EffectCancelTimer:
					live[e.Timer] = 0
				}
			}
			apply(m, r, pos, holder)
			check(t, seed, step, m, pos, holder)
		}
	}
}

// apply records what each member was told.
func apply(m *Machine, r Result, pos map[string]int, holder map[string]string) {
	for _, e := range r.Effects {
		if e.Kind != EffectSend {
			continue
		}
		for _, u := range recipients(m, e) {
			switch e.Event.Kind {
			case EventGranted:
				holder[u], pos[u] = u, 0
			case EventTaken:
				holder[u] = e.Event.User
			case EventIdle:
				holder[u], pos[u] = "", 0
			case EventRevoke:
				holder[u] = ""
			case EventQueuePos:
				pos[u] = e.Event.Position
			}
		}
	}
}

func check(t *testing.T, seed uint64, step int, m *Machine, pos map[string]int, told map[string]string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d step %d: "+format, append([]any{seed, step}, args...)...)
	}
	h, hp, _, taken := m.Holder()
	if taken != (m.State() == Taken) {
		fail("Holder/State disagree")
	}
	if !taken && len(m.queue) != 0 {
		fail("idle with queue %s", queueOf(m))
	}
	if taken && !m.IsMember(h) {
		fail("holder %s is not a member", h)
	}
	for i, e := range m.queue {
		if e.User == h {
			fail("holder %s queued", h)
		}
		if !m.IsMember(e.User) {
			fail("non-member %s queued", e.User)
		}
		if i > 0 {
			p := m.queue[i-1]
			if p.Priority < e.Priority || p.Priority == e.Priority && p.seq > e.seq {
				fail("queue out of order: %s", queueOf(m))
			}
		}
		if e.Priority > hp {
			fail("queued %s:%d outranks holder %s:%d", e.User, e.Priority, h, hp)
		}
		if pos[e.User] != i+1 {
			fail("%s was last told position %d, real %d (queue %s)", e.User, pos[e.User], i+1, queueOf(m))
		}
	}
	for u := range m.members {
		if m.Position(u) == 0 && pos[u] != 0 {
			fail("%s believes it is queued at %d", u, pos[u])
		}
		want := ""
		if taken {
			want = h
		}
		if told[u] != want {
			fail("%s believes holder is %q, real %q", u, told[u], want)
		}
	}
}
