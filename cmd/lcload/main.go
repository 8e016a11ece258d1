// Command lcload generates load against a running lcserver on this machine and reports
// figures (docs/performance.md): `lcload signal` runs thousands of WebSocket sessions taking
// turns at the floor, `lcload media` relays Opus-sized SRTP from one talker per channel to
// many light DTLS-SRTP listeners and measures the server's CPU per output packet, and
// `lcload soak` churns a population for a long time and checks that the server's counts come
// back to their baseline (docs/reliability.md). It is a client of the documented protocol
// only: it imports none of the server's packages. Targets
// must be loopback addresses; every run is bounded and stops by itself.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/minilivechat/minilivechat/cmd/lcload/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp(os.Stdout, os.Stderr, os.Getenv).RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lcload:", err)
		os.Exit(1)
	}
}

// newApp builds the command; getenv reads LIVECHAT_SECRET.
func newApp(stdout, stderr io.Writer, getenv func(string) string) *cli.App {
	common := []cli.Flag{
		&cli.StringFlag{Name: "server", Value: "127.0.0.1:8080", EnvVars: []string{"LCLOAD_SERVER"},
			Usage: "lcserver host:port (loopback only: 127.0.0.0/8 or ::1)"},
		&cli.IntFlag{Name: "pid", Usage: "server process id: CPU and RSS from /proc/<pid> (else from /metrics)"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "stop the whole run after this long"},
		&cli.BoolFlag{Name: "quiet", Usage: "no progress lines, only the figures"},
		&cli.StringFlag{Name: "spawn", Usage: "start this lcserver binary as a child process on loopback ephemeral ports " +
			"(random secret), measure it, stop it; --server and --pid are then ignored"},
		&cli.StringSliceFlag{Name: "server-flag", Usage: "extra flag for the spawned lcserver (repeatable), e.g. --server-flag=--floor-max-duration=10m"},
	}
	secret := func() []byte {
		if s := getenv("LIVECHAT_SECRET"); s != "" {
			return []byte(s)
		}
		return []byte(defaultSecret)
	}
	logger := func(c *cli.Context) *slog.Logger {
		if c.Bool("quiet") {
			return slog.New(slog.DiscardHandler)
		}
		return slog.New(slog.NewTextHandler(stderr, nil))
	}
	// target returns the server to load: --server/--pid, or a spawned child process (and the
	// function that stops it).
	target := func(c *cli.Context) (addr string, pid int, key []byte, stop func() error, err error) {
		bin := c.String("spawn")
		if bin == "" {
			return c.String("server"), c.Int("pid"), secret(), func() error { return nil }, nil
		}
		key = []byte("lcload-" + strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.Itoa(os.Getpid()))
		p, err := load.SpawnServer(bin, string(key), c.StringSlice("server-flag"), nil)
		if err != nil {
			return "", 0, nil, nil, err
		}
		logger(c).Info("spawned lcserver", "addr", p.Addr, "pid", p.PID)
		return p.Addr, p.PID, key, p.Stop, nil
	}
	bounded := func(c *cli.Context) (context.Context, context.CancelFunc, error) {
		d := c.Duration("timeout")
		limit := time.Hour
		if c.Command.Name == "soak" {
			limit = 25 * time.Hour // the soak's own bound is its --duration
		}
		if d <= 0 || d > limit {
			return nil, nil, fmt.Errorf("--timeout %v outside (0, %v]", d, limit)
		}
		ctx, cancel := context.WithTimeout(c.Context, d)
		return ctx, cancel, nil
	}
	// scenario runs one bounded load run against the target, stops a spawned server, and
	// prints the run's figures.
	scenario := func(c *cli.Context, run func(ctx context.Context, addr string, pid int, key []byte) (report, error)) error {
		ctx, cancel, err := bounded(c)
		if err != nil {
			return err
		}
		defer cancel()
		addr, pid, key, stop, err := target(c)
		if err != nil {
			return err
		}
		res, err := run(ctx, addr, pid, key)
		if serr := stop(); err == nil && serr != nil {
			err = fmt.Errorf("spawned lcserver: %w", serr)
		}
		if err != nil {
			return err
		}
		for _, l := range res.Report() {
			fmt.Fprintln(stdout, l)
		}
		return nil
	}
	return &cli.App{
		Name:  "lcload",
		Usage: "load generator for lcserver (loopback only)",
		Description: "Tokens are minted with LIVECHAT_SECRET from the environment (the server's secret; " +
			"default " + defaultSecret + "); lcload soak sends LIVECHAT_ADMIN_TOKEN, when set, to read /admin/peers. " +
			"Figures go to stdout, progress to stderr.",
		HideHelpCommand: true,
		Writer:          stdout,
		ErrWriter:       stderr,
		Commands: []*cli.Command{
			{
				Name:  "signal",
				Usage: "WebSocket sessions join channels (signaling only) and take turns at the floor",
				Flags: append([]cli.Flag{
					&cli.IntFlag{Name: "sessions", Value: 2000, Usage: "WebSocket sessions"},
					&cli.IntFlag{Name: "channels", Value: 100, Usage: "channels the sessions are spread over"},
					&cli.IntFlag{Name: "rounds", Value: 20, Usage: "floor rounds per channel (each a grant and a queued handover)"},
					&cli.IntFlag{Name: "dialers", Value: 16, Usage: "sessions set up at once"},
				}, common...),
				Action: func(c *cli.Context) error {
					return scenario(c, func(ctx context.Context, addr string, pid int, key []byte) (report, error) {
						return load.RunSignal(ctx, load.SignalConfig{
							Addr: addr, Secret: key, Sessions: c.Int("sessions"),
							Channels: c.Int("channels"), Rounds: c.Int("rounds"), Dialers: c.Int("dialers"),
							PID: pid, Logger: logger(c),
						})
					})
				},
			},
			{
				Name:  "media",
				Usage: "one talker per channel sends Opus-sized SRTP; light DTLS-SRTP listeners receive it",
				Flags: append([]cli.Flag{
					&cli.IntFlag{Name: "listeners", Value: 20, Usage: "listeners per channel"},
					&cli.IntFlag{Name: "channels", Value: 1, Usage: "channels, each with one talker"},
					&cli.IntFlag{Name: "rate", Value: 50, Usage: "RTP packets per second per talker"},
					&cli.IntFlag{Name: "payload", Value: 160, Usage: "RTP payload bytes"},
					&cli.DurationFlag{Name: "duration", Value: 20 * time.Second, Usage: "measured window"},
					&cli.DurationFlag{Name: "warmup", Value: 2 * time.Second, Usage: "talking before the window"},
					&cli.DurationFlag{Name: "idle", Value: 2 * time.Second, Usage: "window with nobody talking, for the fixed cost (-1s skips)"},
					&cli.IntFlag{Name: "decrypt-every", Value: 1, Usage: "listeners decrypt every n-th packet (0: count only, no latency figures)"},
					&cli.IntFlag{Name: "rounds", Value: 2, Usage: "lcserver windows, each followed by a floor relay window (A/B/A/B)"},
					&cli.BoolFlag{Name: "floor", Value: true, Usage: "run the floor relay (minimal Go relay) beside lcserver in the same invocation"},
					&cli.IntFlag{Name: "join-probes", Value: 10, Usage: "listeners that join one by one while the talker talks (join → first audio)"},
					&cli.StringFlag{Name: "json", Usage: "append the run's figures as one JSON line to this file (make plot reads it)"},
					&cli.StringFlag{Name: "label", Usage: "a name for this run in the JSON line (e.g. the git commit)"},
				}, common...),
				Action: func(c *cli.Context) error {
					return scenario(c, func(ctx context.Context, addr string, pid int, key []byte) (report, error) {
						var floor []string
						if c.Bool("floor") {
							self, err := os.Executable()
							if err != nil {
								return nil, fmt.Errorf("floor relay: %w", err)
							}
							floor = []string{self, "floor-relay"}
						}
						res, err := load.RunMedia(ctx, load.MediaConfig{
							Addr: addr, Secret: key, Channels: c.Int("channels"),
							Listeners: c.Int("listeners"), Rate: c.Int("rate"), Payload: c.Int("payload"),
							Duration: c.Duration("duration"), Warmup: c.Duration("warmup"), Idle: c.Duration("idle"),
							Rounds: c.Int("rounds"), DecryptEvery: c.Int("decrypt-every"), JoinProbes: c.Int("join-probes"),
							Floor: floor, PID: pid, Logger: logger(c),
						})
						if err == nil && c.String("json") != "" {
							err = load.AppendJSON(c.String("json"), c.String("label"), res)
						}
						return res, err
					})
				},
			},
			{
				Name: "soak",
				Usage: "bounded churn for --duration (join with media, talk, queue, preempt, release, chat, leave, " +
					"drop, reconnect), then checks that the server's counts are back to their baseline",
				Flags: append([]cli.Flag{
					&cli.IntFlag{Name: "users", Value: 40, Usage: "population, spread evenly over the channels"},
					&cli.IntFlag{Name: "channels", Value: 4, Usage: "channels the run creates (and deletes)"},
					&cli.DurationFlag{Name: "duration", Value: 30 * time.Minute, Usage: "churn time (at most 24h)"},
					&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seeds every random choice of the run"},
					&cli.DurationFlag{Name: "sample-every", Value: time.Minute, Usage: "server sample interval"},
					&cli.DurationFlag{Name: "settle", Value: 90 * time.Second, Usage: "longest wait for the counts to return after the churn"},
					&cli.DurationFlag{Name: "talk", Value: time.Second, Usage: "one talk spurt"},
					&cli.IntFlag{Name: "heap-slack-mib", Value: 16, Usage: "how far the Go heap in use may end above its baseline"},
					&cli.DurationFlag{Name: "heap-watch", Value: 135 * time.Second, Usage: "after the counts are back, watch the heap this long " +
						"(its lowest reading is judged; an idle Go server collects at least every 2 minutes)"},
					&cli.StringFlag{Name: "json", Usage: "write the run (config, operations, errors, samples, verdict) as JSON to this file"},
				}, common...),
				Action: func(c *cli.Context) error {
					// The run's own bound: the churn, the settling, the heap watch and a margin,
					// unless --timeout is given.
					if !c.IsSet("timeout") {
						d := c.Duration("duration") + c.Duration("settle") + c.Duration("heap-watch") + 5*time.Minute
						if err := c.Set("timeout", d.String()); err != nil {
							return err
						}
					}
					var res load.SoakResult
					err := scenario(c, func(ctx context.Context, addr string, pid int, key []byte) (report, error) {
						cfg := load.SoakConfig{
							Addr: addr, Secret: key, Users: c.Int("users"), Channels: c.Int("channels"),
							Duration: c.Duration("duration"), Seed: c.Uint64("seed"), SampleEvery: c.Duration("sample-every"),
							Settle: c.Duration("settle"), Talk: c.Duration("talk"), HeapSlack: int64(c.Int("heap-slack-mib")) << 20,
							HeapWatch: c.Duration("heap-watch"), PID: pid, Logger: logger(c),
						}
						// A spawned server inherits the environment, the admin token too.
						cfg.AdminToken = getenv("LIVECHAT_ADMIN_TOKEN")
						var err error
						res, err = load.RunSoak(ctx, cfg)
						if err == nil && c.String("json") != "" {
							err = writeJSON(c.String("json"), res.Record())
						}
						return res, err
					})
					if err == nil && !res.Passed() {
						err = fmt.Errorf("%w: %s", load.ErrSoakFailed, strings.Join(res.Problems, "; "))
					}
					return err
				},
			},
			{
				Name:  "floor-relay",
				Usage: "the minimal reference relay lcload media measures beside lcserver (started by lcload itself)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "UDP address (loopback only)"},
				},
				Action: func(c *cli.Context) error {
					secret, err := hex.DecodeString(os.Getenv("LCLOAD_FLOOR_SECRET"))
					if err != nil || len(secret) == 0 {
						return errors.New("floor-relay: LCLOAD_FLOOR_SECRET (hex) must be set; lcload media starts it")
					}
					return load.RunFloorRelay(c.Context, c.String("listen"), secret, func(a netip.AddrPort) {
						fmt.Fprintln(stderr, "floor relay listening on", a)
					})
				},
			},
		},
		Action: func(c *cli.Context) error {
			_ = cli.ShowAppHelp(c)
			return errors.New("name a scenario: signal, media or soak")
		},
	}
}

// defaultSecret is the server's documented default LIVECHAT_SECRET (docs/operations.md).
const defaultSecret = "changeme-secret"

// writeJSON writes v, indented, to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}

// report is what a load run returns: its figures as lines of text.
type report interface{ Report() []string }
