package media

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/media/metrics"
)

// DropReason says why the media plane dropped a packet. Each reason is one value of the
// `reason` label of livechat_media_packets_dropped_total.
type DropReason uint8

// Drop reasons.
const (
	DropNone             DropReason = iota
	DropShort                       // too short for the class its first byte claims
	DropDemux                       // first byte outside the RFC 7983 ranges served here
	DropSTUNMalformed               // not a well-formed STUN Binding request
	DropSTUNUnknownUser             // USERNAME names no server ufrag we issued
	DropSTUNIntegrity               // MESSAGE-INTEGRITY or FINGERPRINT check failed
	DropUnknownAddress              // DTLS/SRTP from an address no STUN check authenticated
	DropDTLSQueueFull               // the peer's DTLS handshake is not reading fast enough
	DropSRTPNotReady                // SRTP before the DTLS handshake finished
	DropSRTPAuth                    // SRTP/SRTCP authentication (or parse) failed
	DropSRTPReplay                  // SRTP/SRTCP replayed or too old
	DropNotForwarded                // a relayed packet reached a listener not ready to send
	DropRewrite                     // the rewriter refused a packet (late packet of an old talk spurt)
	DropEncrypt                     // SRTP encryption failed
	DropSendBufferFull              // the socket's send buffer was full: the rest of the fan-out was dropped, not waited for
	DropWriteError                  // the kernel refused the datagram
	DropKernelOverflow              // the kernel dropped it: the media socket's receive queue was full (SO_RXQ_OVFL)
	DropPeerQueueFull               // a talker's peer had too many datagrams waiting; the newest was dropped
	DropChannelQueueFull            // a channel had too many relayed packets waiting; the newest was dropped
	DropDeadLetter                  // sent to a peer or channel that had just stopped
	DropListenOnly                  // RTP from a peer whose answer said it would not send (recvonly or inactive offer)
	DropTrunkMalformed              // a frame on a cluster media subject that does not parse (docs/cluster.md)
	DropTrunkQueueFull              // a local talker's packet for other nodes found the cluster outbox full (docs/cluster.md)
	numDropReasons
)

var dropNames = [...]string{"none", "short", "demux", "stun_malformed", "stun_unknown_user",
	"stun_integrity", "unknown_address", "dtls_queue_full", "srtp_not_ready", "srtp_auth",
	"srtp_replay", "not_forwarded", "rewrite", "encrypt", "send_buffer_full", "write_error", "kernel_rx_overflow", "peer_queue_full",
	"channel_queue_full", "dead_letter", "listen_only", "trunk_malformed",
	"trunk_queue_full"}

func (r DropReason) String() string {
	if int(r) < len(dropNames) {
		return dropNames[r]
	}
	return "unknown"
}

// Counters are the media plane's hot-path counters, resolved once from the server's metrics so
// that counting a packet is one atomic add and no allocation.
type Counters struct {
	PacketsIn, PacketsOut prometheus.Counter
	BytesIn, BytesOut     prometheus.Counter
	HandshakeOK           prometheus.Counter
	HandshakeFailed       prometheus.Counter
	HandshakeTimeout      prometheus.Counter
	SendCalls             prometheus.Counter // sendmmsg calls carrying relayed media
	ReadErrors            prometheus.Counter
	Peers                 prometheus.Gauge
	PeerPanics            prometheus.Counter // panics a peer actor recovered from (actor_panics_total{actor="peer"})
	dropped               [numDropReasons]prometheus.Counter
}

// NewCounters resolves the counters of m; a nil m gets a private metrics.New().
func NewCounters(m *metrics.Metrics) *Counters {
	if m == nil {
		m = metrics.New()
	}
	c := &Counters{
		PacketsIn: m.PacketsIn, PacketsOut: m.PacketsOut, BytesIn: m.BytesIn, BytesOut: m.BytesOut,
		HandshakeOK:      m.DTLSHandshakes.WithLabelValues("ok"),
		HandshakeFailed:  m.DTLSHandshakes.WithLabelValues("failed"),
		HandshakeTimeout: m.DTLSHandshakes.WithLabelValues("timeout"),
		SendCalls:        m.SendCalls,
		ReadErrors:       m.ReadErrors,
		Peers:            m.Peers,
		PeerPanics:       m.ActorPanics.WithLabelValues("peer"),
	}
	for r := DropReason(1); r < numDropReasons; r++ {
		c.dropped[r] = m.PacketsDropped.WithLabelValues(r.String())
	}
	return c
}

// Drop counts one packet dropped for reason r.
func (c *Counters) Drop(r DropReason) {
	if r > DropNone && r < numDropReasons {
		c.dropped[r].Inc()
	}
}

// Dropped is the counter of reason r (for tests and status pages).
func (c *Counters) Dropped(r DropReason) prometheus.Counter { return c.dropped[r] }

// CounterValue reads a counter's current value (for tests and status output).
func CounterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
