package load

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
)

// SoakConfig is the soak scenario: a bounded population churning for Duration — identify,
// join with a DTLS-SRTP media peer, request the floor, talk, queue behind the talker, preempt
// with an emergency request, release, chat, leave, disconnect abruptly, reconnect — while the
// server's own counts are sampled; afterwards every count must be back to its baseline.
type SoakConfig struct {
	Addr        string // lcserver host:port, loopback only
	Secret      []byte
	Users       int           // population, spread evenly over the channels [40]
	Channels    int           // [4]
	Duration    time.Duration // churn time [30m]
	Seed        uint64        // seeds every random choice (who talks, who leaves, who drops)
	SampleEvery time.Duration // server sample interval [1m]
	Settle      time.Duration // longest wait for the counts to come back after the churn [90s]
	Talk        time.Duration // one talk spurt [1s]
	Rate        int           // RTP packets per second while talking [50]
	// HeapSlack is how far the server's Go heap in use may end above its baseline [16 MiB]:
	// pools, the actor system's caches and the allocator keep memory that is not a leak.
	HeapSlack int64
	// HeapWatch is how long the heap is watched once the counts are back, its lowest reading
	// judged: the heap in use right after a burst of frees still holds garbage the collector
	// has not reclaimed, and an idle Go program collects at least every 2 minutes [2m15s].
	HeapWatch time.Duration
	Wait      time.Duration // longest wait for any one frame or handshake [10s]
	PID       int           // server pid for /proc RSS; 0 reads /metrics
	// AdminToken is the server's LIVECHAT_ADMIN_TOKEN, for GET /admin/peers; empty relies on
	// the server's default rule (loopback clients only), which every soak target meets.
	AdminToken string
	Logger     *slog.Logger
}

func (c *SoakConfig) defaults() error {
	addr, err := CheckLoopback(c.Addr)
	if err != nil {
		return err
	}
	c.Addr = addr
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Users == 0 {
		c.Users = 40
	}
	if c.Channels == 0 {
		c.Channels = 4
	}
	def(&c.Duration, 30*time.Minute)
	def(&c.SampleEvery, time.Minute)
	def(&c.Settle, 90*time.Second)
	def(&c.Talk, time.Second)
	def(&c.Wait, 10*time.Second)
	def(&c.HeapWatch, 135*time.Second)
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.HeapSlack <= 0 {
		c.HeapSlack = 16 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Channels < 1 || c.Channels > 100:
		return fmt.Errorf("soak: channels %d outside 1..100", c.Channels)
	case c.Users < 4*c.Channels || c.Users > 2000:
		return fmt.Errorf("soak: users %d outside %d..2000 (at least 4 per channel: talker, queued, emergency, listener)", c.Users, 4*c.Channels)
	case c.Duration > 24*time.Hour:
		return fmt.Errorf("soak: duration %v above 24h", c.Duration)
	case c.Rate > 1000:
		return fmt.Errorf("soak: rate %d above 1000 packets/s", c.Rate)
	case c.Talk > time.Minute:
		return fmt.Errorf("soak: talk %v above 1m", c.Talk)
	}
	return nil
}

// Operation kinds the soak counts (and the test requires each of).
const (
	OpIdentify      = "identify"
	OpJoin          = "join"       // CHANNEL_JOIN with an offer, then STUN + DTLS + SRTP
	OpReconnect     = "reconnect"  // a join by a user who had left or dropped before
	OpGrant         = "grant"      // FLOOR_REQUEST → FLOOR_GRANTED
	OpTalk          = "talk"       // one talk spurt, its listeners counted
	OpQueue         = "queue"      // FLOOR_REQUEST behind a talker → FLOOR_QUEUE_POS_INFO
	OpPreempt       = "preempt"    // emergency request: old holder REVOKE preempted, requester GRANTED
	OpHandover      = "handover"   // release → the queued member is GRANTED
	OpRelease       = "release"    // last release → FLOOR_IDLE
	OpChat          = "chat"       // MESSAGE_CREATE ACKed and the MESSAGE_EVENT seen by another member
	OpLeave         = "leave"      // CHANNEL_LEAVE ACKed, then a normal close
	OpDrop          = "drop"       // WebSocket and UDP socket gone without a close handshake or close_notify
	OpStalled       = "stalled"    // a session that joins and then never reads again
	OpAbandonedJoin = "abandoned"  // an offer answered, then gone before STUN and DTLS
	OpHeartbeat     = "heartbeat"  // HEARTBEATs sent
	OpRTP           = "rtp_sent"   // RTP packets talkers sent
	opRTPGot        = "rtp_heard"  // of those, copies listeners received
	opRTPWant       = "rtp_expect" // copies listeners should have received
)

// SoakOps lists the operation kinds a soak must have done at least once.
var SoakOps = []string{OpIdentify, OpJoin, OpReconnect, OpGrant, OpTalk, OpQueue, OpPreempt, OpHandover,
	OpRelease, OpChat, OpLeave, OpDrop, OpStalled, OpAbandonedJoin, OpHeartbeat, OpRTP}

// SoakSample is one reading of the server's own view: /metrics and GET /admin/peers.
type SoakSample struct {
	At          time.Time `json:"at"`
	Elapsed     float64   `json:"elapsed_s"` // since the baseline
	RSS         int64     `json:"rss_bytes"`
	HeapInuse   int64     `json:"heap_inuse_bytes"`
	Goroutines  int       `json:"goroutines"`
	FDs         int       `json:"open_fds"`
	Sessions    int       `json:"sessions"`
	Users       int       `json:"users"`
	Channels    int       `json:"channels"`
	Members     int       `json:"members"`
	Peers       int       `json:"peers"`        // livechat_peers (the registry's gauge)
	PeerEntries int       `json:"peer_entries"` // GET /admin/peers: the ufrag look-up snapshot's entries
	Ops         int64     `json:"ops"`          // operations done so far (all kinds but RTP)
}

// SoakResult is one soak run.
type SoakResult struct {
	Users, Channels int
	Seed            uint64
	Duration        time.Duration    // churn time actually run
	Rounds          int              // channel rounds completed
	Ops             map[string]int64 // by kind
	Errors          map[string]int64 // by kind
	Baseline, After SoakSample
	Samples         []SoakSample // every SampleEvery during the churn
	Settled         time.Duration
	HeapSlack       int64
	HeapWatch       time.Duration
	HeapAfter       int64    // lowest Go heap in use seen while watching
	Problems        []string // what is not back to baseline; empty: passed
	// Counters is what the server counted during the run, by metric and label (non-zero
	// increases only): close codes and ERRORs sent, floor revokes, media drops, handshakes.
	Counters  map[string]float64
	LoadStart float64
	LoadEnd   float64
}

// Loss is the share of talk packets listeners should have received and did not.
func (r SoakResult) Loss() float64 {
	if r.Ops[opRTPWant] == 0 {
		return 0
	}
	return 1 - float64(r.Ops[opRTPGot])/float64(r.Ops[opRTPWant])
}

// Passed reports whether every count came back to baseline and the heap within the slack.
func (r SoakResult) Passed() bool { return len(r.Problems) == 0 }

// soakSampler reads SoakSamples. It never keeps a connection open, so the server's view of
// it is the same at baseline and after (one request in flight).
type soakSampler struct {
	base  string
	pid   int
	token string // admin bearer token, if the server has one
	http  *http.Client
	t0    time.Time
}

func (s *soakSampler) sample(ctx context.Context) (SoakSample, error) {
	smp := SoakSample{At: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return smp, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return smp, fmt.Errorf("metrics: %w", err)
	}
	vals, _, err := parseMetrics(resp.Body)
	resp.Body.Close()
	if err != nil {
		return smp, fmt.Errorf("metrics: %w", err)
	}
	smp.RSS = int64(vals["process_resident_memory_bytes"])
	if s.pid > 0 {
		if _, rss, err := procStat(s.pid); err == nil {
			smp.RSS = rss
		}
	}
	smp.HeapInuse = int64(vals["go_memstats_heap_inuse_bytes"])
	smp.Goroutines = int(vals["go_goroutines"])
	smp.FDs = int(vals["process_open_fds"])
	smp.Sessions = int(vals["livechat_sessions"])
	smp.Users = int(vals["livechat_users"])
	smp.Channels = int(vals["livechat_channels"])
	smp.Members = int(vals["livechat_members"])
	smp.Peers = int(vals["livechat_peers"])
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/admin/peers", nil)
	if err != nil {
		return smp, err
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err = s.http.Do(req)
	if err != nil {
		return smp, fmt.Errorf("admin peers: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return smp, fmt.Errorf("admin peers: %s (set LIVECHAT_ADMIN_TOKEN to the server's admin token)", resp.Status)
	}
	var peers struct {
		Peers []json.RawMessage `json:"peers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&peers); err != nil {
		return smp, fmt.Errorf("admin peers: %w", err)
	}
	smp.PeerEntries = len(peers.Peers)
	if !s.t0.IsZero() {
		smp.Elapsed = smp.At.Sub(s.t0).Seconds()
	}
	return smp, nil
}

// tally counts operations and errors from every channel worker.
type tally struct {
	mu   sync.Mutex
	ops  map[string]int64
	errs map[string]int64
	log  *slog.Logger
}

func (t *tally) op(kind string, n int64) {
	t.mu.Lock()
	t.ops[kind] += n
	t.mu.Unlock()
}

func (t *tally) fail(kind string, err error) {
	t.mu.Lock()
	t.errs[kind]++
	n := t.errs[kind]
	t.mu.Unlock()
	if n <= 5 { // the first few of each kind in full; the counts say the rest
		t.log.Warn("soak operation failed", "kind", kind, "err", err)
	}
}

func (t *tally) total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for k, v := range t.ops {
		if k != OpRTP && k != opRTPGot && k != opRTPWant {
			n += v
		}
	}
	return n
}

// soakMember is one seat of a channel's population; c is nil while the user is away.
type soakMember struct {
	user      string
	c         *lightClient
	ever      bool // has been connected before: the next join is a reconnect
	hdr       rtp.Header
	lastBeat  time.Time
	lastCheck time.Time
}

// soakChannel is one channel's worker state; only its worker goroutine touches it.
type soakChannel struct {
	id      string
	members []*soakMember
	rng     *rand.Rand
	stalled *websocket.Conn // the current odd client that stopped reading (channel 0 only)
	round   int
}

// RunSoak runs the soak scenario and judges the server's counts afterwards.
func RunSoak(ctx context.Context, cfg SoakConfig) (SoakResult, error) {
	if err := cfg.defaults(); err != nil {
		return SoakResult{}, err
	}
	per := cfg.Users / cfg.Channels
	res := SoakResult{Users: per * cfg.Channels, Channels: cfg.Channels, Seed: cfg.Seed, HeapSlack: cfg.HeapSlack, HeapWatch: cfg.HeapWatch,
		LoadStart: LoadAverage()}
	tl := &tally{ops: map[string]int64{}, errs: map[string]int64{}, log: cfg.Logger}
	smp := &soakSampler{base: "http://" + cfg.Addr, pid: cfg.PID, token: cfg.AdminToken,
		http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	var err error
	if res.Baseline, err = smp.sample(ctx); err != nil {
		return res, fmt.Errorf("baseline: %w", err)
	}
	smp.t0 = res.Baseline.At
	res.Baseline.Ops = 0
	baseCounters, err := smp.counters(ctx)
	if err != nil {
		return res, err
	}
	cfg.Logger.Info("soak baseline", "goroutines", res.Baseline.Goroutines, "heap_mib", MiB(res.Baseline.HeapInuse),
		"sessions", res.Baseline.Sessions, "channels", res.Baseline.Channels)

	run := runID()
	chans := make([]*soakChannel, cfg.Channels)
	ids := make([]string, cfg.Channels)
	for i := range chans {
		ids[i] = fmt.Sprintf("ls%s_%02d", run, i)
		chans[i] = &soakChannel{id: ids[i], rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}
		for m := 0; m < per; m++ {
			chans[i].members = append(chans[i].members, &soakMember{user: fmt.Sprintf("ls%s_%02d_%03d", run, i, m)})
		}
	}
	if err := soakChurn(ctx, cfg, chans, ids, tl, smp, &res); err != nil {
		return res, err
	}

	// Every client has gone and the channels are deleted: wait (bounded) for the server's
	// counts to come back, polling its own view.
	settleBegan := time.Now()
	deadline := settleBegan.Add(cfg.Settle)
	for {
		if res.After, err = smp.sample(ctx); err != nil {
			return res, fmt.Errorf("after: %w", err)
		}
		res.After.Ops = tl.total()
		res.Problems = judge(res.Baseline, res.After)
		if len(res.Problems) == 0 || time.Now().After(deadline) {
			break
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil { // polling the server's counts
			return res, err
		}
	}
	res.Settled = time.Since(settleBegan)
	// The heap: its lowest reading over HeapWatch, which spans at least one collection.
	res.HeapAfter = res.After.HeapInuse
	for end := time.Now().Add(cfg.HeapWatch); time.Now().Before(end); {
		if err := sleepCtx(ctx, time.Second); err != nil { // polling the server's heap
			return res, err
		}
		s, err := smp.sample(ctx)
		if err != nil {
			return res, fmt.Errorf("heap: %w", err)
		}
		res.HeapAfter = min(res.HeapAfter, s.HeapInuse)
	}
	if res.HeapAfter > res.Baseline.HeapInuse+cfg.HeapSlack {
		res.Problems = append(res.Problems, fmt.Sprintf("Go heap in use %.1f MiB (lowest over %v), baseline %.1f MiB + slack %.0f MiB",
			MiB(res.HeapAfter), cfg.HeapWatch, MiB(res.Baseline.HeapInuse), MiB(cfg.HeapSlack)))
	}
	if after, err := smp.counters(ctx); err == nil {
		res.Counters = map[string]float64{}
		for k, v := range after {
			if d := v - baseCounters[k]; d != 0 {
				res.Counters[k] = d
			}
		}
	}
	res.Ops, res.Errors = tl.ops, tl.errs
	res.LoadEnd = LoadAverage()
	return res, nil
}

// judge lists what in after is not back to baseline.
func judge(base, after SoakSample) []string {
	var out []string
	for _, c := range []struct {
		name        string
		base, after int
	}{
		{"sessions", base.Sessions, after.Sessions}, {"users", base.Users, after.Users},
		{"channels", base.Channels, after.Channels}, {"members", base.Members, after.Members},
		{"peers", base.Peers, after.Peers}, {"peer entries", base.PeerEntries, after.PeerEntries},
	} {
		if c.after != c.base {
			out = append(out, fmt.Sprintf("%s %d, baseline %d", c.name, c.after, c.base))
		}
	}
	if after.Goroutines > base.Goroutines {
		out = append(out, fmt.Sprintf("goroutines %d, baseline %d", after.Goroutines, base.Goroutines))
	}
	if base.FDs > 0 && after.FDs > base.FDs {
		out = append(out, fmt.Sprintf("open fds %d, baseline %d", after.FDs, base.FDs))
	}
	return out
}

// soakCounters are the server's labelled counters the soak reports the increase of.
var soakCounters = []string{"ws_errors_total", "ws_refused_total", "floor_revokes_total", "floor_denials_total",
	"media_packets_dropped_total", "dtls_handshakes_total", "actor_panics_total", "channel_creates_refused_total"}

// counters reads soakCounters from /metrics, keyed "name{labels}" without the livechat_
// prefix.
func (s *soakSampler) counters(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, ok := strings.CutPrefix(line, "livechat_")
		sp := strings.LastIndexByte(name, ' ')
		if !ok || sp < 0 {
			continue
		}
		key := name[:sp]
		metric, _, _ := strings.Cut(key, "{")
		if !slices.Contains(soakCounters, metric) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(name[sp+1:], &v); err == nil {
			out[strings.ReplaceAll(key, `"`, "")] = v
		}
	}
	return out, nil
}

// soakChurn creates the channels, runs every channel's rounds until Duration, samples the
// server every SampleEvery, then has every client leave and deletes the channels.
func soakChurn(ctx context.Context, cfg SoakConfig, chans []*soakChannel, ids []string, tl *tally, smp *soakSampler, res *SoakResult) error {
	ctrl, err := session(cfg.Addr, cfg.Secret, "ls_ctrl_"+ids[0], cfg.Wait)
	if err != nil {
		return fmt.Errorf("control session: %w", err)
	}
	defer ctrl.Close()
	// The stalled client and the abandoned joins use seats beyond the population.
	if err := createChannels(ctrl, ids, len(chans[0].members)+4); err != nil {
		return err
	}
	defer deleteChannels(ctrl, ids)
	stopBeats := heartbeater(func() []*wsClient { return []*wsClient{ctrl} })
	defer stopBeats()

	began := time.Now()
	churnCtx, stopChurn := context.WithDeadline(ctx, began.Add(cfg.Duration))
	defer stopChurn()
	var wg sync.WaitGroup
	rounds := make([]int, len(chans))
	for i, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for churnCtx.Err() == nil {
				ch.runRound(churnCtx, cfg, tl, i == 0)
				rounds[i]++
			}
			ch.closeAll(tl)
		}()
	}
	// Sample the server every SampleEvery until the workers are done.
	workers := make(chan struct{})
	go func() { wg.Wait(); close(workers) }()
	tick := time.NewTicker(cfg.SampleEvery)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-workers:
			done = true
		case <-tick.C:
			s, err := smp.sample(ctx)
			if err != nil {
				tl.fail("sample", err)
				continue
			}
			s.Ops = tl.total()
			res.Samples = append(res.Samples, s)
			cfg.Logger.Info("soak sample", "elapsed", time.Since(began).Round(time.Second), "ops", s.Ops,
				"sessions", s.Sessions, "peers", s.Peers, "goroutines", s.Goroutines, "heap_mib", fmt.Sprintf("%.1f", MiB(s.HeapInuse)))
		}
	}
	res.Duration = time.Since(began)
	for _, n := range rounds {
		res.Rounds += n
	}
	if ctx.Err() != nil {
		return fmt.Errorf("soak stopped: %w", ctx.Err())
	}
	return nil
}

// connected returns the members that are in the channel now, in seat order.
func (ch *soakChannel) connected() []*soakMember {
	var out []*soakMember
	for _, m := range ch.members {
		if m.c != nil {
			out = append(out, m)
		}
	}
	return out
}

// pick returns n distinct connected members in a seeded random order (nil if fewer).
func (ch *soakChannel) pick(n int) []*soakMember {
	in := ch.connected()
	if len(in) < n {
		return nil
	}
	ch.rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
	return in[:n]
}

// runRound is one round of churn in one channel: everyone away comes back, a talker talks,
// another queues, a third preempts, the floor is handed over and released, someone chats,
// one member leaves and another drops. Any failure closes the channel's clients (they come
// back next round) so that one error cannot leave the floor state out of step.
func (ch *soakChannel) runRound(ctx context.Context, cfg SoakConfig, tl *tally, odd bool) {
	ch.round++
	ch.join(ctx, cfg, tl)
	ch.tend(tl)
	if odd && ch.round%25 == 1 {
		ch.stall(ctx, cfg, tl)
	}
	if odd && ch.round%5 == 1 {
		ch.abandonJoin(cfg, tl)
	}
	if err := ch.floorRound(ctx, cfg, tl); err != nil {
		if ctx.Err() == nil {
			tl.fail("floor", err)
		}
		ch.closeAll(tl)
		return
	}
	if err := ch.chat(ctx, tl); err != nil {
		if ctx.Err() == nil {
			tl.fail(OpChat, err)
		}
		ch.closeAll(tl)
		return
	}
	// One member leaves politely, another vanishes; both come back next round.
	ms := ch.pick(2)
	if ms == nil {
		return
	}
	if f, err := ms[0].c.ws.RequestErr(opChannelLeave, map[string]any{"channel_id": ch.id}); err != nil || f.Op != opAck {
		tl.fail(OpLeave, fmt.Errorf("%s: leave answered %v: %v", ms[0].user, f, err))
	} else {
		tl.op(OpLeave, 1)
	}
	ms[0].c.close()
	ms[0].c = nil
	ms[1].c.drop()
	ms[1].c = nil
	tl.op(OpDrop, 1)
}

// join brings every away member back: IDENTIFY, CHANNEL_JOIN with an offer, STUN, DTLS.
func (ch *soakChannel) join(ctx context.Context, cfg SoakConfig, tl *tally) {
	for _, m := range ch.members {
		if m.c != nil || ctx.Err() != nil {
			continue
		}
		c, err := newLightClient(cfg.Addr, cfg.Secret, m.user, cfg.Wait, 1, time.Now())
		if err != nil {
			tl.fail(OpIdentify, err)
			continue
		}
		tl.op(OpIdentify, 1)
		if err := c.join(ch.id); err != nil {
			tl.fail(OpJoin, err)
			c.close()
			continue
		}
		jctx, cancel := context.WithTimeout(ctx, cfg.Wait)
		err = c.connect(jctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				tl.fail(OpJoin, err)
			}
			c.close()
			continue
		}
		tl.op(OpJoin, 1)
		if m.ever {
			tl.op(OpReconnect, 1)
		}
		m.c, m.ever = c, true
		m.hdr = rtp.Header{Version: 2, PayloadType: opusPT, SSRC: c.ssrc, SequenceNumber: uint16(ch.rng.Uint32()), Timestamp: ch.rng.Uint32()}
		m.lastBeat, m.lastCheck = time.Now(), time.Now()
	}
}

// tend sends what a real client sends in the background: HEARTBEAT at the interval HELLO
// gave, consent checks every 2.5 s; and drops the events nobody waited for, so that the
// round's waits see only its own.
func (ch *soakChannel) tend(tl *tally) {
	for _, m := range ch.connected() {
		every := time.Duration(m.c.ws.HeartbeatInterval) * time.Millisecond
		if every <= 0 || every > 10*time.Second {
			every = 10 * time.Second
		}
		if time.Since(m.lastBeat) >= every/2 {
			if err := m.c.ws.SendErr(opHeartbeat, map[string]any{}); err == nil {
				tl.op(OpHeartbeat, 1)
			}
			m.lastBeat = time.Now()
		}
		if time.Since(m.lastCheck) >= 2500*time.Millisecond {
			m.c.keepalive()
			m.lastCheck = time.Now()
		}
		m.c.ws.drain()
	}
}

// floorRound: A is granted and talks; B queues behind A; C's emergency request preempts A
// and C talks; C releases and the floor goes to B; B releases and the floor is idle.
func (ch *soakChannel) floorRound(ctx context.Context, cfg SoakConfig, tl *tally) error {
	ms := ch.pick(3)
	if ms == nil {
		return nil
	}
	a, b, c := ms[0], ms[1], ms[2]
	id := map[string]any{"channel_id": ch.id}
	if err := a.c.ws.SendErr(opFloorRequest, id); err != nil {
		return err
	}
	if f, err := a.c.ws.AwaitErr(opFloorGranted); err != nil {
		return fmt.Errorf("%s: grant: %w (%v)", a.user, err, f)
	}
	tl.op(OpGrant, 1)
	if err := ch.talk(ctx, cfg, tl, a, cfg.Talk); err != nil {
		return err
	}
	if err := b.c.ws.SendErr(opFloorRequest, id); err != nil {
		return err
	}
	if f, err := b.c.ws.AwaitErr(opFloorQueuePos); err != nil {
		return fmt.Errorf("%s: queue: %w (%v)", b.user, err, f)
	}
	tl.op(OpQueue, 1)
	if err := c.c.ws.SendErr(opFloorRequest, map[string]any{"channel_id": ch.id, "priority": 255}); err != nil {
		return err
	}
	if f, err := c.c.ws.AwaitErr(opFloorGranted); err != nil {
		return fmt.Errorf("%s: emergency grant: %w (%v)", c.user, err, f)
	}
	f, err := a.c.ws.AwaitErr(opFloorRevoke)
	var rv struct {
		Reason string `json:"reason"`
	}
	if err != nil || f.Decode(&rv) != nil || rv.Reason != "preempted" {
		return fmt.Errorf("%s: preempted holder got %v: %v", a.user, f, err)
	}
	tl.op(OpPreempt, 1)
	if err := ch.talk(ctx, cfg, tl, c, cfg.Talk/2); err != nil {
		return err
	}
	if err := c.c.ws.SendErr(opFloorRelease, id); err != nil {
		return err
	}
	if f, err := b.c.ws.AwaitErr(opFloorGranted); err != nil {
		return fmt.Errorf("%s: handover: %w (%v)", b.user, err, f)
	}
	tl.op(OpHandover, 1)
	if err := b.c.ws.SendErr(opFloorRelease, id); err != nil {
		return err
	}
	if f, err := a.c.ws.AwaitErr(opFloorIdle); err != nil {
		return fmt.Errorf("%s: idle after release: %w (%v)", a.user, err, f)
	}
	tl.op(OpRelease, 1)
	return nil
}

// talk sends d of RTP from t at cfg.Rate and counts what every other connected member
// received of it (waiting, bounded, for the last packets to arrive).
func (ch *soakChannel) talk(ctx context.Context, cfg SoakConfig, tl *tally, t *soakMember, d time.Duration) error {
	var listeners []*soakMember
	var before []uint64
	for _, m := range ch.connected() {
		if m != t {
			listeners = append(listeners, m)
			before = append(before, m.c.received.Load())
		}
	}
	n := int(d.Seconds() * float64(cfg.Rate))
	payload := make([]byte, 160)
	copy(payload, "lcload")
	plain := make([]byte, 0, 12+len(payload)+16)
	enc := make([]byte, 0, 12+len(payload)+64)
	tick := time.NewTicker(time.Second / time.Duration(cfg.Rate))
	defer tick.Stop()
	sent := 0
	for sent < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		binary.BigEndian.PutUint64(payload[8:], uint64(time.Since(t.c.base)))
		var err error
		if enc, err = t.c.sendRTP(&t.hdr, payload, plain, enc); err != nil {
			return fmt.Errorf("%s: rtp: %w", t.user, err)
		}
		t.hdr.SequenceNumber++
		t.hdr.Timestamp += uint32(48000 / cfg.Rate)
		sent++
	}
	tl.op(OpRTP, int64(sent))
	tl.op(OpTalk, 1)
	heard := func() (got int64) {
		for i, m := range listeners {
			got += int64(min(m.c.received.Load()-before[i], uint64(sent)))
		}
		return got
	}
	want := int64(sent * len(listeners))
	deadline := time.Now().Add(time.Second)
	for heard() < want && time.Now().Before(deadline) {
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil { // polling the listeners' counters
			return err
		}
	}
	tl.op(opRTPGot, heard())
	tl.op(opRTPWant, want)
	return nil
}

// chat: one member sends a message, another sees its MESSAGE_EVENT.
func (ch *soakChannel) chat(ctx context.Context, tl *tally) error {
	ms := ch.pick(2)
	if ms == nil || ctx.Err() != nil {
		return nil
	}
	ms[1].c.ws.drain()
	content := fmt.Sprintf("soak round %d from %s", ch.round, ms[0].user)
	f, err := ms[0].c.ws.RequestErr(opChatSend, map[string]any{"channel_id": ch.id, "content": content})
	if err != nil || f.Op != opAck {
		return fmt.Errorf("%s: message answered %v: %v", ms[0].user, f, err)
	}
	for i := 0; i < 100; i++ {
		f, err := ms[1].c.ws.AwaitErr(opMessageEvent)
		if err != nil {
			return fmt.Errorf("%s: message event: %w", ms[1].user, err)
		}
		var ev struct {
			Content string `json:"content"`
		}
		if f.Decode(&ev) == nil && ev.Content == content {
			tl.op(OpChat, 1)
			return nil
		}
	}
	return fmt.Errorf("%s: never saw the message", ms[1].user)
}

// stall replaces the channel's stalled session (one that joined and then stopped reading and
// sending) with a new one. Rounds take a second or two, so each stalled session lives longer
// than the server's heartbeat timeout and is closed by the server (4003), not by the soak.
func (ch *soakChannel) stall(ctx context.Context, cfg SoakConfig, tl *tally) {
	if ch.stalled != nil {
		_ = ch.stalled.CloseNow()
		ch.stalled = nil
	}
	user := fmt.Sprintf("%s_stall_%d", ch.id, ch.round)
	conn, err := dialStalled(ctx, cfg.Addr, cfg.Secret, user, ch.id)
	switch {
	case err != nil && ctx.Err() != nil:
		return // the churn's end, not a failure
	case err != nil:
		tl.fail(OpStalled, err)
	default:
		ch.stalled = conn
		tl.op(OpStalled, 1)
	}
}

// abandonJoin makes one join that is abandoned between the answer and STUN: the server holds
// a peer that will never hear from its client until the session closes.
func (ch *soakChannel) abandonJoin(cfg SoakConfig, tl *tally) {
	c, err := newLightClient(cfg.Addr, cfg.Secret, fmt.Sprintf("%s_gone_%d", ch.id, ch.round), cfg.Wait, 1, time.Now())
	if err != nil {
		tl.fail(OpAbandonedJoin, err)
		return
	}
	if err := c.join(ch.id); err != nil {
		tl.fail(OpAbandonedJoin, err)
	} else {
		tl.op(OpAbandonedJoin, 1)
	}
	c.drop()
}

// closeAll closes every client of the channel normally (and the stalled one abruptly).
func (ch *soakChannel) closeAll(tl *tally) {
	for _, m := range ch.members {
		if m.c != nil {
			m.c.close()
			m.c = nil
		}
	}
	if ch.stalled != nil {
		_ = ch.stalled.CloseNow()
		ch.stalled = nil
	}
}

// dialStalled opens a session that identifies, joins channel (signaling only) and then never
// reads or sends again: the server must close it (heartbeat timeout, or slow consumer if its
// queue fills first) and clean up its session and membership without disturbing the others.
func dialStalled(ctx context.Context, addr string, secret []byte, user, channel string) (*websocket.Conn, error) {
	tok, err := mintToken(secret, user, 100, time.Hour)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, defaultWait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		return nil, fmt.Errorf("stalled %s: dial: %w", user, err)
	}
	send := func(op int, d any) error {
		b, _ := json.Marshal(map[string]any{"op": op, "d": d})
		return conn.Write(ctx, websocket.MessageText, b)
	}
	read := func(want int) error {
		for i := 0; i < 100; i++ {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return err
			}
			var f frame
			if json.Unmarshal(b, &f) == nil && f.Op == want {
				return nil
			}
		}
		return fmt.Errorf("no op %d among 100 frames", want)
	}
	err = read(opHello)
	if err == nil {
		err = send(opIdentify, map[string]any{"user_id": user, "token": tok})
	}
	if err == nil {
		err = read(opReady)
	}
	if err == nil {
		err = send(opChannelJoin, map[string]any{"channel_id": channel})
	}
	if err == nil {
		err = read(opAck)
	}
	if err != nil {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("stalled %s: %w", user, err)
	}
	return conn, nil
}

// Report writes the soak's figures as text lines.
func (r SoakResult) Report() []string {
	out := []string{
		fmt.Sprintf("soak: %d users over %d channels, seed %d, churn %v (%d channel rounds); load average %.2f → %.2f",
			r.Users, r.Channels, r.Seed, r.Duration.Round(time.Second), r.Rounds, r.LoadStart, r.LoadEnd),
	}
	var ops []string
	for _, k := range append(slices.Clone(SoakOps), opRTPGot) {
		ops = append(ops, fmt.Sprintf("%s %d", k, r.Ops[k]))
	}
	out = append(out, "operations: "+strings.Join(ops, ", "))
	var errs []string
	for k, v := range r.Errors {
		errs = append(errs, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(errs)
	if len(errs) == 0 {
		errs = []string{"none"}
	}
	out = append(out, "errors: "+strings.Join(errs, ", "))
	out = append(out, fmt.Sprintf("listener loss during talks: %.3f %% (%d of %d packet copies heard)",
		100*r.Loss(), r.Ops[opRTPGot], r.Ops[opRTPWant]))
	var counted []string
	for k, v := range r.Counters {
		counted = append(counted, fmt.Sprintf("%s %.0f", k, v))
	}
	sort.Strings(counted)
	out = append(out, "server counted during the run: "+strings.Join(counted, ", "))
	b, a := r.Baseline, r.After
	out = append(out, "| | baseline | after |", "|---|---:|---:|")
	row := func(name string, x, y any) { out = append(out, fmt.Sprintf("| %s | %v | %v |", name, x, y)) }
	row("sessions", b.Sessions, a.Sessions)
	row("users", b.Users, a.Users)
	row("channels", b.Channels, a.Channels)
	row("members", b.Members, a.Members)
	row("peers (gauge)", b.Peers, a.Peers)
	row("peer look-up entries", b.PeerEntries, a.PeerEntries)
	row("goroutines", b.Goroutines, a.Goroutines)
	row("open fds", b.FDs, a.FDs)
	row("Go heap in use (MiB)", fmt.Sprintf("%.1f", MiB(b.HeapInuse)), fmt.Sprintf("%.1f at once, %.1f lowest after", MiB(a.HeapInuse), MiB(r.HeapAfter)))
	row("RSS (MiB)", fmt.Sprintf("%.1f", MiB(b.RSS)), fmt.Sprintf("%.1f", MiB(a.RSS)))
	if len(r.Samples) > 0 {
		out = append(out, "per-interval samples (elapsed s: sessions/peers/goroutines/heap MiB/RSS MiB/fds/ops):")
		var line []string
		for _, s := range r.Samples {
			line = append(line, fmt.Sprintf("%.0f: %d/%d/%d/%.1f/%.1f/%d/%d", s.Elapsed, s.Sessions, s.Peers, s.Goroutines,
				MiB(s.HeapInuse), MiB(s.RSS), s.FDs, s.Ops))
		}
		out = append(out, strings.Join(line, "; "))
	}
	if r.Passed() {
		out = append(out, fmt.Sprintf("verdict: PASS — sessions, users, channels, members, peers, peer entries, goroutines and fds back to baseline within %v of the last client leaving; Go heap in use within baseline + %.0f MiB",
			r.Settled.Round(100*time.Millisecond), MiB(r.HeapSlack)))
	} else {
		out = append(out, "verdict: FAIL after "+r.Settled.Round(time.Second).String()+" — "+strings.Join(r.Problems, "; "))
	}
	return out
}

// SoakRecord is the soak as one JSON document (lcload soak --json).
type SoakRecord struct {
	At        string             `json:"at"`
	Users     int                `json:"users"`
	Channels  int                `json:"channels"`
	Seed      uint64             `json:"seed"`
	DurationS float64            `json:"duration_s"`
	Rounds    int                `json:"rounds"`
	Ops       map[string]int64   `json:"ops"`
	Errors    map[string]int64   `json:"errors"`
	Loss      float64            `json:"listener_loss"`
	Counters  map[string]float64 `json:"server_counters"`
	Baseline  SoakSample         `json:"baseline"`
	After     SoakSample         `json:"after"`
	Samples   []SoakSample       `json:"samples"`
	SettledS  float64            `json:"settled_s"`
	HeapSlack int64              `json:"heap_slack_bytes"`
	HeapAfter int64              `json:"heap_inuse_after_bytes"`
	Passed    bool               `json:"passed"`
	Problems  []string           `json:"problems"`
	LoadStart float64            `json:"load_start"`
	LoadEnd   float64            `json:"load_end"`
}

// Record is r as a JSON record.
func (r SoakResult) Record() SoakRecord {
	return SoakRecord{At: time.Now().UTC().Format(time.RFC3339), Users: r.Users, Channels: r.Channels, Seed: r.Seed,
		DurationS: r.Duration.Seconds(), Rounds: r.Rounds, Ops: r.Ops, Errors: r.Errors, Loss: r.Loss(),
		Counters: r.Counters, Baseline: r.Baseline, After: r.After, Samples: r.Samples,
		SettledS: r.Settled.Seconds(), HeapSlack: r.HeapSlack, HeapAfter: r.HeapAfter, Passed: r.Passed(), Problems: r.Problems,
		LoadStart: r.LoadStart, LoadEnd: r.LoadEnd}
}

// ErrSoakFailed is returned (wrapped) when the counts did not come back to baseline.
var ErrSoakFailed = errors.New("soak: not back to baseline")
