package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/minilivechat/minilivechat/actors/channel"
	"github.com/minilivechat/minilivechat/actors/directory"
	"github.com/minilivechat/minilivechat/actors/floor"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/gateway"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/media/clock"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// AdvertiseAuto asks New to pick the advertise IP from the routing table.
const AdvertiseAuto = "auto"

// Config is everything lcserver can be told (docs/operations.md §6, §11). Zero values take the
// defaults of Defaults(); Validate says what is wrong with a bad one.
type Config struct {
	Port        int    // TCP port for WebSocket, REST, admin and the web client; 0 picks a free one
	UDPPort     int    // UDP media port; 0 picks a free one
	Bind        string // listen address
	AdvertiseIP string // IP put in SDP candidates; "auto" (or empty) picks the routed source IP
	// UDPWorkers is the number of SO_REUSEPORT sockets (one reader each) on the media port
	// (docs/performance.md, "UDP workers").
	UDPWorkers int
	// PeerIdleTimeout: a media peer with no datagram (media or consent check) for this long
	// is removed; the member stays, signaling-only (docs/operations.md).
	PeerIdleTimeout time.Duration

	HeartbeatInterval time.Duration // announced in HELLO; zombie after 2× + HeartbeatGrace
	HeartbeatGrace    time.Duration
	IdentifyTimeout   time.Duration

	FloorPingTimeout time.Duration // holder without FLOOR_PING for this long loses the floor
	FloorMaxDuration time.Duration // longest a holder may talk
	QueueLimit       int           // floor queue limit per channel; 0 follows the channel capacity

	ChannelsFile   string   // JSON or YAML preset channels replacing the built-in three
	AllowedOrigins []string // Origin patterns for /ws; empty accepts any

	Secret     string // LIVECHAT_SECRET: the token HMAC key
	AdminToken string // LIVECHAT_ADMIN_TOKEN: bearer token for /admin; empty = loopback only

	RateLimit     float64 // frames per second per WebSocket; negative disables
	RateBurst     int
	BadFrameLimit int // more bad frames than this within 10 s close with 4004; -1 disables
	MaxFrameBytes int
	// OutboundQueue is the frames queued per WebSocket for a client that reads slowly;
	// beyond, the connection is closed with 4006 (default gateway.DefaultOutboundQueue).
	OutboundQueue int

	// Connection limits (gateway.Options; docs/protocol.md "Limits per address"). Zero takes
	// the default, negative disables.
	MaxConnections            int
	MaxConnsPerIP             int
	ConnectRatePerIP          float64
	ConnectBurstPerIP         int
	IdentifyFailureRatePerIP  float64
	IdentifyFailureBurstPerIP int
	LimitLoopback             bool // apply the per-address limits to loopback peers too

	// Limits of user-created channels (directory.Config); zero takes the default, negative
	// disables. ChannelReapAfter deletes a user channel that has been empty that long.
	MaxChannelsPerUser    int
	MaxUserChannels       int
	ChannelCreateBurst    int
	ChannelCreateInterval time.Duration
	ChannelReapAfter      time.Duration
	// MaxMessageLength caps chat content in Unicode code points (docs/protocol.md, "Error codes":
	// 2000).
	MaxMessageLength int

	// DataDir is where lcserver keeps its files: the history database (docs/history.md),
	// the self-signed certificate, the ACME cache. Empty: no history, and nothing else that
	// needs it may be enabled.
	DataDir string

	// TLS on the TCP port (docs/operations.md §8): at most one certificate source — a PEM
	// pair (TLSCert, TLSKey; reloaded when the files change or on ReloadCertificate), a
	// self-signed certificate kept in DataDir, or ACME for ACMEDomains (cache in DataDir).
	// None: plain HTTP.
	TLSCert, TLSKey  string
	TLSSelfSigned    bool
	ACMEDomains      []string
	ACMEEmail        string // contact for the ACME account; optional
	ACMEDirectory    string // ACME directory URL; empty = Let's Encrypt
	HTTPRedirectPort int    // plain-HTTP port that redirects to HTTPS (and answers ACME http-01); 0 = none
	// HistoryRetention deletes bursts and chat older than this (default 90 days; negative
	// keeps everything).
	HistoryRetention time.Duration
	// RecordChannels are the channel ids whose bursts are recorded as Ogg Opus files in
	// DataDir/recordings (docs/history.md); none by default.
	RecordChannels []string
	// MaxRecordingBytes caps the recordings' total size, oldest removed first; 0: no cap.
	MaxRecordingBytes int64

	// Cluster joins this server to other nodes over NATS (docs/cluster.md); the zero value
	// runs one node on its own, as without it.
	Cluster ClusterConfig

	// Dev is demo mode (lcserver --dev): the public default secret is allowed, and only on
	// loopback (Bind and AdvertiseIP default to 127.0.0.1).
	Dev     bool
	Version string // reported by /admin/status

	// Media is the media plane the channels open peers through. Nil: the server runs its own
	// (actors/peer) on UDPPort and closes it at the end of Run. msg.NoMedia{} runs signaling
	// only (every SDP offer refused with 2006).
	Media msg.MediaPlane

	Logger  *slog.Logger     // nil discards
	Metrics *metrics.Metrics // nil: a fresh set

	// Clock is the one clock of the server: the actors' timers and timestamps, the gateway's
	// deadlines and the media plane's reaping run on it. Nil: clock.Real(); tests give a
	// clock.Fake and move time by hand.
	Clock clock.Clock
}

// DefaultUDPWorkers is the media port's default number of UDP workers, chosen by measurement
// on 2 cores (docs/performance.md, "UDP workers").
const DefaultUDPWorkers = 2

// Defaults returns the configuration of a plain `lcserver` start.
func Defaults() Config {
	return Config{
		Port:              8080,
		UDPPort:           10000,
		Bind:              "0.0.0.0",
		AdvertiseIP:       AdvertiseAuto,
		UDPWorkers:        DefaultUDPWorkers,
		PeerIdleTimeout:   30 * time.Second,
		HeartbeatInterval: gateway.DefaultHeartbeatInterval,
		HeartbeatGrace:    gateway.DefaultHeartbeatGrace,
		IdentifyTimeout:   gateway.DefaultIdentifyTimeout,
		FloorPingTimeout:  floor.DefaultPingTimeout,
		FloorMaxDuration:  floor.DefaultMaxDuration,
		Secret:            token.DefaultSecret,
		RateLimit:         gateway.DefaultRateLimit,
		RateBurst:         gateway.DefaultRateBurst,
		BadFrameLimit:     gateway.DefaultBadFrameLimit,
		MaxFrameBytes:     gateway.DefaultMaxFrameBytes,
		MaxMessageLength:  channel.MaxMessageLength,
		Version:           "dev",

		MaxConnections:            gateway.DefaultMaxConnections,
		MaxConnsPerIP:             gateway.DefaultMaxConnsPerIP,
		ConnectRatePerIP:          gateway.DefaultConnectRatePerIP,
		ConnectBurstPerIP:         gateway.DefaultConnectBurstPerIP,
		IdentifyFailureRatePerIP:  gateway.DefaultIdentifyFailureRatePerIP,
		IdentifyFailureBurstPerIP: gateway.DefaultIdentifyFailureBurstPerIP,

		MaxChannelsPerUser:    directory.DefaultMaxChannelsPerUser,
		MaxUserChannels:       directory.DefaultMaxUserChannels,
		ChannelCreateBurst:    directory.DefaultCreateBurst,
		ChannelCreateInterval: directory.DefaultCreateInterval,
		ChannelReapAfter:      DefaultChannelReapAfter,
	}
}

// DefaultChannelReapAfter is how long a user-created channel may stay empty.
const DefaultChannelReapAfter = 10 * time.Minute

// withDefaults fills zero fields from Defaults (ports excepted: 0 means "pick one").
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Dev {
		d.Bind, d.AdvertiseIP = "127.0.0.1", "127.0.0.1"
	}
	if c.Bind == "" {
		c.Bind = d.Bind
	}
	if c.AdvertiseIP == "" {
		c.AdvertiseIP = d.AdvertiseIP
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	if c.UDPWorkers == 0 {
		c.UDPWorkers = d.UDPWorkers
	}
	setDur(&c.PeerIdleTimeout, d.PeerIdleTimeout)
	setDur(&c.HeartbeatInterval, d.HeartbeatInterval)
	setDur(&c.HeartbeatGrace, d.HeartbeatGrace)
	setDur(&c.IdentifyTimeout, d.IdentifyTimeout)
	setDur(&c.FloorPingTimeout, d.FloorPingTimeout)
	setDur(&c.FloorMaxDuration, d.FloorMaxDuration)
	if c.Secret == "" {
		c.Secret = d.Secret
	}
	if c.RateLimit == 0 {
		c.RateLimit = d.RateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = d.RateBurst
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = d.MaxFrameBytes
	}
	if c.ChannelReapAfter == 0 {
		c.ChannelReapAfter = d.ChannelReapAfter
	}
	if c.MaxMessageLength == 0 {
		c.MaxMessageLength = d.MaxMessageLength
	}
	if c.Version == "" {
		c.Version = d.Version
	}
	return c
}

// Validate reports every problem of the configuration (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Port < 0 || c.Port > 65535 {
		bad("port %d outside 0..65535", c.Port)
	}
	if c.UDPPort < 0 || c.UDPPort > 65535 {
		bad("udp port %d outside 0..65535", c.UDPPort)
	}
	if c.UDPWorkers < 1 || c.UDPWorkers > 64 {
		bad("udp workers %d outside 1..64", c.UDPWorkers)
	}
	if c.PeerIdleTimeout < time.Second {
		bad("peer idle timeout %v below 1s (consent checks come every 5 s or so)", c.PeerIdleTimeout)
	}
	if net.ParseIP(c.Bind) == nil {
		bad("bind address %q is not an IP address", c.Bind)
	}
	if c.AdvertiseIP != AdvertiseAuto {
		ip := net.ParseIP(c.AdvertiseIP)
		if ip == nil || ip.IsUnspecified() {
			bad("advertise IP %q is not a usable IP address (or %q)", c.AdvertiseIP, AdvertiseAuto)
		}
	}
	for name, d := range map[string]time.Duration{
		"heartbeat interval": c.HeartbeatInterval, "heartbeat grace": c.HeartbeatGrace,
		"identify timeout": c.IdentifyTimeout, "floor ping timeout": c.FloorPingTimeout,
		"floor max duration": c.FloorMaxDuration,
	} {
		if d < 0 {
			bad("%s %v is negative", name, d)
		}
	}
	if c.HeartbeatInterval > 0 && c.HeartbeatInterval < 10*time.Millisecond {
		bad("heartbeat interval %v below 10ms", c.HeartbeatInterval)
	}
	if c.QueueLimit < 0 {
		bad("queue limit %d is negative", c.QueueLimit)
	}
	if c.RateBurst < 0 {
		bad("rate burst %d is negative", c.RateBurst)
	}
	if c.OutboundQueue < 0 {
		bad("outbound queue %d is negative", c.OutboundQueue)
	}
	if c.BadFrameLimit < -1 {
		bad("bad-frame limit %d: want -1 (off), 0 (default %d) or more", c.BadFrameLimit, gateway.DefaultBadFrameLimit)
	}
	if c.MaxFrameBytes < 256 {
		bad("max frame size %d below 256 bytes", c.MaxFrameBytes)
	}
	if c.MaxMessageLength < 0 {
		bad("max message length %d is negative", c.MaxMessageLength)
	}
	for _, o := range c.AllowedOrigins {
		if strings.TrimSpace(o) == "" {
			bad("empty allowed-origins pattern")
		}
	}
	c.validateTLS(bad)
	c.Cluster.validate(bad)
	if c.Dev && c.Secret != token.DefaultSecret {
		bad("--dev prints tokens signed with the default secret; it is refused while LIVECHAT_SECRET is set to another value")
	}
	// The default secret is public: anyone could mint tokens for any user and priority.
	// It is allowed only in demo mode, and demo mode only on loopback.
	if !c.Dev && c.Secret == token.DefaultSecret {
		bad("LIVECHAT_SECRET is not set (or is the public default %q): anyone could mint tokens; "+
			"set it to a long random value (openssl rand -hex 32), or use --dev for a loopback-only demo", token.DefaultSecret)
	}
	if c.Dev {
		if ip := net.ParseIP(c.Bind); ip != nil && !ip.IsLoopback() {
			bad("--dev binds loopback only (its tokens are public); bind address %s is not loopback", c.Bind)
		}
	}
	return errors.Join(errs...)
}

// AutoAdvertiseIP returns the local source IP the routing table picks for the outside
// world: a UDP "connect" to a public address, which sends nothing.
func AutoAdvertiseIP() (net.IP, error) {
	conn, err := net.Dial("udp4", "192.0.2.1:9") // TEST-NET-1: routed like any public address
	if err != nil {
		return nil, fmt.Errorf("pick advertise IP: %w", err)
	}
	defer conn.Close()
	ip := conn.LocalAddr().(*net.UDPAddr).IP
	if ip.IsUnspecified() {
		return nil, errors.New("pick advertise IP: the routing table gave no source address")
	}
	return ip, nil
}
