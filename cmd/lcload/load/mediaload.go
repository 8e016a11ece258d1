package load

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"

	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// MediaConfig is the media relay scenario: Channels channels, each with one talker holding the
// floor and sending Opus-sized SRTP at Rate packets per second, and Listeners light clients
// receiving it.
type MediaConfig struct {
	Addr         string // lcserver host:port, loopback only
	Secret       []byte
	Channels     int
	Listeners    int           // per channel
	Rate         int           // packets per second per talker [50]
	Payload      int           // RTP payload bytes [160, a 20 ms Opus frame at ≈ 64 kb/s]
	Duration     time.Duration // measured window [20 s]
	Warmup       time.Duration // talking before the window opens [2 s]
	Idle         time.Duration // window with everyone connected and nobody talking, for the fixed cost [2 s]; negative skips
	DecryptEvery int           // each listener decrypts every n-th packet [1 = all]; 0 or less counts only
	Setup        int           // clients set up at once [8]
	Wait         time.Duration // longest wait for any one frame or handshake [30 s]
	PID          int           // server pid for /proc CPU figures; 0 reads /metrics
	Logger       *slog.Logger
}

// MediaResult holds the figures of one media run.
type MediaResult struct {
	Channels, Listeners, Rate int
	Setup                     time.Duration
	IdleWindow                time.Duration
	IdleCPU                   time.Duration // server CPU during IdleWindow
	Window                    time.Duration // measured talking window
	Start, End                ServerSample  // server at the window's edges
	Sent                      uint64        // RTP packets the talkers sent in the window
	Received                  uint64        // RTP packets the listeners received in the window
	TotalSent, TotalReceived  uint64        // over the whole talk, warm-up included, after draining
	Decrypted, DecryptFailed  uint64        // over the whole talk
	Refused                   uint64        // packets decrypted with the wrong SSRC or payload type
	LoadStart, LoadEnd        float64
	ClientCPU                 time.Duration // this process's CPU time in the window (talkers and listeners)
}

// ClientCPUPerPacket is the load tool's own CPU per received packet, µs.
func (r MediaResult) ClientCPUPerPacket() float64 {
	if r.Received == 0 {
		return 0
	}
	return float64(r.ClientCPU.Microseconds()) / float64(r.Received)
}

// selfCPU is this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ServerCPU is the server's CPU time in the window.
func (r MediaResult) ServerCPU() time.Duration { return r.End.CPU - r.Start.CPU }

// OutPackets is what the server sent in the window (its media_packets_out counter).
func (r MediaResult) OutPackets() float64 { return r.End.PacketsOut - r.Start.PacketsOut }

// OutPPS is output packets per second in the window.
func (r MediaResult) OutPPS() float64 { return r.OutPackets() / r.Window.Seconds() }

// CPUPerOut is server CPU per output packet, µs.
func (r MediaResult) CPUPerOut() float64 {
	if r.OutPackets() == 0 {
		return 0
	}
	return float64(r.ServerCPU().Microseconds()) / r.OutPackets()
}

// CPUShare is the server's CPU use in the window, in cores.
func (r MediaResult) CPUShare() float64 { return r.ServerCPU().Seconds() / r.Window.Seconds() }

// Loss is the share of expected listener packets (sent × listeners) that did not arrive, over
// the whole talk.
func (r MediaResult) Loss() float64 {
	want := float64(r.TotalSent) * float64(r.Listeners)
	if want == 0 {
		return 0
	}
	l := 1 - float64(r.TotalReceived)/want
	if l < 0 {
		return 0
	}
	return l
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
	case c.Payload < 1 || c.Payload > 1200:
		return fmt.Errorf("media: payload %d outside 1..1200 bytes", c.Payload)
	case c.Duration < 0 || c.Duration > 10*time.Minute:
		return fmt.Errorf("media: duration %v outside 0..10m", c.Duration)
	}
	return nil
}

// mediaChannel is one channel of the run.
type mediaChannel struct {
	id        string
	talker    *lightClient
	listeners []*lightClient
	sent      atomic.Uint64
}

// RunMedia runs the media scenario and stops by itself after setup + idle + warm-up +
// duration (each bounded).
func RunMedia(ctx context.Context, cfg MediaConfig) (MediaResult, error) {
	if err := cfg.defaults(); err != nil {
		return MediaResult{}, err
	}
	res := MediaResult{Channels: cfg.Channels, Listeners: cfg.Listeners, Rate: cfg.Rate, LoadStart: LoadAverage()}
	sampler := Sampler{Base: "http://" + cfg.Addr, PID: cfg.PID}
	if _, err := sampler.Sample(ctx); err != nil {
		return res, err
	}
	run := runID()
	chans := make([]*mediaChannel, cfg.Channels)
	ids := make([]string, cfg.Channels)
	for i := range chans {
		ids[i] = fmt.Sprintf("lm%s_%02d", run, i)
		chans[i] = &mediaChannel{id: ids[i], listeners: make([]*lightClient, cfg.Listeners)}
	}
	ctrl, err := session(cfg.Addr, cfg.Secret, "lm"+run+"_ctrl", cfg.Wait)
	if err != nil {
		return res, fmt.Errorf("control session: %w", err)
	}
	defer ctrl.Close()
	if err := createChannels(ctrl, ids, cfg.Listeners+1); err != nil {
		return res, err
	}
	defer deleteChannels(ctrl, ids)

	// Set up every client: WebSocket, join with an offer, STUN, DTLS, SRTP.
	var all []*lightClient
	var mu sync.Mutex
	defer func() {
		var wg sync.WaitGroup
		for _, c := range all {
			wg.Add(1)
			go func() { defer wg.Done(); c.close() }()
		}
		wg.Wait()
	}()
	began := time.Now()
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.Wait+time.Duration(cfg.Channels*(cfg.Listeners+1))*100*time.Millisecond)
	defer cancelSetup()
	errs := make(chan error, cfg.Channels*(cfg.Listeners+1))
	sem := make(chan struct{}, cfg.Setup)
	var wg sync.WaitGroup
	cfg.Logger.Info("setting up media clients", "channels", cfg.Channels, "listeners", cfg.Listeners)
setup:
	for ci, ch := range chans {
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
				c, err := newLightClient(cfg.Addr, cfg.Secret, user, cfg.Wait, cfg.DecryptEvery)
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

	stopBeats := heartbeater(func() []*wstest.Client {
		cs := []*wstest.Client{ctrl}
		for _, c := range all {
			cs = append(cs, c.ws)
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
				for _, c := range all {
					c.keepalive()
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

	// Every talker takes its channel's floor.
	for _, ch := range chans {
		if err := ch.talker.ws.SendErr(opFloorRequest, map[string]any{"channel_id": ch.id}); err != nil {
			return res, err
		}
	}
	for _, ch := range chans {
		if f, err := ch.talker.ws.AwaitErr(opFloorGranted); err != nil {
			return res, fmt.Errorf("%s: floor: %w (%v)", ch.id, err, f)
		}
	}

	// Talk: one sender goroutine and one floor keeper (FLOOR_PING every 2 s, re-request after
	// a revoke) per channel.
	for _, ch := range chans {
		bg.Add(2)
		go func() { defer bg.Done(); ch.keepFloor(runCtx) }()
		go func() { defer bg.Done(); ch.talk(runCtx, cfg.Rate, cfg.Payload) }()
	}
	if err := sleepCtx(ctx, cfg.Warmup); err != nil {
		return res, err
	}
	received := func() (n uint64) {
		for _, ch := range chans {
			for _, l := range ch.listeners {
				n += l.received.Load()
			}
		}
		return n
	}
	sent := func() (n uint64) {
		for _, ch := range chans {
			n += ch.sent.Load()
		}
		return n
	}
	sent0, recv0, self0 := sent(), received(), selfCPU()
	if res.Start, err = sampler.Sample(ctx); err != nil {
		return res, err
	}
	if err := sleepCtx(ctx, cfg.Duration); err != nil {
		return res, err
	}
	if res.End, err = sampler.Sample(ctx); err != nil {
		return res, err
	}
	res.Window = res.End.At.Sub(res.Start.At)
	res.Sent, res.Received, res.ClientCPU = sent()-sent0, received()-recv0, selfCPU()-self0
	res.LoadEnd = LoadAverage()
	stopRun()
	bg.Wait()

	// Drain: wait until nothing more arrives (bounded), then count the whole talk.
	last := received()
	for i := 0; i < 20; i++ {
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			break
		}
		n := received()
		if n == last {
			break
		}
		last = n
	}
	res.TotalSent, res.TotalReceived = sent(), received()
	for _, ch := range chans {
		for _, l := range ch.listeners {
			res.Decrypted += l.decrypted.Load()
			res.DecryptFailed += l.decryptFailed.Load()
			res.Refused += l.wrongSSRC.Load()
		}
	}
	for _, ch := range chans {
		_ = ch.talker.ws.SendErr(opFloorRelease, map[string]any{"channel_id": ch.id})
	}
	return res, nil
}

// talk sends rate packets per second until ctx ends, in 10 ms ticks that catch up with the
// wall clock (so a late tick sends more, as a steady source would have).
func (ch *mediaChannel) talk(ctx context.Context, rate, size int) {
	c := ch.talker
	hdr := rtp.Header{Version: 2, PayloadType: opusPT, SSRC: c.ssrc, SequenceNumber: 1, Timestamp: 960}
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
				var err error
				if enc, err = c.sendRTP(&hdr, payload, plain, enc); err == nil {
					ch.sent.Add(1)
				}
				hdr.SequenceNumber++
				hdr.Timestamp += tsStep
			}
		}
	}
}

// keepFloor pings every 2 s (SPEC §5) and asks for the floor again after a revoke (e.g. at
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
		fmt.Sprintf("channels %d × (1 talker + %d listeners) at %d pps; setup %v; load average %.2f → %.2f",
			r.Channels, r.Listeners, r.Rate, r.Setup.Round(time.Millisecond), r.LoadStart, r.LoadEnd),
	}
	if r.IdleWindow > 0 {
		out = append(out, fmt.Sprintf("idle (connected, nobody talking): server CPU %.1f ms/s",
			float64(r.IdleCPU.Microseconds())/1000/r.IdleWindow.Seconds()))
	}
	out = append(out,
		fmt.Sprintf("window %v: server sent %.0f packets (%.0f pps), CPU %.2f s (%.2f cores) ⇒ %.2f µs per output packet",
			r.Window.Round(time.Millisecond), r.OutPackets(), r.OutPPS(), r.ServerCPU().Seconds(), r.CPUShare(), r.CPUPerOut()),
		fmt.Sprintf("talkers sent %d, listeners received %d (%.0f pps) in the window; whole talk: sent %d, received %d of %d ⇒ loss %.3f %%",
			r.Sent, r.Received, float64(r.Received)/r.Window.Seconds(), r.TotalSent, r.TotalReceived,
			r.TotalSent*uint64(r.Listeners), 100*r.Loss()),
		fmt.Sprintf("load tool CPU %.2f s in the window ⇒ %.2f µs per received packet", r.ClientCPU.Seconds(), r.ClientCPUPerPacket()),
		fmt.Sprintf("decrypted %d, decrypt failures %d, wrong SSRC/PT %d; server drops in the window %.0f%s; server RSS %.1f MiB",
			r.Decrypted, r.DecryptFailed, r.Refused, r.End.Dropped-r.Start.Dropped, r.dropReasons(), MiB(r.End.RSS)),
	)
	return out
}

// dropReasons lists the window's server drops by reason, " (reason n, ...)", or "".
func (r MediaResult) dropReasons() string {
	var parts []string
	for reason, v := range r.End.Drops {
		if d := v - r.Start.Drops[reason]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", reason, d))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	slices.Sort(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}
