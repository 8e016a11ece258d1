package load

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// CheckLoopback accepts "host:port", "host", or an http/ws URL whose host is a loopback IP
// (127.0.0.0/8 or ::1) or "localhost", and returns the host:port to dial (localhost becomes
// 127.0.0.1). Anything else is an error: the load tool never sends traffic off this machine.
func CheckLoopback(target string) (string, error) {
	hostport := target
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil {
			return "", fmt.Errorf("target %q: %w", target, err)
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("target %q: want host:port: %w", target, err)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("target %q: host must be a loopback IP address (127.0.0.0/8 or ::1), not a name", target)
	}
	if !ip.Unmap().IsLoopback() {
		return "", fmt.Errorf("target %q is not a loopback address: lcload only sends to 127.0.0.0/8 or ::1", target)
	}
	return net.JoinHostPort(ip.Unmap().String(), port), nil
}

// checkLoopbackAddr is CheckLoopback for a media candidate.
func checkLoopbackAddr(a netip.AddrPort) error {
	if !a.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("media candidate %s is not a loopback address: refusing to send there", a)
	}
	return nil
}
