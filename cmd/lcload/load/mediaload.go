package load

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"
)

// MediaConfig is the media relay scenario: Channels channels, each with one talker holding the
// floor and sending Opus-sized SRTP at Rate packets per second, and Listeners light clients
// receiving it. With a floor relay (Floor or FloorInProcess) the same number of the same light
// listeners also receive the same stream through the floor relay, in windows interleaved with
// lcserver's (A/B/A/B), so that every figure has the floor beside it.
type MediaConfig struct {
	Addr         string // lcserver host:port, loopback only
	Secret       []byte
	Channels     int
	Listeners    int           // per channel
	Rate         int           // packets per second per talker [50]
	Payload      int           // RTP payload bytes [160, a 20 ms Opus frame at ≈ 64 kb/s]
	Duration     time.Duration // each measured window [20 s]
	Warmup       time.Duration // talking before each window opens [2 s]
	Idle         time.Duration // window with everyone connected and nobody talking, for the fixed cost [2 s]; negative skips
	Rounds       int           // lcserver windows (each followed by a floor window) [1]
	DecryptEvery int           // each listener decrypts every n-th packet [1 = all]; 0 or less counts only (no latency then)
	JoinProbes   int           // listeners that join one by one while the talker talks, for join → first audio [0]
	Setup        int           // clients set up at once [8]
	Wait         time.Duration // longest wait for any one frame or handshake [30 s]
	PID          int           // server pid for /proc CPU figures; 0 reads /metrics
	// Floor is the command that starts the floor relay as a child process (lcload's own
	// binary and its floor-relay subcommand); FloorInProcess runs it in this process instead
	// (tests: its CPU is then not measured). Neither: no floor windows.
	Floor          []string
	FloorInProcess bool
	Logger         *slog.Logger
}

// Window is one measured window of one relay.
type Window struct {
	Relay      string             `json:"relay"` // "lcserver" or "floor"
	Round      int                `json:"round"`
	Seconds    float64            `json:"seconds"`
	CPUSeconds float64            `json:"cpu_seconds"`      // the relay process's CPU time in the window
	OutPackets float64            `json:"out_packets"`      // lcserver: its packets-out counter; floor: what its listeners received
	Sent       uint64             `json:"sent"`             // talker packets in the window
	Received   uint64             `json:"received"`         // listener packets in the window
	SendCalls  float64            `json:"send_calls"`       // lcserver's sendmmsg calls in the window
	Switches   int64              `json:"context_switches"` // of the relay process's threads in the window
	LatP50us   float64            `json:"latency_p50_us"`
	LatP99us   float64            `json:"latency_p99_us"`
	Load       float64            `json:"load_average"`
	Drops      map[string]float64 `json:"drops,omitempty"`
	ClientCPU  float64            `json:"client_cpu_seconds"`
}

// CPUPerOut is the relay's CPU per output packet, µs.
func (w Window) CPUPerOut() float64 {
	if w.OutPackets == 0 {
		return 0
	}
	return w.CPUSeconds * 1e6 / w.OutPackets
}

// CallsPerTalkerPacket is lcserver's sendmmsg calls per talker packet.
func (w Window) CallsPerTalkerPacket() float64 {
	if w.Sent == 0 {
		return 0
	}
	return w.SendCalls / float64(w.Sent)
}

// Totals count one relay's whole talk (warm-ups included) after draining.
type Totals struct {
	Sent, Received                    uint64
	Decrypted, DecryptFailed, Refused uint64 // Refused: decrypted with the wrong SSRC or payload type
	Listeners                         int    // in all channels
	latency                           latCounts
}

// Loss is the share of expected listener packets that did not arrive.
func (t Totals) Loss() float64 {
	want := float64(t.Sent) * float64(t.Listeners)
	if want == 0 {
		return 0
	}
	return max(0, 1-float64(t.Received)/want)
}

// MediaResult holds the figures of one media run.
type MediaResult struct {
	Channels, Listeners, Rate, Payload int
	Setup                              time.Duration
	LoadStart, LoadEnd                 float64
	IdleWindow, IdleCPU                time.Duration
	Before, Connected, End             ServerSample // server before the first client, after the last connected, at the end
	Windows                            []Window
	Server, Floor                      Totals
	JoinFirstAudio                     []time.Duration // sorted
}

// windows returns the windows of one relay.
func (r MediaResult) windows(relay string) []Window {
	var ws []Window
	for _, w := range r.Windows {
		if w.Relay == relay {
			ws = append(ws, w)
		}
	}
	return ws
}

// Median of f over one relay's windows (0 without windows).
func (r MediaResult) Median(relay string, f func(Window) float64) float64 {
	var v []float64
	for _, w := range r.windows(relay) {
		v = append(v, f(w))
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Ratio is lcserver's median CPU per output packet over the floor's (0 without floor windows).
func (r MediaResult) Ratio() float64 {
	f := r.Median("floor", Window.CPUPerOut)
	if f == 0 {
		return 0
	}
	return r.Median("lcserver", Window.CPUPerOut) / f
}

// Peers is the number of media peers the server held during the run.
func (r MediaResult) Peers() int { return r.Channels * (r.Listeners + 1) }

// RSSPerPeer and HeapPerPeer are the server's memory per media peer (and its signaling
// session: every media client has one), bytes.
func (r MediaResult) RSSPerPeer() float64 {
	return float64(r.Connected.RSS-r.Before.RSS) / float64(r.Peers())
}
func (r MediaResult) HeapPerPeer() float64 {
	return float64(r.Connected.HeapInuse-r.Before.HeapInuse) / float64(r.Peers())
}

// JoinPercentile is join → first audio at q (0..1).
func (r MediaResult) JoinPercentile(q float64) time.Duration {
	if len(r.JoinFirstAudio) == 0 {
		return 0
	}
	return r.JoinFirstAudio[int(q*float64(len(r.JoinFirstAudio)-1)+0.5)]
}

// selfCPU is this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *MediaConfig) defaults() error {
	addr, err := CheckLoopback(c.Addr)
	if err != nil {
		return err
	}
	c.Addr = addr
	if c.Rate == 0 {
		c.Rate = 50
	}
	if c.Payload == 0 {
		c.Payload = 160
	}
	if c.Duration == 0 {
		c.Duration = 20 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	if c.Idle == 0 {
		c.Idle = 2 * time.Second
	}
	if c.Rounds <= 0 {
		c.Rounds = 1
	}
	if c.Setup <= 0 {
		c.Setup = 8
	}
	if c.Wait <= 0 {
		c.Wait = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Channels < 1 || c.Channels > 200:
		return fmt.Errorf("media: channels %d outside 1..200", c.Channels)
	case c.Listeners < 1 || c.Listeners > 1000:
		return fmt.Errorf("media: listeners %d outside 1..1000 per channel", c.Listeners)
	case c.Channels*c.Listeners > 5000:
		return fmt.Errorf("media: %d listeners in all is above the tool's bound of 5000", c.Channels*c.Listeners)
	case c.Rate < 1 || c.Rate > 20000:
		return fmt.Errorf("media: rate %d outside 1..20000 packets/s", c.Rate)
	case c.Payload < 16 || c.Payload > 1200:
		return fmt.Errorf("media: payload %d outside 16..1200 bytes", c.Payload)
	case c.Duration < 0 || c.Duration > 10*time.Minute:
		return fmt.Errorf("media: duration %v outside 0..10m", c.Duration)
	case c.Rounds > 20:
		return fmt.Errorf("media: rounds %d above 20", c.Rounds)
	case c.JoinProbes < 0 || c.JoinProbes > 200:
		return fmt.Errorf("media: join probes %d outside 0..200", c.JoinProbes)
	}
	return nil
}

// mediaChannel is one channel of the run, on lcserver or on the floor relay.
type mediaChannel struct {
	id        string
	talker    *lightClient
	listeners []*lightClient
	sent      atomic.Uint64
	hdr       rtp.Header // the talker's next packet: its stream continues from window to window
}

// relaySet is the channels of one relay and how to read its CPU.
type relaySet struct {
	name   string
	chans  []*mediaChannel
	sample func(ctx context.Context) (ServerSample, error)
	stop   func() // the floor relay's
}

func (s *relaySet) received() (n uint64) {
	for _, ch := range s.chans {
		for _, l := range ch.listeners {
			n += l.received.Load()
		}
	}
	return n
}

func (s *relaySet) sent() (n uint64) {
	for _, ch := range s.chans {
		n += ch.sent.Load()
	}
	return n
}

func (s *relaySet) latency() (c latCounts) {
	for _, ch := range s.chans {
		for _, l := range ch.listeners {
			c.addFrom(&l.latency)
		}
	}
	return c
}

func (s *relaySet) totals() Totals {
	t := Totals{Sent: s.sent(), Received: s.received(), latency: s.latency()}
	for _, ch := range s.chans {
		t.Listeners = len(ch.listeners)
		for _, l := range ch.listeners {
			t.Decrypted += l.decrypted.Load()
			t.DecryptFailed += l.decryptFailed.Load()
			t.Refused += l.wrongSSRC.Load()
		}
	}
	return t
}

// RunMedia runs the media scenario and stops by itself after setup + idle + rounds × 2 ×
// (warm-up + duration) + the join probes (each bounded).
func RunMedia(ctx context.Context, cfg MediaConfig) (MediaResult, error) {
	if err := cfg.defaults(); err != nil {
		return MediaResult{}, err
	}
	res := MediaResult{Channels: cfg.Channels, Listeners: cfg.Listeners, Rate: cfg.Rate, Payload: cfg.Payload, LoadStart: LoadAverage()}
	sampler := Sampler{Base: "http://" + cfg.Addr, PID: cfg.PID}
	var err error
	if res.Before, err = sampler.Sample(ctx); err != nil {
		return res, err
	}
	base := time.Now()
	run := runID()
	server := &relaySet{name: "lcserver", chans: make([]*mediaChannel, cfg.Channels), sample: sampler.Sample}
	ids := make([]string, cfg.Channels)
	for i := range server.chans {
		ids[i] = fmt.Sprintf("lm%s_%02d", run, i)
		server.chans[i] = &mediaChannel{id: ids[i], listeners: make([]*lightClient, cfg.Listeners)}
	}
	ctrl, err := session(cfg.Addr, cfg.Secret, "lm"+run+"_ctrl", cfg.Wait)
	if err != nil {
		return res, fmt.Errorf("control session: %w", err)
	}
	defer ctrl.Close()
	if err := createChannels(ctrl, ids, cfg.Listeners+1+cfg.JoinProbes); err != nil {
		return res, err
	}
	defer deleteChannels(ctrl, ids)

	// Set up every client: WebSocket, join with an offer, STUN, DTLS, SRTP.
	var all []*lightClient
	var mu sync.Mutex
	closeAll := func() {
		var wg sync.WaitGroup
		mu.Lock()
		cs := all
		all = nil
		mu.Unlock()
		for _, c := range cs {
			wg.Add(1)
			go func() { defer wg.Done(); c.close() }()
		}
		wg.Wait()
	}
	defer closeAll()
	began := time.Now()
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.Wait+time.Duration(cfg.Channels*(cfg.Listeners+1))*100*time.Millisecond)
	defer cancelSetup()
	errs := make(chan error, cfg.Channels*(cfg.Listeners+1))
	sem := make(chan struct{}, cfg.Setup)
	var wg sync.WaitGroup
	cfg.Logger.Info("setting up media clients", "channels", cfg.Channels, "listeners", cfg.Listeners)
setup:
	for ci, ch := range server.chans {
		for li := -1; li < cfg.Listeners; li++ {
			select {
			case sem <- struct{}{}:
			case <-setupCtx.Done():
				break setup
			}
			wg.Add(1)
			go func(ch *mediaChannel, li int) {
				defer wg.Done()
				defer func() { <-sem }()
				user := fmt.Sprintf("lm%s_%02d_t", run, ci)
				if li >= 0 {
					user = fmt.Sprintf("lm%s_%02d_%03d", run, ci, li)
				}
				c, err := newLightClient(cfg.Addr, cfg.Secret, user, cfg.Wait, cfg.DecryptEvery, base)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				all = append(all, c)
				mu.Unlock()
				if err := c.join(ch.id); err != nil {
					errs <- err
					return
				}
				if err := c.connect(setupCtx); err != nil {
					errs <- err
					return
				}
				if li < 0 {
					ch.talker = c
				} else {
					ch.listeners[li] = c
				}
			}(ch, li)
		}
	}
	wg.Wait()
	res.Setup = time.Since(began)
	if err := firstErr(setupCtx, errs); err != nil {
		return res, fmt.Errorf("setup: %w", err)
	}
	cfg.Logger.Info("media clients connected", "clients", len(all), "took", res.Setup.Round(time.Millisecond))
	if res.Connected, err = sampler.Sample(ctx); err != nil {
		return res, err
	}

	// The floor relay and its own light clients: same count, same reader, same decryption.
	var floor *relaySet
	if len(cfg.Floor) > 0 || cfg.FloorInProcess {
		var ferr error
		floor, ferr = startFloor(ctx, cfg, base, &all, &mu)
		if ferr != nil {
			return res, ferr
		}
		if floor.sample == nil {
			floor.sample = func(context.Context) (ServerSample, error) { return ServerSample{At: time.Now()}, nil }
		}
		defer floor.stop()
	}

	stopBeats := heartbeater(func() []*wsClient {
		cs := []*wsClient{ctrl}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range all {
			if c.ws != nil {
				cs = append(cs, c.ws)
			}
		}
		return cs
	})
	defer stopBeats()

	// Consent checks every 5 s keep silent listeners from being reaped.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				mu.Lock()
				cs := slices.Clone(all)
				mu.Unlock()
				for _, c := range cs {
					if c.ws != nil {
						c.keepalive()
					}
				}
			}
		}
	}()
	defer bg.Wait()
	defer stopRun()

	// The fixed cost: everyone connected, nobody talking.
	if cfg.Idle > 0 {
		s0, err := sampler.Sample(ctx)
		if err != nil {
			return res, err
		}
		if err := sleepCtx(ctx, cfg.Idle); err != nil {
			return res, err
		}
		s1, err := sampler.Sample(ctx)
		if err != nil {
			return res, err
		}
		res.IdleWindow, res.IdleCPU = s1.At.Sub(s0.At), s1.CPU-s0.CPU
	}

	// Every lcserver talker takes its channel's floor and keeps it for the whole run
	// (FLOOR_PING every 2 s, re-request after a revoke).
	for _, ch := range server.chans {
		if err := ch.talker.ws.SendErr(opFloorRequest, map[string]any{"channel_id": ch.id}); err != nil {
			return res, err
		}
	}
	for _, ch := range server.chans {
		if f, err := ch.talker.ws.AwaitErr(opFloorGranted); err != nil {
			return res, fmt.Errorf("%s: floor: %w (%v)", ch.id, err, f)
		}
	}
	for _, ch := range server.chans {
		bg.Add(1)
		go func() { defer bg.Done(); ch.keepFloor(runCtx) }()
	}

	// A/B/A/B: an lcserver window, then a floor window, Rounds times.
	for round := 1; round <= cfg.Rounds; round++ {
		for _, set := range []*relaySet{server, floor} {
			if set == nil {
				continue
			}
			w, err := measure(ctx, cfg, set, round, base)
			if err != nil {
				return res, err
			}
			res.Windows = append(res.Windows, w)
			cfg.Logger.Info("window", "relay", w.Relay, "round", round, "us_per_out", fmt.Sprintf("%.2f", w.CPUPerOut()),
				"p99_us", w.LatP99us)
		}
	}

	// Join → first audio: listeners join one at a time while the first channel's talker talks.
	if cfg.JoinProbes > 0 {
		if res.JoinFirstAudio, err = joinProbes(ctx, cfg, server.chans[0], run, base); err != nil {
			return res, err
		}
	}
	res.LoadEnd = LoadAverage()
	if res.End, err = sampler.Sample(ctx); err != nil {
		return res, err
	}
	stopRun()
	bg.Wait()
	res.Server = server.totals()
	if floor != nil {
		res.Floor = floor.totals()
	}
	for _, ch := range server.chans {
		_ = ch.talker.ws.SendErr(opFloorRelease, map[string]any{"channel_id": ch.id})
	}
	return res, nil
}

// measure talks on every channel of set for warm-up + duration and reads the window.
func measure(ctx context.Context, cfg MediaConfig, set *relaySet, round int, base time.Time) (Window, error) {
	w := Window{Relay: set.name, Round: round}
	talkCtx, stop := context.WithCancel(ctx)
	var talkers sync.WaitGroup
	for _, ch := range set.chans {
		talkers.Add(1)
		go func() { defer talkers.Done(); ch.talk(talkCtx, cfg.Rate, cfg.Payload, base) }()
	}
	defer func() { stop(); talkers.Wait() }()
	if err := sleepCtx(ctx, cfg.Warmup); err != nil {
		return w, err
	}
	sent0, recv0, lat0, self0 := set.sent(), set.received(), set.latency(), selfCPU()
	s0, err := set.sample(ctx)
	if err != nil {
		return w, err
	}
	if err := sleepCtx(ctx, cfg.Duration); err != nil {
		return w, err
	}
	s1, err := set.sample(ctx)
	if err != nil {
		return w, err
	}
	lat := set.latency().minus(lat0)
	w.Seconds = s1.At.Sub(s0.At).Seconds()
	w.CPUSeconds = (s1.CPU - s0.CPU).Seconds()
	w.Switches = s1.Switches - s0.Switches
	w.Sent, w.Received = set.sent()-sent0, set.received()-recv0
	w.ClientCPU = (selfCPU() - self0).Seconds()
	w.LatP50us, w.LatP99us = lat.percentile(0.5), lat.percentile(0.99)
	w.Load = LoadAverage()
	if set.name == "lcserver" {
		w.OutPackets = s1.PacketsOut - s0.PacketsOut
		w.SendCalls = s1.SendCalls - s0.SendCalls
		for reason, v := range s1.Drops {
			if d := v - s0.Drops[reason]; d > 0 {
				if w.Drops == nil {
					w.Drops = map[string]float64{}
				}
				w.Drops[reason] = d
			}
		}
	} else {
		w.OutPackets = float64(w.Received)
	}
	stop()
	talkers.Wait()
	// Drain: wait until nothing more arrives (bounded) before the next window.
	last := set.received()
	for i := 0; i < 20; i++ {
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			break
		}
		n := set.received()
		if n == last {
			break
		}
		last = n
	}
	return w, nil
}

// startFloor runs the floor relay (a child process, or in this process) and connects one
// talker and cfg.Listeners listeners per channel to it.
func startFloor(ctx context.Context, cfg MediaConfig, base time.Time, all *[]*lightClient, mu *sync.Mutex) (*relaySet, error) {
	secret := []byte(randomAlnum(32))
	set := &relaySet{name: "floor", chans: make([]*mediaChannel, cfg.Channels)}
	var addr netip.AddrPort
	if cfg.FloorInProcess {
		fctx, cancel := context.WithCancel(ctx)
		ready := make(chan netip.AddrPort, 1)
		done := make(chan error, 1)
		go func() { done <- RunFloorRelay(fctx, "127.0.0.1:0", secret, func(a netip.AddrPort) { ready <- a }) }()
		select {
		case addr = <-ready:
		case err := <-done:
			cancel()
			return nil, err
		}
		set.stop = func() { cancel(); <-done }
	} else {
		p, err := spawnFloor(cfg.Floor, secret)
		if err != nil {
			return nil, err
		}
		addr = p.addr
		set.stop = p.stop
		set.sample = func(context.Context) (ServerSample, error) {
			cpu, rss, err := procStat(p.pid)
			return ServerSample{At: time.Now(), CPU: cpu, RSS: rss, Switches: procSwitches(p.pid)}, err
		}
	}
	for ci := range set.chans {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(0x10000+ci)|1)
		ssrc := binary.BigEndian.Uint32(b[:])
		ch := &mediaChannel{id: fmt.Sprintf("floor-%d", ci), listeners: make([]*lightClient, cfg.Listeners)}
		set.chans[ci] = ch
		for li := -1; li < cfg.Listeners; li++ {
			c, err := newFloorClient(addr, secret, uint16(ci), uint32(li+1), cfg.DecryptEvery, base, ssrc)
			if err != nil {
				set.stop()
				return nil, err
			}
			mu.Lock()
			*all = append(*all, c)
			mu.Unlock()
			if li < 0 {
				ch.talker = c
			} else {
				ch.listeners[li] = c
			}
		}
	}
	return set, nil
}

// joinProbes joins cfg.JoinProbes fresh listeners to ch one at a time while its talker talks
// and times CHANNEL_JOIN sent → first RTP packet received.
func joinProbes(ctx context.Context, cfg MediaConfig, ch *mediaChannel, run string, base time.Time) ([]time.Duration, error) {
	talkCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); ch.talk(talkCtx, cfg.Rate, cfg.Payload, base) }()
	defer func() { stop(); <-done }()
	var out []time.Duration
	for i := range cfg.JoinProbes {
		c, err := newLightClient(cfg.Addr, cfg.Secret, fmt.Sprintf("lm%s_probe_%03d", run, i), cfg.Wait, cfg.DecryptEvery, base)
		if err != nil {
			return out, err
		}
		began := time.Since(base)
		err = c.join(ch.id)
		if err == nil {
			err = c.connect(ctx)
		}
		deadline := time.Now().Add(5 * time.Second)
		for err == nil && c.firstRTP.Load() == 0 && time.Now().Before(deadline) {
			err = sleepCtx(ctx, time.Millisecond) // polling the reader's first-packet stamp
		}
		first := c.firstRTP.Load()
		c.close()
		if err != nil {
			return out, fmt.Errorf("join probe %d: %w", i, err)
		}
		if first == 0 {
			return out, fmt.Errorf("join probe %d: no audio within 5 s of joining", i)
		}
		out = append(out, time.Duration(first)-began)
	}
	slices.Sort(out)
	return out, nil
}

// talk sends rate packets per second until ctx ends, in 10 ms ticks that catch up with the
// wall clock (so a late tick sends more, as a steady source would have). Each payload starts
// with "lcload" and the send time (since base, ns) for the listeners' latency figures.
func (ch *mediaChannel) talk(ctx context.Context, rate, size int, base time.Time) {
	c := ch.talker
	if ch.hdr.Version == 0 {
		ch.hdr = rtp.Header{Version: 2, PayloadType: opusPT, SSRC: c.ssrc, SequenceNumber: 1, Timestamp: 960}
	}
	hdr := &ch.hdr
	payload := make([]byte, size)
	copy(payload, "lcload")
	plain := make([]byte, 0, 12+size+16)
	enc := make([]byte, 0, 12+size+64)
	tsStep := uint32(48000 / rate)
	if tsStep == 0 {
		tsStep = 1
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	var n uint64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due := uint64(now.Sub(start).Seconds() * float64(rate))
			for ; n < due; n++ {
				binary.BigEndian.PutUint64(payload[8:], uint64(time.Since(base)))
				var err error
				if enc, err = c.sendRTP(hdr, payload, plain, enc); err == nil {
					ch.sent.Add(1)
				}
				hdr.SequenceNumber++
				hdr.Timestamp += tsStep
			}
		}
	}
}

// keepFloor pings every 2 s (docs/floor-control.md, "Timers") and asks for the floor again after a revoke (e.g. at
// the server's max duration), until ctx ends.
func (ch *mediaChannel) keepFloor(ctx context.Context) {
	ws := ch.talker.ws
	id := map[string]any{"channel_id": ch.id}
	for ctx.Err() == nil {
		_ = ws.SendErr(opFloorPing, id)
		deadline := time.Now().Add(2 * time.Second)
		for ctx.Err() == nil && time.Now().Before(deadline) {
			f, err := ws.NextErrWithin(min(time.Until(deadline), 200*time.Millisecond))
			if err == nil && f.Op == opFloorRevoke {
				_ = ws.SendErr(opFloorRequest, id)
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Report writes the run's figures as text lines.
func (r MediaResult) Report() []string {
	out := []string{
		fmt.Sprintf("channels %d × (1 talker + %d listeners) at %d pps, %d-byte payloads; setup %v; load average %.2f → %.2f",
			r.Channels, r.Listeners, r.Rate, r.Payload, r.Setup.Round(time.Millisecond), r.LoadStart, r.LoadEnd),
		fmt.Sprintf("server memory: RSS %.1f MiB idle, %.1f MiB with %d media peers (%.1f KiB per peer with its session); Go heap %.1f → %.1f MiB (%.1f KiB per peer)",
			MiB(r.Before.RSS), MiB(r.Connected.RSS), r.Peers(), r.RSSPerPeer()/1024,
			MiB(r.Before.HeapInuse), MiB(r.Connected.HeapInuse), r.HeapPerPeer()/1024),
	}
	if r.IdleWindow > 0 {
		out = append(out, fmt.Sprintf("idle (connected, nobody talking): server CPU %.1f ms/s",
			float64(r.IdleCPU.Microseconds())/1000/r.IdleWindow.Seconds()))
	}
	for _, w := range r.Windows {
		line := fmt.Sprintf("round %d %-8s: %.0f out pps, CPU %.2f s (%.2f cores) ⇒ %.2f µs per output packet; latency p50 %.0f µs p99 %.0f µs; %.1f context switches per talker packet; load %.2f",
			w.Round, w.Relay, w.OutPackets/w.Seconds, w.CPUSeconds, w.CPUSeconds/w.Seconds, w.CPUPerOut(), w.LatP50us, w.LatP99us,
			float64(w.Switches)/max(1, float64(w.Sent)), w.Load)
		if w.Relay == "lcserver" {
			line += fmt.Sprintf("; %.2f sendmmsg calls per talker packet", w.CallsPerTalkerPacket())
			if len(w.Drops) > 0 {
				var parts []string
				for k, v := range w.Drops {
					parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
				}
				slices.Sort(parts)
				line += "; drops " + strings.Join(parts, ", ")
			}
		}
		out = append(out, line)
	}
	cpu := func(relay string) float64 { return r.Median(relay, Window.CPUPerOut) }
	p99 := func(relay string) float64 { return r.Median(relay, func(w Window) float64 { return w.LatP99us }) }
	if len(r.windows("floor")) > 0 {
		out = append(out, fmt.Sprintf("median µs per output packet: lcserver %.2f, floor %.2f ⇒ ratio %.2f; median p99 latency: lcserver %.0f µs, floor %.0f µs",
			cpu("lcserver"), cpu("floor"), r.Ratio(), p99("lcserver"), p99("floor")))
	} else {
		out = append(out, fmt.Sprintf("median µs per output packet: lcserver %.2f (no floor relay run)", cpu("lcserver")))
	}
	for _, t := range []struct {
		name string
		t    Totals
	}{{"lcserver", r.Server}, {"floor", r.Floor}} {
		if t.t.Listeners == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s whole talk: sent %d, received %d of %d ⇒ loss %.3f %%; decrypted %d, failures %d, wrong SSRC/PT %d",
			t.name, t.t.Sent, t.t.Received, t.t.Sent*uint64(t.t.Listeners), 100*t.t.Loss(), t.t.Decrypted, t.t.DecryptFailed, t.t.Refused))
	}
	var drops []string
	for reason, v := range r.End.Drops {
		if d := v - r.Before.Drops[reason]; d > 0 {
			drops = append(drops, fmt.Sprintf("%s %.0f", reason, d))
		}
	}
	if len(drops) > 0 {
		slices.Sort(drops)
		out = append(out, "server drops over the whole run: "+strings.Join(drops, ", "))
	}
	if n := len(r.JoinFirstAudio); n > 0 {
		out = append(out, fmt.Sprintf("join → first audio (%d listeners joining one by one): p50 %v, p99 %v, max %v",
			n, r.JoinPercentile(0.5).Round(100*time.Microsecond), r.JoinPercentile(0.99).Round(100*time.Microsecond),
			r.JoinFirstAudio[n-1].Round(100*time.Microsecond)))
	}
	return out
}
