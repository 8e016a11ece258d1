package gateway

import (
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Reasons of livechat_ws_refused_total: why an upgrade of `GET /ws` was refused before any
// WebSocket work was done (docs/protocol.md, "Limits per address").
const (
	RefusedServerConnections  = "server_connections"   // Options.MaxConnections open already
	RefusedIPConnections      = "ip_connections"       // Options.MaxConnsPerIP open from the address
	RefusedIPConnectRate      = "ip_connect_rate"      // the address connects faster than ConnectRatePerIP
	RefusedIPIdentifyFailures = "ip_identify_failures" // the address used up its failed-IDENTIFY budget
	RefusedShuttingDown       = "shutting_down"        // Shutdown has begun
)

// ipKey is the address a limit is kept for: the TCP peer's IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64, so a per-address limit would be no limit). It is
// the real peer address of the connection, never a forwarded header: those are written by the
// client.
func ipKey(remoteAddr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// ipState is what the gateway remembers about one address.
type ipState struct {
	conns    int         // open WebSocket connections
	connects tokenBucket // new connections
	failures tokenBucket // failed IDENTIFYs (bad tokens)
}

// ipLimits keeps the per-address limits of connections, connection rate and failed IDENTIFYs.
// It is shared by every connection's handler goroutine, so a mutex guards its table; each
// operation is a map look-up and a little arithmetic.
type ipLimits struct {
	maxConns        int // ≤ 0: no limit
	connectRate     float64
	connectBurst    int
	failRate        float64
	failBurst       int
	includeLoopback bool

	mu      sync.Mutex
	ips     map[netip.Addr]*ipState
	sweepAt int // sweep idle entries once the table grows past this
}

const minSweep = 1024

func newIPLimits(o Options) *ipLimits {
	return &ipLimits{
		maxConns: o.MaxConnsPerIP, connectRate: o.ConnectRatePerIP, connectBurst: o.ConnectBurstPerIP,
		failRate: o.IdentifyFailureRatePerIP, failBurst: o.IdentifyFailureBurstPerIP,
		includeLoopback: o.LimitLoopback,
		ips:             map[netip.Addr]*ipState{}, sweepAt: minSweep,
	}
}

// exempt reports whether an address is outside the per-address limits: a loopback peer is a
// process on this host — a local reverse proxy carrying many real clients, or local tooling —
// unless Options.LimitLoopback says otherwise.
func (l *ipLimits) exempt(ip netip.Addr) bool { return ip.IsLoopback() && !l.includeLoopback }

// admit decides on a new connection from ip. When it is admitted, release must be called once
// the connection ends; otherwise reason says why it was refused.
func (l *ipLimits) admit(ip netip.Addr, now time.Time) (release func(), reason string) {
	if l.exempt(ip) {
		return func() {}, ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(ip, now)
	switch {
	case l.maxConns > 0 && st.conns >= l.maxConns:
		return nil, RefusedIPConnections
	case !st.failures.peek(now):
		return nil, RefusedIPIdentifyFailures
	case !st.connects.allow(now):
		return nil, RefusedIPConnectRate
	}
	st.conns++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		st.conns--
	}, ""
}

// failedIdentify charges a failed IDENTIFY to ip.
func (l *ipLimits) failedIdentify(ip netip.Addr, now time.Time) {
	if l.exempt(ip) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state(ip, now).failures.allow(now)
}

// state finds or makes the entry of ip; the caller holds mu.
func (l *ipLimits) state(ip netip.Addr, now time.Time) *ipState {
	if st := l.ips[ip]; st != nil {
		return st
	}
	if len(l.ips) >= l.sweepAt {
		l.sweep(now)
	}
	st := &ipState{
		connects: newTokenBucket(l.connectRate, l.connectBurst, now),
		failures: newTokenBucket(l.failRate, l.failBurst, now),
	}
	l.ips[ip] = st
	return st
}

// sweep forgets addresses that hold no connection and whose budgets are full again: they are
// indistinguishable from addresses never seen. The table thus holds the addresses active within
// the last burst/rate seconds, and a sweep runs after the table doubled, so its cost is
// amortised over the insertions.
func (l *ipLimits) sweep(now time.Time) {
	for ip, st := range l.ips {
		if st.conns == 0 && st.connects.full(now) && st.failures.full(now) {
			delete(l.ips, ip)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.ips))
}

// refuse answers a refused upgrade with HTTP 429 (503 while shutting down) and a JSON body in
// the shape of the HTTP API's errors ({error, code}; code 1005 rate limited).
func refuse(w http.ResponseWriter, reason string) {
	status, text := http.StatusTooManyRequests, "too many connections from your address"
	switch reason {
	case RefusedShuttingDown:
		status, text = http.StatusServiceUnavailable, "server shutting down"
	case RefusedServerConnections:
		status, text = http.StatusServiceUnavailable, "server at its connection limit"
	case RefusedIPConnectRate:
		text = "connecting too often from your address"
	case RefusedIPIdentifyFailures:
		text = "too many failed IDENTIFYs from your address"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "10")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + text + `","code":1005}` + "\n"))
}
