// Command lcadmin is mini-livechat's operator CLI (docs/operations.md §3). It reads and acts on a
// running lcserver through the admin HTTP API, and mints IDENTIFY tokens locally.
//
//	lcadmin [--host 127.0.0.1] [--port 8080] [--token …] [--tls | --tls-ca F | --tls-fingerprint FP | --insecure] [--json] <command>
//
// Commands: status, users [id], channels [id], peers [ufrag], floor-revoke <channel>,
// token --user U [--max-priority P] [--ttl D].
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/minilivechat/minilivechat/cmd/internal/buildinfo"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr, time.Now)
	stop()
	os.Exit(code)
}

// run executes one lcadmin command line and returns the process exit code: 0 on success, 1
// on any error, which it reports as one line on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) int {
	app := newApp(stdout, stderr, now)
	if err := app.RunContext(ctx, args); err != nil {
		fmt.Fprintf(stderr, "lcadmin: %s\n", describe(err))
		return 1
	}
	return 0
}

// Flag names shared by the command tree and the run functions.
const (
	flagHost    = "host"
	flagPort    = "port"
	flagToken   = "token"
	flagJSON    = "json"
	flagTimeout = "timeout"

	flagTLS            = "tls"
	flagTLSCA          = "tls-ca"
	flagTLSFingerprint = "tls-fingerprint"
	flagInsecure       = "insecure"
)

// newApp builds the command tree. Output goes to stdout and stderr only; now is the clock
// used for "elapsed" figures and token expiry.
func newApp(stdout, stderr io.Writer, now func() time.Time) *cli.App {
	return &cli.App{
		Name:      "lcadmin",
		Usage:     "operate a mini-livechat server through its admin API",
		UsageText: "lcadmin [--host 127.0.0.1] [--port 8080] [--token …] [--tls | --tls-ca FILE | --tls-fingerprint FP | --insecure] [--json] <command> [args]",
		Version:   buildinfo.Version(version),
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are reported once, by run; never let the library call os.Exit.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagHost, Value: "127.0.0.1", EnvVars: []string{"LIVECHAT_ADMIN_HOST"},
				Usage: "server host or IP"},
			// LIVECHAT_PORT is lcserver's own variable: on the server's machine lcadmin finds
			// the port without being told.
			&cli.IntFlag{Name: flagPort, Value: 8080, EnvVars: []string{"LIVECHAT_ADMIN_PORT", "LIVECHAT_PORT"},
				Usage: "server TCP port (HTTP API)"},
			&cli.StringFlag{Name: flagToken, EnvVars: []string{"LIVECHAT_ADMIN_TOKEN"},
				Usage: "admin bearer token (needed when the server sets LIVECHAT_ADMIN_TOKEN)"},
			&cli.BoolFlag{Name: flagJSON, Usage: "print the server's JSON instead of tables"},
			&cli.DurationFlag{Name: flagTimeout, Value: 5 * time.Second, EnvVars: []string{"LIVECHAT_ADMIN_TIMEOUT"},
				Usage: "give up on the server after this long"},
			&cli.BoolFlag{Name: flagTLS, EnvVars: []string{"LIVECHAT_ADMIN_TLS"},
				Usage: "speak HTTPS, trusting the system's certificate authorities (implied by the three below)"},
			&cli.StringFlag{Name: flagTLSCA, EnvVars: []string{"LIVECHAT_ADMIN_TLS_CA"},
				Usage: "PEM file of the certificates to trust, e.g. the server's self-signed certificate (<data-dir>/tls/self-signed-cert.pem)"},
			&cli.StringFlag{Name: flagTLSFingerprint, EnvVars: []string{"LIVECHAT_ADMIN_TLS_FINGERPRINT"},
				Usage: "accept only the server certificate with this SHA-256 fingerprint (lcserver prints it at start)"},
			&cli.BoolFlag{Name: flagInsecure, EnvVars: []string{"LIVECHAT_ADMIN_INSECURE"},
				Usage: "HTTPS without checking the certificate (encrypted, not authenticated)"},
		},
		Commands: []*cli.Command{
			{
				Name: "status", Usage: "server summary: uptime, users, channels, peers, active floors",
				Action: func(c *cli.Context) error { return withServer(c, now, runStatus) },
			},
			{
				Name: "users", Usage: "list users, or show one with its channels", ArgsUsage: "[user_id]",
				Action: func(c *cli.Context) error { return withServer(c, now, runUsers) },
			},
			{
				Name: "channels", Usage: "list channels, or show one with members, queue and peers", ArgsUsage: "[channel_id]",
				Action: func(c *cli.Context) error { return withServer(c, now, runChannels) },
			},
			{
				Name: "peers", Usage: "list media peers, or show one with its tracks", ArgsUsage: "[ufrag]",
				Action: func(c *cli.Context) error { return withServer(c, now, runPeers) },
			},
			{
				Name: "history", Usage: "the burst log (who talked when, how it ended), newest first", ArgsUsage: "[channel_id]",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "limit", Value: 50, Usage: "at most this many bursts (1..1000)"},
					&cli.StringFlag{Name: "since", Usage: "only bursts granted since this RFC 3339 time or this long ago (1h, 30m)"},
				},
				Action: func(c *cli.Context) error {
					return withServer(c, now, func(ctx context.Context, s remote) error {
						return runHistory(ctx, s, c.Int("limit"), c.String("since"))
					})
				},
			},
			{
				Name: "floor-revoke", Usage: "take the floor from its holder and clear the queue", ArgsUsage: "<channel_id>",
				Action: func(c *cli.Context) error { return withServer(c, now, runFloorRevoke) },
			},
			{
				Name:  "token",
				Usage: "mint an IDENTIFY token locally (signed with LIVECHAT_SECRET)",
				Flags: []cli.Flag{
					// Not Required: urfave would print the whole help for a missing flag; runToken
					// reports it in one line instead.
					&cli.StringFlag{Name: "user", Usage: "user id (the token's sub), required"},
					&cli.IntFlag{Name: "max-priority", Value: 100, Usage: "highest floor priority the user may claim (0..255)"},
					&cli.DurationFlag{Name: "ttl", Value: 24 * time.Hour, Usage: "validity"},
					&cli.StringFlag{Name: "url", Usage: "print a sign-in link to the web client at this address (https://192.168.1.10:8443) instead of the bare token"},
					&cli.StringFlag{Name: "secret", EnvVars: []string{"LIVECHAT_SECRET"}, Hidden: true,
						Usage: "HMAC key; prefer the LIVECHAT_SECRET variable (command lines are visible to other users)"},
				},
				Action: func(c *cli.Context) error {
					return runToken(tokenRequest{
						UserID: c.String("user"), MaxPriority: c.Int("max-priority"), TTL: c.Duration("ttl"),
						Secret: c.String("secret"), JSON: c.Bool(flagJSON), URL: c.String("url"),
					}, now(), stdout, stderr)
				},
			},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unknown command %q (see lcadmin --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
}
