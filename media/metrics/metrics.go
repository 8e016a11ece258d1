// Package metrics defines mini-livechat's Prometheus metrics in one place. A *Metrics is built
// once per server and handed to the actors, the gateway and the media plane; there is no
// package-level registry, so tests can run several servers side by side.
//
// It lives under media, the bottom layer, so that every layer that counts (media, actors,
// gateway, admin) imports it downwards; admin only serves its registry on /metrics.
//
// Hot-path counters (packets, bytes, drops) are plain prometheus counters obtained once with
// WithLabelValues and kept by the caller: incrementing one is an atomic add, no allocation.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector the server exports.
type Metrics struct {
	Registry *prometheus.Registry

	Sessions prometheus.Gauge // open WebSocket connections
	Users    prometheus.Gauge // identified sessions
	Channels prometheus.Gauge
	// ChannelCreatesRefused counts CHANNEL_CREATEs refused by a channel limit, by reason
	// (user_cap, server_cap, rate); ChannelsReaped counts empty user channels removed.
	ChannelCreatesRefused *prometheus.CounterVec
	ChannelsReaped        prometheus.Counter
	Peers                 prometheus.Gauge
	Members               prometheus.Gauge // channel memberships, all channels

	FloorGrants       prometheus.Counter
	FloorDenials      *prometheus.CounterVec // by reason
	FloorRevokes      *prometheus.CounterVec // by reason
	FloorHoldSeconds  prometheus.Histogram
	FloorGrantLatency prometheus.Histogram // FLOOR_REQUEST received → FLOOR_GRANTED queued, seconds

	// History (docs/history.md): bursts logged, and database writes that failed by what
	// they wrote (channel, burst, chat, prune).
	HistoryBursts prometheus.Counter
	HistoryErrors *prometheus.CounterVec
	// RecordingPackets counts Opus packets written to recordings.
	RecordingPackets prometheus.Counter

	PacketsIn      prometheus.Counter
	PacketsOut     prometheus.Counter
	BytesIn        prometheus.Counter
	BytesOut       prometheus.Counter
	PacketsDropped *prometheus.CounterVec // by reason
	SendCalls      prometheus.Counter     // sendmmsg/sendto calls on the media port
	ReadErrors     prometheus.Counter     // failed reads on the media port
	DTLSHandshakes *prometheus.CounterVec // by result
	WSErrors       *prometheus.CounterVec // by code
	WSRefused      *prometheus.CounterVec // WebSocket upgrades refused before the upgrade, by reason
	ActorPanics    *prometheus.CounterVec // by actor kind

	HTTPRequests *prometheus.CounterVec // HTTP API requests, by route template and status code

	// Cluster (docs/cluster.md): packets on the channels' media subjects by direction (out:
	// published once per local talker packet; in: received from another node), owner changes
	// seen, and the time from forwarding a member's FLOOR_REQUEST to the owner node until the
	// owner's answer (grant, deny or queued) arrives.
	ClusterTrunkPackets *prometheus.CounterVec
	ClusterLeaseChanges prometheus.Counter
	ClusterProxyLatency prometheus.Histogram
}

// New builds the collectors and registers them, with the Go runtime and process collectors,
// on a fresh registry.
func New() *Metrics {
	const ns = "livechat"
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Sessions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "sessions",
			Help: "Open WebSocket connections."}),
		Users: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "users",
			Help: "Identified sessions."}),
		Channels: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "channels",
			Help: "Channels that exist."}),
		ChannelCreatesRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "channel_creates_refused_total",
			Help: "CHANNEL_CREATEs refused by a channel limit (ERROR 2007), by reason."}, []string{"reason"}),
		ChannelsReaped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "channels_reaped_total",
			Help: "User-created channels deleted after staying empty for the idle time."}),
		Peers: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "peers",
			Help: "Media peers (one per member that joined with an SDP offer)."}),
		Members: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "members",
			Help: "Channel memberships summed over all channels."}),
		HistoryBursts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "history_bursts_total",
			Help: "Floor grants written to the burst log."}),
		HistoryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "history_errors_total",
			Help: "History database writes that failed, by what was written."}, []string{"kind"}),
		RecordingPackets: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "recording_packets_total",
			Help: "Opus packets written to burst recordings."}),
		FloorGrants: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "floor_grants_total",
			Help: "Floors granted."}),
		FloorDenials: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "floor_denials_total",
			Help: "FLOOR_DENY sent, by reason."}, []string{"reason"}),
		FloorRevokes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "floor_revokes_total",
			Help: "Floors taken from their holder, by reason."}, []string{"reason"}),
		FloorHoldSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "floor_hold_seconds",
			Help: "How long a holder kept the floor.", Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60}}),
		FloorGrantLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "floor_grant_latency_seconds",
			Help:    "From a FLOOR_REQUEST reaching its channel actor to its FLOOR_GRANTED being queued.",
			Buckets: prometheus.ExponentialBuckets(5e-6, 4, 10)}),
		PacketsIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "media_packets_in_total",
			Help: "UDP datagrams received on the media port."}),
		PacketsOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "media_packets_out_total",
			Help: "UDP datagrams sent from the media port."}),
		BytesIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "media_bytes_in_total",
			Help: "UDP payload bytes received."}),
		BytesOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "media_bytes_out_total",
			Help: "UDP payload bytes sent."}),
		PacketsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "media_packets_dropped_total",
			Help: "Media packets dropped, by reason."}, []string{"reason"}),
		SendCalls: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "media_send_calls_total",
			Help: "System calls that sent relayed media (one sendmmsg carries a whole fan-out batch)."}),
		ReadErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "media_read_errors_total",
			Help: "Failed reads on the media port (each followed by a growing pause)."}),
		DTLSHandshakes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dtls_handshakes_total",
			Help: "DTLS handshakes, by result."}, []string{"result"}),
		WSErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "ws_errors_total",
			Help: "ERROR frames and error closes sent, by code."}, []string{"code"}),
		WSRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "ws_refused_total",
			Help: "WebSocket connections refused before the upgrade (per-address and server limits, shutdown), by reason."},
			[]string{"reason"}),
		ActorPanics: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "actor_panics_total",
			Help: "Panics recovered inside actors, by actor kind."}, []string{"actor"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "Requests answered by the HTTP API (not /ws, not the web client), by route template and status code."},
			[]string{"route", "code"}),
		ClusterTrunkPackets: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cluster_trunk_packets_total",
			Help: "Media packets on the cluster's channel media subjects, by direction (out, in)."}, []string{"direction"}),
		ClusterLeaseChanges: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cluster_lease_changes_total",
			Help: "Channel owner changes this node has seen."}),
		ClusterProxyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "cluster_proxy_latency_seconds",
			Help:    "From forwarding a FLOOR_REQUEST to the channel's owner node to the owner's answer arriving.",
			Buckets: prometheus.ExponentialBuckets(1e-4, 2.5, 10)}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Sessions, m.Users, m.Channels, m.ChannelCreatesRefused, m.ChannelsReaped, m.Peers, m.Members,
		m.FloorGrants, m.FloorDenials, m.FloorRevokes, m.FloorHoldSeconds, m.FloorGrantLatency,
		m.PacketsIn, m.PacketsOut, m.BytesIn, m.BytesOut, m.PacketsDropped, m.SendCalls, m.ReadErrors, m.DTLSHandshakes,
		m.WSErrors, m.WSRefused, m.ActorPanics, m.HTTPRequests, m.HistoryBursts, m.HistoryErrors, m.RecordingPackets,
		m.ClusterTrunkPackets, m.ClusterLeaseChanges, m.ClusterProxyLatency,
	)
	return m
}
