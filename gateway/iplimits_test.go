package gateway

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media/metrics"
)

func TestIPKeyGroupsIPv6By64AndUnmaps(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:4000":                   "192.0.2.7",
		"[::ffff:192.0.2.7]:4000":          "192.0.2.7",
		"[2001:db8:1:2:aaaa:bbbb:1:2]:443": "2001:db8:1:2::",
	} {
		got, ok := ipKey(in)
		if !ok || got.String() != want {
			t.Errorf("ipKey(%s) = %v %v, want %s", in, got, ok, want)
		}
	}
	if _, ok := ipKey("not an address"); ok {
		t.Error("ipKey accepted garbage")
	}
}

func TestIPLimitsConnectionsRateAndFailures(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := newIPLimits(Options{MaxConnsPerIP: 2, ConnectRatePerIP: 1, ConnectBurstPerIP: 3,
		IdentifyFailureRatePerIP: 0.1, IdentifyFailureBurstPerIP: 2})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")

	r1, why := l.admit(a, t0)
	r2, _ := l.admit(a, t0)
	if why != "" || r2 == nil {
		t.Fatalf("first two connections refused: %q", why)
	}
	if _, why := l.admit(a, t0); why != RefusedIPConnections {
		t.Fatalf("third open connection: %q, want %s", why, RefusedIPConnections)
	}
	if _, why := l.admit(b, t0); why != "" {
		t.Fatalf("another address was refused: %q", why)
	}
	r1()
	// One slot free again, but the burst of 3 connects is spent (2 admitted + 1 refused does
	// not count): the third admit takes the last token, the fourth is over the rate.
	r3, why := l.admit(a, t0)
	if why != "" {
		t.Fatalf("after a release: %q", why)
	}
	r2()
	r3()
	if _, why := l.admit(a, t0); why != RefusedIPConnectRate {
		t.Fatalf("fourth connect in the same instant: %q, want %s", why, RefusedIPConnectRate)
	}
	rel, why := l.admit(a, t0.Add(time.Second))
	if why != "" {
		t.Fatalf("a connect one second later: %q", why)
	}
	rel()

	l.failedIdentify(b, t0)
	l.failedIdentify(b, t0)
	if _, why := l.admit(b, t0.Add(time.Second)); why != RefusedIPIdentifyFailures {
		t.Fatalf("after the failure budget: %q, want %s", why, RefusedIPIdentifyFailures)
	}
	if rel, why := l.admit(b, t0.Add(11*time.Second)); why != "" {
		t.Fatalf("10 s later (0.1 failures/s earned one back): %q", why)
	} else {
		rel()
	}

	lo := netip.MustParseAddr("127.0.0.1")
	for i := 0; i < 10; i++ {
		if _, why := l.admit(lo, t0); why != "" {
			t.Fatalf("loopback limited without LimitLoopback: %q", why)
		}
	}
}

func TestIPLimitsForgetIdleAddresses(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := newIPLimits(Options{MaxConnsPerIP: 1, ConnectRatePerIP: 10, ConnectBurstPerIP: 1,
		IdentifyFailureRatePerIP: 1, IdentifyFailureBurstPerIP: 1})
	held, _ := l.admit(netip.MustParseAddr("198.51.100.1"), t0)
	defer held()
	for i := 0; i < 3*minSweep; i++ {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		rel, _ := l.admit(ip, t0.Add(time.Duration(i)*time.Second))
		rel()
	}
	if n := len(l.ips); n > minSweep+1 {
		t.Fatalf("%d addresses remembered, want at most %d (idle ones forgotten)", n, minSweep+1)
	}
	if l.ips[netip.MustParseAddr("198.51.100.1")] == nil {
		t.Fatal("an address with an open connection was forgotten")
	}
}

// Over the real handler: the connection over the per-address limit is refused with HTTP 429
// before the upgrade and counted by reason; bad tokens use up the address's IDENTIFY budget.
func TestPerAddressLimitsRefuseAndCount(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(o *Options) {
		o.Metrics = m
		o.LimitLoopback = true // the test's clients all come from 127.0.0.1
		o.MaxConnsPerIP = 2
		o.IdentifyFailureBurstPerIP = 2
		o.IdentifyFailureRatePerIP = 0.001
	})
	a := wstest.Dial(t, e.url)
	defer a.Close()
	b := wstest.Dial(t, e.url)
	defer b.Close()
	if _, err := wstest.DialErr(e.url, nil); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("third connection from one address: %v, want HTTP 429", err)
	}
	if got := refused(t, m, RefusedIPConnections); got != 1 {
		t.Fatalf("ws_refused_total{reason=%s} = %v, want 1", RefusedIPConnections, got)
	}

	for _, c := range []*wstest.Client{a, b} {
		c.Send(int(OpIdentify), map[string]any{"user_id": "mallory", "token": "guess"})
		if code, _ := errCode(t, c.Next()); code != 1001 {
			t.Fatalf("bad token: %d, want 1001", code)
		}
		if cl := c.ExpectClosed(); cl.Code != CloseInvalidToken {
			t.Fatalf("closed %d, want 4001", cl.Code)
		}
	}
	// Both connections are closed, so the connection limit cannot be what refuses now;
	// ServeHTTP may take a moment to return, but the failure budget is spent for good.
	_, err := wstest.DialErr(e.url, nil)
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("connection after the failed-IDENTIFY budget: %v, want HTTP 429", err)
	}
	if refused(t, m, RefusedIPIdentifyFailures)+refused(t, m, RefusedIPConnections) < 2 {
		t.Fatal("refusal not counted")
	}
}

// refused reads livechat_ws_refused_total{reason}.
func refused(t *testing.T, m *metrics.Metrics, reason string) float64 {
	t.Helper()
	return testutil.ToFloat64(m.WSRefused.WithLabelValues(reason))
}
