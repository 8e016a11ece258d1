// Command lcserver is the mini-livechat server: WebSocket signaling, REST/admin API and the
// embedded web client on one TCP port, media on one UDP port (docs/operations.md §11). Every flag
// can also be set through its LIVECHAT_* environment variable; the token secret and the admin token
// come from the environment only (LIVECHAT_SECRET, LIVECHAT_ADMIN_TOKEN), so they never show in a
// process list.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/minilivechat/minilivechat/admin/tlscert"
	"github.com/minilivechat/minilivechat/cmd/internal/buildinfo"
	"github.com/minilivechat/minilivechat/cmd/internal/configfile"
	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway"
	"github.com/minilivechat/minilivechat/gateway/token"
)

// version is stamped by the build: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp(os.Stdout, os.Stderr, os.Getenv).RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lcserver:", err)
		os.Exit(1)
	}
}

// newApp builds the command; getenv reads LIVECHAT_SECRET and LIVECHAT_ADMIN_TOKEN.
func newApp(stdout, stderr io.Writer, getenv func(string) string) *cli.App {
	d := server.Defaults()
	app := &cli.App{
		Name:    "lcserver",
		Usage:   "push-to-talk voice server (WebSocket signaling, WebRTC media on one UDP port)",
		Version: buildinfo.Version(version),
		Description: "Environment only: LIVECHAT_SECRET (token HMAC key; required unless --dev, which uses the public default " +
			token.DefaultSecret + " on loopback only) and LIVECHAT_ADMIN_TOKEN (bearer token for /admin; unset = loopback only).",
		HideHelpCommand: true,
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "port", Value: d.Port, EnvVars: []string{"LIVECHAT_PORT"},
				Usage: "TCP port: WebSocket (GET /ws), REST, admin, web client"},
			&cli.IntFlag{Name: "udp-port", Value: d.UDPPort, EnvVars: []string{"LIVECHAT_UDP_PORT"},
				Usage: "UDP media port"},
			&cli.IntFlag{Name: "udp-workers", Value: d.UDPWorkers, EnvVars: []string{"LIVECHAT_UDP_WORKERS"},
				Usage: "SO_REUSEPORT sockets on the UDP media port, one reader each (docs/performance.md)"},
			&cli.DurationFlag{Name: "peer-idle-timeout", Value: d.PeerIdleTimeout, EnvVars: []string{"LIVECHAT_PEER_IDLE_TIMEOUT"},
				Usage: "remove a media peer that sent no datagram (media or consent check) for this long"},
			&cli.StringFlag{Name: "bind", Value: d.Bind, EnvVars: []string{"LIVECHAT_BIND"},
				Usage: "listen address"},
			&cli.StringFlag{Name: "advertise-ip", Value: server.AdvertiseAuto, EnvVars: []string{"LIVECHAT_ADVERTISE_IP"},
				Usage: "IP put in SDP candidates; auto = the local source IP the routing table picks"},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"LIVECHAT_LOG_LEVEL"},
				Usage: "error, warn, info or debug"},
			&cli.StringFlag{Name: "channels", EnvVars: []string{"LIVECHAT_CHANNELS"},
				Usage: "JSON or YAML file of preset channels replacing the built-in three"},
			&cli.DurationFlag{Name: "heartbeat-interval", Value: d.HeartbeatInterval, EnvVars: []string{"LIVECHAT_HEARTBEAT_INTERVAL"},
				Usage: "heartbeat interval announced in HELLO; silent sessions close after 2× this + 5s"},
			&cli.DurationFlag{Name: "floor-ping-timeout", Value: d.FloorPingTimeout, EnvVars: []string{"LIVECHAT_FLOOR_PING_TIMEOUT"},
				Usage: "revoke the floor of a holder without FLOOR_PING for this long"},
			&cli.DurationFlag{Name: "floor-max-duration", Value: d.FloorMaxDuration, EnvVars: []string{"LIVECHAT_FLOOR_MAX_DURATION"},
				Usage: "longest a holder may keep the floor"},
			&cli.IntFlag{Name: "floor-queue-limit", EnvVars: []string{"LIVECHAT_FLOOR_QUEUE_LIMIT"},
				Usage: "floor queue length per channel; 0 = the channel capacity"},
			&cli.StringFlag{Name: "allowed-origins", EnvVars: []string{"LIVECHAT_ALLOWED_ORIGINS"},
				Usage: "comma-separated Origin host patterns allowed on /ws; empty = any"},
			&cli.Float64Flag{Name: "rate-limit", Value: d.RateLimit, EnvVars: []string{"LIVECHAT_RATE_LIMIT"},
				Usage: "WebSocket frames per second per session (negative disables)"},
			&cli.IntFlag{Name: "rate-burst", Value: d.RateBurst, EnvVars: []string{"LIVECHAT_RATE_BURST"},
				Usage: "WebSocket frames a session may send in a burst"},
			&cli.IntFlag{Name: "max-frame-bytes", Value: d.MaxFrameBytes, EnvVars: []string{"LIVECHAT_MAX_FRAME_BYTES"},
				Usage: "largest WebSocket frame accepted"},
			&cli.IntFlag{Name: "ws-queue", Value: gateway.DefaultOutboundQueue, EnvVars: []string{"LIVECHAT_WS_QUEUE"},
				Usage: "frames queued per WebSocket for a slow reader before it is closed with 4006"},
			&cli.IntFlag{Name: "bad-frame-limit", Value: d.BadFrameLimit, EnvVars: []string{"LIVECHAT_BAD_FRAME_LIMIT"},
				Usage: "close a session (4004) after more bad frames than this within 10s; -1 disables"},
			&cli.DurationFlag{Name: "identify-timeout", Value: d.IdentifyTimeout, EnvVars: []string{"LIVECHAT_IDENTIFY_TIMEOUT"},
				Usage: "close a connection that has not identified within this time (4005)"},
			&cli.IntFlag{Name: "max-connections", Value: d.MaxConnections, EnvVars: []string{"LIVECHAT_MAX_CONNECTIONS"},
				Usage: "open WebSocket connections the server accepts in all; negative disables"},
			&cli.IntFlag{Name: "max-conns-per-ip", Value: d.MaxConnsPerIP, EnvVars: []string{"LIVECHAT_MAX_CONNS_PER_IP"},
				Usage: "open WebSocket connections per client address (IPv6: per /64); negative disables"},
			&cli.Float64Flag{Name: "connect-rate-per-ip", Value: d.ConnectRatePerIP, EnvVars: []string{"LIVECHAT_CONNECT_RATE_PER_IP"},
				Usage: "new WebSocket connections per second per client address, sustained; negative disables"},
			&cli.IntFlag{Name: "connect-burst-per-ip", Value: d.ConnectBurstPerIP, EnvVars: []string{"LIVECHAT_CONNECT_BURST_PER_IP"},
				Usage: "new WebSocket connections a client address may open at once"},
			&cli.Float64Flag{Name: "identify-failure-rate-per-ip", Value: d.IdentifyFailureRatePerIP, EnvVars: []string{"LIVECHAT_IDENTIFY_FAILURE_RATE_PER_IP"},
				Usage: "failed IDENTIFYs per second per client address, sustained, before it is refused; negative disables"},
			&cli.IntFlag{Name: "identify-failure-burst-per-ip", Value: d.IdentifyFailureBurstPerIP, EnvVars: []string{"LIVECHAT_IDENTIFY_FAILURE_BURST_PER_IP"},
				Usage: "failed IDENTIFYs a client address may make at once"},
			&cli.BoolFlag{Name: "limit-loopback", EnvVars: []string{"LIVECHAT_LIMIT_LOOPBACK"},
				Usage: "apply the per-address limits to loopback clients too (off: a local reverse proxy carries everyone)"},
			&cli.IntFlag{Name: "max-channels-per-user", Value: d.MaxChannelsPerUser, EnvVars: []string{"LIVECHAT_MAX_CHANNELS_PER_USER"},
				Usage: "channels one user may have created (ERROR 2007 beyond); negative disables"},
			&cli.IntFlag{Name: "max-user-channels", Value: d.MaxUserChannels, EnvVars: []string{"LIVECHAT_MAX_USER_CHANNELS"},
				Usage: "user-created channels on the server (presets not counted); negative disables"},
			&cli.IntFlag{Name: "channel-create-burst", Value: d.ChannelCreateBurst, EnvVars: []string{"LIVECHAT_CHANNEL_CREATE_BURST"},
				Usage: "channels a user may create at once; negative disables the creation rate"},
			&cli.DurationFlag{Name: "channel-create-interval", Value: d.ChannelCreateInterval, EnvVars: []string{"LIVECHAT_CHANNEL_CREATE_INTERVAL"},
				Usage: "after the burst, one channel creation per user per this interval"},
			&cli.DurationFlag{Name: "channel-reap-after", Value: d.ChannelReapAfter, EnvVars: []string{"LIVECHAT_CHANNEL_REAP_AFTER"},
				Usage: "delete a user-created channel that has been empty this long (presets never); negative disables"},
			&cli.IntFlag{Name: "max-message-length", Value: d.MaxMessageLength, EnvVars: []string{"LIVECHAT_MAX_MESSAGE_LENGTH"},
				Usage: "longest chat message, in Unicode code points"},
			&cli.BoolFlag{Name: "dev", EnvVars: []string{"LIVECHAT_DEV"},
				Usage: "demo mode on loopback: the public default secret, ready-to-use tokens and web client links (refused with a custom LIVECHAT_SECRET)"},
			&cli.StringFlag{Name: "data-dir", Value: defaultDataDir(getenv), EnvVars: []string{"LIVECHAT_DATA_DIR"},
				Usage: "where lcserver keeps its files (the history database, docs/history.md; the self-signed certificate and ACME cache); empty: no history"},
			&cli.DurationFlag{Name: "history-retention", Value: 90 * 24 * time.Hour, EnvVars: []string{"LIVECHAT_HISTORY_RETENTION"},
				Usage: "delete bursts and chat older than this; negative keeps everything"},
			&cli.StringFlag{Name: "record-channels", EnvVars: []string{"LIVECHAT_RECORD_CHANNELS"},
				Usage: "comma-separated channel ids whose bursts are recorded as Ogg Opus files in --data-dir/recordings"},
			&cli.IntFlag{Name: "recordings-max-mb", EnvVars: []string{"LIVECHAT_RECORDINGS_MAX_MB"},
				Usage: "cap on the recordings' total size in MiB, the oldest removed first; 0 = no cap"},
			&cli.StringFlag{Name: "cpuprofile", EnvVars: []string{"LIVECHAT_CPUPROFILE"},
				Usage: "write a Go CPU profile of the whole run to this file (for load measurements; docs/performance.md)"},
			&cli.StringFlag{Name: "config", EnvVars: []string{"LIVECHAT_CONFIG"},
				Usage: "YAML file of settings, keys named as the long flags (port: 8443); flags and LIVECHAT_* variables win over it"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"LIVECHAT_TLS_CERT"},
				Usage: "PEM certificate (chain) for HTTPS/WSS on --port; reloaded when the file changes and on SIGHUP"},
			&cli.StringFlag{Name: "tls-key", EnvVars: []string{"LIVECHAT_TLS_KEY"},
				Usage: "PEM private key of --tls-cert"},
			&cli.BoolFlag{Name: "tls-self-signed", EnvVars: []string{"LIVECHAT_TLS_SELF_SIGNED"},
				Usage: "HTTPS with a self-signed certificate for the advertise IP and host name, kept in --data-dir; its fingerprint is printed at start"},
			&cli.StringFlag{Name: "acme-domain", EnvVars: []string{"LIVECHAT_ACME_DOMAIN"},
				Usage: "comma-separated public DNS names to obtain and renew Let's Encrypt certificates for (needs --port 443 or --http-redirect-port 80 reachable)"},
			&cli.StringFlag{Name: "acme-email", EnvVars: []string{"LIVECHAT_ACME_EMAIL"},
				Usage: "contact address for the ACME account (expiry notices)"},
			&cli.StringFlag{Name: "acme-directory", EnvVars: []string{"LIVECHAT_ACME_DIRECTORY"},
				Usage: "ACME directory URL; empty = Let's Encrypt production"},
			&cli.IntFlag{Name: "http-redirect-port", EnvVars: []string{"LIVECHAT_HTTP_REDIRECT_PORT"},
				Usage: "with TLS: also listen for plain HTTP on this port and redirect to HTTPS (ACME http-01 answered there); 0 = off"},
			&cli.StringFlag{Name: "nats", EnvVars: []string{"LIVECHAT_NATS"},
				Usage: "join a cluster through this NATS network (nats://host:port, comma-separated); docs/cluster.md"},
			&cli.StringFlag{Name: "cluster-listen", EnvVars: []string{"LIVECHAT_CLUSTER_LISTEN"},
				Usage: "run an embedded NATS server with JetStream on host:port and join it; other nodes join with --nats"},
			&cli.StringFlag{Name: "cluster-leaf-listen", EnvVars: []string{"LIVECHAT_CLUSTER_LEAF_LISTEN"},
				Usage: "with --cluster-listen: accept leaf links from other sites on host:port"},
			&cli.StringFlag{Name: "cluster-hub", EnvVars: []string{"LIVECHAT_CLUSTER_HUB"},
				Usage: "with --cluster-listen: link the embedded server to this hub (nats-leaf://host:port) as a leaf node"},
			&cli.StringFlag{Name: "cluster-domain", EnvVars: []string{"LIVECHAT_CLUSTER_DOMAIN"},
				Usage: "JetStream domain of the hub (set on the hub and on nodes behind a leaf)"},
			&cli.StringFlag{Name: "node-id", EnvVars: []string{"LIVECHAT_NODE_ID"},
				Usage: "this node's id in the cluster, [A-Za-z0-9_-]{1,64}; default the host name"},
			&cli.DurationFlag{Name: "cluster-lease-ttl", EnvVars: []string{"LIVECHAT_CLUSTER_LEASE_TTL"},
				Usage: "channel owner lease TTL; the failover bound is about 4/3 of it (default 3s)"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := configFrom(c, getenv)
			if err != nil {
				return err
			}
			if path := c.String("cpuprofile"); path != "" {
				stop, err := startCPUProfile(path)
				if err != nil {
					return err
				}
				defer stop()
			}
			return run(c.Context, cfg, stdout)
		},
	}
	app.Flags = configfile.Wrap(app.Flags)
	app.Before = configfile.Before(app.Flags, "config", map[string]string{
		"secret":      "secrets come from the environment only: LIVECHAT_SECRET (the package keeps it in /etc/lcserver/secret.env)",
		"admin-token": "secrets come from the environment only: LIVECHAT_ADMIN_TOKEN",
	})
	return app
}

// defaultDataDir is $XDG_STATE_HOME/lcserver, else ~/.local/state/lcserver (the XDG base
// directory default); the Debian package sets /var/lib/lcserver.
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "lcserver")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "lcserver")
	}
	return ""
}

// commaSeparated splits a comma-separated flag, dropping empty items.
func commaSeparated(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// configFrom turns flags and environment into a server.Config with a logger.
func configFrom(c *cli.Context, getenv func(string) string) (server.Config, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return server.Config{}, fmt.Errorf("--log-level %q: want error, warn, info or debug", c.String("log-level"))
	}
	cfg := server.Config{
		Port:              c.Int("port"),
		UDPPort:           c.Int("udp-port"),
		UDPWorkers:        c.Int("udp-workers"),
		PeerIdleTimeout:   c.Duration("peer-idle-timeout"),
		Bind:              c.String("bind"),
		AdvertiseIP:       c.String("advertise-ip"),
		ChannelsFile:      c.String("channels"),
		HeartbeatInterval: c.Duration("heartbeat-interval"),
		FloorPingTimeout:  c.Duration("floor-ping-timeout"),
		FloorMaxDuration:  c.Duration("floor-max-duration"),
		QueueLimit:        c.Int("floor-queue-limit"),
		RateLimit:         c.Float64("rate-limit"),
		RateBurst:         c.Int("rate-burst"),
		MaxFrameBytes:     c.Int("max-frame-bytes"),
		BadFrameLimit:     c.Int("bad-frame-limit"),
		OutboundQueue:     c.Int("ws-queue"),
		IdentifyTimeout:   c.Duration("identify-timeout"),
		MaxMessageLength:  c.Int("max-message-length"),
		DataDir:           c.String("data-dir"),
		HistoryRetention:  c.Duration("history-retention"),
		RecordChannels:    commaSeparated(c.String("record-channels")),
		MaxRecordingBytes: int64(c.Int("recordings-max-mb")) << 20,

		MaxConnections:            c.Int("max-connections"),
		MaxConnsPerIP:             c.Int("max-conns-per-ip"),
		ConnectRatePerIP:          c.Float64("connect-rate-per-ip"),
		ConnectBurstPerIP:         c.Int("connect-burst-per-ip"),
		IdentifyFailureRatePerIP:  c.Float64("identify-failure-rate-per-ip"),
		IdentifyFailureBurstPerIP: c.Int("identify-failure-burst-per-ip"),
		LimitLoopback:             c.Bool("limit-loopback"),

		MaxChannelsPerUser:    c.Int("max-channels-per-user"),
		MaxUserChannels:       c.Int("max-user-channels"),
		ChannelCreateBurst:    c.Int("channel-create-burst"),
		ChannelCreateInterval: c.Duration("channel-create-interval"),
		ChannelReapAfter:      c.Duration("channel-reap-after"),
		Secret:                getenv("LIVECHAT_SECRET"),
		AdminToken:            getenv("LIVECHAT_ADMIN_TOKEN"),
		Dev:                   c.Bool("dev"),
		Version:               buildinfo.Version(version),
		TLSCert:               c.String("tls-cert"),
		TLSKey:                c.String("tls-key"),
		TLSSelfSigned:         c.Bool("tls-self-signed"),
		ACMEEmail:             c.String("acme-email"),
		ACMEDirectory:         c.String("acme-directory"),
		HTTPRedirectPort:      c.Int("http-redirect-port"),
		Cluster: server.ClusterConfig{
			NATSURL: c.String("nats"), Listen: c.String("cluster-listen"),
			LeafListen: c.String("cluster-leaf-listen"), Hub: c.String("cluster-hub"),
			Domain: c.String("cluster-domain"), NodeID: c.String("node-id"),
			LeaseTTL: c.Duration("cluster-lease-ttl"),
		},
		Logger: slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})),
	}
	cfg.AllowedOrigins = commaList(c.String("allowed-origins"))
	cfg.ACMEDomains = commaList(c.String("acme-domain"))
	if cfg.Secret == "" {
		cfg.Secret = token.DefaultSecret // refused by server.Config.Validate unless --dev
	}
	if cfg.Dev && cfg.Secret != token.DefaultSecret {
		return cfg, errors.New("--dev is refused while LIVECHAT_SECRET is set: dev mode prints tokens for anyone to use")
	}
	if cfg.Dev {
		// Demo mode listens and advertises on loopback unless told otherwise (a non-loopback
		// --bind is then refused by Validate).
		if !c.IsSet("bind") {
			cfg.Bind = ""
		}
		if !c.IsSet("advertise-ip") {
			cfg.AdvertiseIP = ""
		}
	}
	return cfg, nil
}

// commaList splits a comma-separated flag value, dropping blanks.
func commaList(v string) []string {
	var out []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// run starts the server and serves until ctx ends (SIGINT/SIGTERM), then shuts down. SIGHUP
// reloads --tls-cert/--tls-key.
func run(ctx context.Context, cfg server.Config, stdout io.Writer) error {
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	printCertificate(stdout, srv)
	if cfg.Dev {
		if err := printDevBanner(stdout, webBase(srv), srv.Port(), []byte(cfg.Secret), time.Now()); err != nil {
			return errors.Join(err, srv.Run(canceled()))
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupCtx, stopHUP := context.WithCancel(ctx)
	defer stopHUP()
	go reloadOnHUP(hupCtx, hup, srv.ReloadCertificate, cfg.Logger)
	return srv.Run(ctx)
}

// reloadOnHUP calls reload for every signal until ctx ends. A failed reload is logged; the
// server keeps the certificate it has.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, reload func() error, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := reload(); err != nil {
				log.Warn("SIGHUP: TLS certificate not reloaded; keeping the previous one", "err", err)
			} else {
				log.Info("SIGHUP: TLS certificate files read again")
			}
		}
	}
}

// printCertificate tells the operator which certificate the port presents, so users can
// compare the fingerprint their browser shows (self-signed: once, when they accept it).
func printCertificate(w io.Writer, srv *server.Server) {
	leaf := srv.Certificate()
	if leaf == nil {
		return
	}
	fmt.Fprintf(w, "TLS certificate (%s) for %s\n  SHA-256 fingerprint: %s\n", srv.TLS(),
		strings.Join(certNames(leaf), ", "), tlscert.Fingerprint(leaf.Raw))
	if f := srv.SelfSignedCertFile(); f != "" {
		fmt.Fprintf(w, "  certificate file:    %s (trust it in lcadmin with --tls-ca)\n", f)
	}
	base := webBase(srv)
	fmt.Fprintf(w, "  web client:          %s/\n  sign-in links:       lcadmin token --user NAME --url %s   (same LIVECHAT_SECRET)\n", base, base)
}

func certNames(leaf *x509.Certificate) []string {
	names := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// webBase is where the web client is announced: loopback over plain HTTP (the microphone
// works there without a certificate), the advertise IP over HTTPS (so a phone on the LAN can
// open it).
func webBase(srv *server.Server) string {
	if srv.Scheme() == "https" {
		return "https://" + net.JoinHostPort(srv.AdvertiseIP().String(), strconv.Itoa(srv.Port()))
	}
	return "http://127.0.0.1:" + strconv.Itoa(srv.Port())
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// devUsers are the demo users of --dev: alice and bob may ask normal priority, carol up to
// emergency (255).
var devUsers = []struct {
	id          string
	maxPriority int
}{{"alice", 100}, {"bob", 100}, {"carol", 255}}

// devTokenTTL is how long --dev tokens stay valid.
const devTokenTTL = 24 * time.Hour

func printDevBanner(w io.Writer, base string, port int, secret []byte, now time.Time) error {
	var b strings.Builder
	line := strings.Repeat("=", 78)
	fmt.Fprintf(&b, "%s\n  lcserver DEV MODE — default secret, demo tokens valid for %v\n%s\n", line, devTokenTTL, line)
	for _, u := range devUsers {
		tok, err := token.Mint(secret, u.id, u.maxPriority, devTokenTTL, now)
		if err != nil {
			return fmt.Errorf("dev banner: %w", err)
		}
		fmt.Fprintf(&b, "\n  %s (max_priority %d)\n    token: %s\n    web:   %s/?user=%s&token=%s\n",
			u.id, u.maxPriority, tok, base, u.id, tok)
	}
	admin := fmt.Sprintf("lcadmin --port %d status", port)
	if strings.HasPrefix(base, "https:") {
		admin = fmt.Sprintf("lcadmin --port %d --insecure status", port)
	}
	fmt.Fprintf(&b, "\n  admin: %s     (loopback needs no admin token)\n", admin)
	fmt.Fprintf(&b, "  token: lcadmin token --user dave --max-priority 200\n%s\n", line)
	_, err := io.WriteString(w, b.String())
	return err
}

// startCPUProfile profiles the process until the returned function runs (at shutdown), so a
// load run can see where the server spends its CPU without exposing /debug/pprof.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
