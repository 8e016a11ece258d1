package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// SignalConfig is the signaling scenario: Sessions WebSocket sessions identify and join
// Channels channels (signaling only, no SDP), then every channel at once runs Rounds floor
// rounds with a queued handover.
type SignalConfig struct {
	Addr     string // lcserver host:port, loopback only
	Secret   []byte // LIVECHAT_SECRET of the server, to mint tokens
	Sessions int
	Channels int
	Rounds   int           // floor grants per channel
	Dialers  int           // sessions set up at once [16]
	Wait     time.Duration // longest wait for any one frame [30 s]
	PID      int           // server pid for /proc figures; 0 reads /metrics only
	Logger   *slog.Logger  // progress; nil discards
}

// SignalResult holds the figures of one signaling run.
type SignalResult struct {
	Sessions, Channels, Rounds int
	Setup                      time.Duration // dial + IDENTIFY + JOIN of every session
	Activity                   time.Duration // all floor rounds
	Grants                     []time.Duration
	Idle, Joined, After        ServerSample // server before setup, after setup, after the rounds
	LoadStart, LoadEnd         float64      // 1-minute load average
}

// SetupRate is sessions set up per second.
func (r SignalResult) SetupRate() float64 { return float64(r.Sessions) / r.Setup.Seconds() }

// Percentile of the FLOOR_REQUEST → FLOOR_GRANTED latencies (p in 0..1).
func (r SignalResult) Percentile(p float64) time.Duration { return percentile(r.Grants, p) }

// RSSPerSession is the server's resident-set growth per session, bytes.
func (r SignalResult) RSSPerSession() float64 {
	return float64(r.Joined.RSS-r.Idle.RSS) / float64(r.Sessions)
}

// HeapPerSession is the server's Go-heap-in-use growth per session, bytes.
func (r SignalResult) HeapPerSession() float64 {
	return float64(r.Joined.HeapInuse-r.Idle.HeapInuse) / float64(r.Sessions)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

func (c *SignalConfig) defaults() error {
	addr, err := CheckLoopback(c.Addr)
	if err != nil {
		return err
	}
	c.Addr = addr
	if c.Dialers <= 0 {
		c.Dialers = 16
	}
	if c.Wait <= 0 {
		c.Wait = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Channels <= 0 || c.Sessions < 2*c.Channels:
		return fmt.Errorf("signal: need at least 2 sessions per channel (sessions %d, channels %d)", c.Sessions, c.Channels)
	case c.Sessions > 20000:
		return fmt.Errorf("signal: %d sessions is above the tool's bound of 20000", c.Sessions)
	case c.Rounds < 0 || c.Rounds > 10000:
		return fmt.Errorf("signal: rounds %d outside 0..10000", c.Rounds)
	}
	return nil
}

// session dials, identifies user and returns the client; wait bounds every frame.
func session(addr string, secret []byte, user string, wait time.Duration) (*wsClient, error) {
	// max_priority 255: any session may make an emergency request (the soak's preemptions);
	// IDENTIFY without a priority still starts at the default 100.
	tok, err := mintToken(secret, user, 255, time.Hour)
	if err != nil {
		return nil, err
	}
	c, err := dialWS("ws://" + addr + "/ws")
	if err != nil {
		return nil, err
	}
	c.SetTimeout(wait)
	if err := c.identifyErr(user, tok, -1); err != nil {
		c.Close()
		return nil, fmt.Errorf("identify %s: %w", user, err)
	}
	return c, nil
}

// createChannels makes the run's channels from one control session, before the members
// identify (CHANNEL_EVENT create goes to every identified session).
func createChannels(ctrl *wsClient, ids []string, capacity int) error {
	for i, id := range ids {
		f, err := ctrl.RequestErr(opChannelCreate, map[string]any{
			"channel_id": id, "freq": fmt.Sprintf("%d", 9000+i), "channel_name": "lcload", "capacity": capacity})
		if err != nil {
			return fmt.Errorf("create %s: %w", id, err)
		}
		if f.Op != opAck {
			return fmt.Errorf("create %s: %v", id, f)
		}
	}
	return nil
}

// deleteChannels removes them again (best effort: the run's figures are already taken).
func deleteChannels(ctrl *wsClient, ids []string) {
	for _, id := range ids {
		_, _ = ctrl.RequestErr(opChannelDelete, map[string]any{"channel_id": id})
	}
}

// closeAll closes clients, a few at a time.
func closeAll(clients []*wsClient) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, c := range clients {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.Close()
		}()
	}
	wg.Wait()
}

// RunSignal runs the signaling scenario. Channels get a run-unique id (CHANNEL_CREATE from a
// control session, capacity = sessions per channel) and are deleted at the end; the server
// needs nothing prepared.
func RunSignal(ctx context.Context, cfg SignalConfig) (SignalResult, error) {
	if err := cfg.defaults(); err != nil {
		return SignalResult{}, err
	}
	perChannel := cfg.Sessions / cfg.Channels
	res := SignalResult{Sessions: perChannel * cfg.Channels, Channels: cfg.Channels, Rounds: cfg.Rounds, LoadStart: LoadAverage()}
	sampler := Sampler{Base: "http://" + cfg.Addr, PID: cfg.PID}
	var err error
	if res.Idle, err = sampler.Sample(ctx); err != nil {
		return res, err
	}

	run := runID()
	ids := make([]string, cfg.Channels)
	for i := range ids {
		ids[i] = fmt.Sprintf("ld%s_%03d", run, i)
	}
	ctrl, err := session(cfg.Addr, cfg.Secret, "ld"+run+"_ctrl", cfg.Wait)
	if err != nil {
		return res, fmt.Errorf("control session: %w", err)
	}
	defer ctrl.Close()
	if err := createChannels(ctrl, ids, perChannel); err != nil {
		return res, err
	}
	defer deleteChannels(ctrl, ids)

	// Connect, identify and join, Dialers at a time.
	clients := make([][]*wsClient, cfg.Channels)
	var flat []*wsClient
	for i := range clients {
		clients[i] = make([]*wsClient, perChannel)
	}
	defer func() {
		for _, cs := range clients {
			flat = append(flat, cs...)
		}
		closeAll(flat)
	}()
	errs := make(chan error, res.Sessions+cfg.Channels)
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Dialers)
	began := time.Now()
	cfg.Logger.Info("setting up sessions", "sessions", res.Sessions, "channels", cfg.Channels)
setup:
	for ch := 0; ch < cfg.Channels; ch++ {
		for m := 0; m < perChannel; m++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break setup
			}
			wg.Add(1)
			go func(ch, m int) {
				defer wg.Done()
				defer func() { <-sem }()
				user := fmt.Sprintf("ld%s_%03d_%02d", run, ch, m)
				c, err := session(cfg.Addr, cfg.Secret, user, cfg.Wait)
				if err != nil {
					errs <- err
					return
				}
				clients[ch][m] = c
				if f, err := c.RequestErr(opChannelJoin, map[string]any{"channel_id": ids[ch]}); err != nil || f.Op != opAck {
					errs <- fmt.Errorf("join %s: %v %v", user, f, err)
				}
			}(ch, m)
		}
	}
	wg.Wait()
	res.Setup = time.Since(began)
	if err := firstErr(ctx, errs); err != nil {
		return res, fmt.Errorf("setup: %w", err)
	}
	if res.Joined, err = sampler.Sample(ctx); err != nil {
		return res, err
	}
	cfg.Logger.Info("sessions set up", "took", res.Setup.Round(time.Millisecond))
	stopBeats := heartbeater(func() []*wsClient {
		var cs []*wsClient
		for _, ch := range clients {
			cs = append(cs, ch...)
		}
		return append(cs, ctrl)
	})
	defer stopBeats()

	// Floor activity: in every channel at once, members take turns to request, hold (one
	// FLOOR_PING) and release the floor; the next member queues behind each talker and is
	// granted at the release.
	lat := make([][]time.Duration, cfg.Channels)
	began = time.Now()
	for ch := 0; ch < cfg.Channels; ch++ {
		wg.Add(1)
		go func(ch int) {
			defer wg.Done()
			id := map[string]any{"channel_id": ids[ch]}
			for r := 0; r < cfg.Rounds && ctx.Err() == nil; r++ {
				talker := clients[ch][r%perChannel]
				next := clients[ch][(r+1)%perChannel]
				t0 := time.Now()
				if err := talker.SendErr(opFloorRequest, id); err != nil {
					errs <- err
					return
				}
				if _, err := talker.AwaitErr(opFloorGranted); err != nil {
					errs <- fmt.Errorf("channel %d round %d: %w", ch, r, err)
					return
				}
				lat[ch] = append(lat[ch], time.Since(t0))
				_ = next.SendErr(opFloorRequest, id)
				_, _ = next.AwaitErr(opFloorQueuePos)
				_ = talker.SendErr(opFloorPing, id)
				_, _ = talker.AwaitErr(opFloorPong)
				_ = talker.SendErr(opFloorRelease, id)
				if _, err := next.AwaitErr(opFloorGranted); err != nil {
					errs <- fmt.Errorf("channel %d round %d handover: %w", ch, r, err)
					return
				}
				_ = next.SendErr(opFloorRelease, id)
				if _, err := talker.AwaitErr(opFloorIdle); err != nil {
					errs <- fmt.Errorf("channel %d round %d idle: %w", ch, r, err)
					return
				}
			}
		}(ch)
	}
	wg.Wait()
	res.Activity = time.Since(began)
	if err := firstErr(ctx, errs); err != nil {
		return res, fmt.Errorf("floor activity: %w", err)
	}
	if res.After, err = sampler.Sample(ctx); err != nil {
		return res, err
	}
	for _, l := range lat {
		res.Grants = append(res.Grants, l...)
	}
	slices.Sort(res.Grants)
	res.LoadEnd = LoadAverage()
	return res, nil
}

// firstErr returns the first error reported, or ctx's.
func firstErr(ctx context.Context, errs chan error) error {
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return errors.New("stopped: " + err.Error())
	}
	return nil
}

// Report writes the run's figures as text lines.
func (r SignalResult) Report() []string {
	return []string{
		fmt.Sprintf("sessions %d over %d channels; setup %v (%.0f sessions/s); load average %.2f → %.2f",
			r.Sessions, r.Channels, r.Setup.Round(time.Millisecond), r.SetupRate(), r.LoadStart, r.LoadEnd),
		fmt.Sprintf("grants %d in %v (each with a queued handover): p50 %v, p90 %v, p99 %v, max %v",
			len(r.Grants), r.Activity.Round(time.Millisecond), r.Percentile(0.5).Round(time.Microsecond),
			r.Percentile(0.9).Round(time.Microsecond), r.Percentile(0.99).Round(time.Microsecond),
			r.Percentile(1).Round(time.Microsecond)),
		fmt.Sprintf("server RSS %.1f → %.1f MiB (%.1f KiB/session), after floor activity %.1f MiB",
			MiB(r.Idle.RSS), MiB(r.Joined.RSS), r.RSSPerSession()/1024, MiB(r.After.RSS)),
		fmt.Sprintf("server Go heap in use %.1f → %.1f MiB (%.1f KiB/session), after floor activity %.1f MiB",
			MiB(r.Idle.HeapInuse), MiB(r.Joined.HeapInuse), r.HeapPerSession()/1024, MiB(r.After.HeapInuse)),
		fmt.Sprintf("server CPU during floor activity %.2f s", (r.After.CPU - r.Joined.CPU).Seconds()),
	}
}

// runID returns 4 random characters that keep one run's channel and user ids apart from
// another's on a long-running server.
func runID() string { return randomAlnum(4) }

// heartbeater sends HEARTBEAT on every client at the interval its server announced in HELLO,
// as a real client does, so that sessions outlive a long run; it returns a stop function that
// waits for it to end. the websocket Conn's Write is safe beside the client's own writes.
func heartbeater(clients func() []*wsClient) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := 10 * time.Second
		if cs := clients(); len(cs) > 0 && cs[0] != nil && cs[0].HeartbeatInterval > 0 {
			every = time.Duration(cs[0].HeartbeatInterval) * time.Millisecond
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, c := range clients() {
					if c != nil && ctx.Err() == nil {
						_ = c.SendErr(opHeartbeat, map[string]any{})
					}
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
