package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// adminAuth guards /admin/*. With a token configured every request must carry
// "Authorization: Bearer <token>"; without one only loopback clients are answered, so an
// unconfigured server never exposes its admin API to the network.
func adminAuth(token string, a *api) echo.MiddlewareFunc {
	want := sha256.Sum256([]byte(token))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if token == "" {
				if !isLoopbackPeer(r) {
					a.log.Warn("admin request refused", "reason", "not_loopback",
						"remote", r.RemoteAddr, "path", r.URL.Path)
					return writeError(c, http.StatusForbidden, ErrorBody{Code: CodeForbidden,
						Error: "admin API answers loopback clients only; set LIVECHAT_ADMIN_TOKEN on the server to allow remote access"})
				}
				return next(c)
			}
			got, ok := bearer(r.Header.Get(echo.HeaderAuthorization))
			// Compare digests so that neither the content nor the length of the token leaks
			// through timing.
			gotSum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
				a.log.Warn("admin request refused", "reason", "bad_token",
					"remote", r.RemoteAddr, "path", r.URL.Path)
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="livechat-admin"`)
				return writeError(c, http.StatusUnauthorized, ErrorBody{Code: CodeUnauthorized,
					Error: "missing or wrong admin token (Authorization: Bearer <LIVECHAT_ADMIN_TOKEN>)"})
			}
			return next(c)
		}
	}
}

// bearer extracts the credentials of a Bearer authorization header (scheme case-insensitive,
// RFC 6750 §2.1).
func bearer(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// isLoopbackPeer reports whether the TCP peer of r is a loopback address. It reads RemoteAddr
// only: X-Forwarded-For and X-Real-IP are written by the client and prove nothing.
func isLoopbackPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}
