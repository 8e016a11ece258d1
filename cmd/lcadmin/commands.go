package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/gateway/token"
)

// remote is what a server command needs: a client, the output mode, the clock and where to
// write.
type remote struct {
	client *admin.Client
	json   bool
	now    time.Time
	out    io.Writer
	args   []string
}

// withServer builds the client from the global flags and runs f under the --timeout.
func withServer(c *cli.Context, now func() time.Time, f func(ctx context.Context, s remote) error) error {
	opts := admin.TLSOptions{CAFile: c.String(flagTLSCA), Fingerprint: c.String(flagTLSFingerprint), Insecure: c.Bool(flagInsecure)}
	scheme := "http"
	if c.Bool(flagTLS) || opts != (admin.TLSOptions{}) {
		scheme = "https"
	}
	hc, err := opts.HTTPClient()
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	base := scheme + "://" + net.JoinHostPort(c.String(flagHost), strconv.Itoa(c.Int(flagPort)))
	s := remote{
		client: &admin.Client{BaseURL: base, Token: c.String(flagToken), HTTP: hc},
		json:   c.Bool(flagJSON),
		now:    now(),
		out:    c.App.Writer,
		args:   c.Args().Slice(),
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration(flagTimeout))
	defer cancel()
	return f(ctx, s)
}

// optionalArg returns the command's single optional argument.
func (s remote) optionalArg(what string) (string, error) {
	switch len(s.args) {
	case 0:
		return "", nil
	case 1:
		return s.args[0], nil
	default:
		return "", fmt.Errorf("expected at most one %s, got %d arguments", what, len(s.args))
	}
}

// show prints the raw JSON of path with --json, else fetches the typed answer and renders it.
func show[T any](ctx context.Context, s remote, path string, fetch func(context.Context) (*T, error), render func(io.Writer, *T) error) error {
	if s.json {
		raw, err := s.client.Raw(ctx, http.MethodGet, path)
		if err != nil {
			return err
		}
		return writeJSON(s.out, raw)
	}
	v, err := fetch(ctx)
	if err != nil {
		return err
	}
	return render(s.out, v)
}

func writeJSON(w io.Writer, raw []byte) error {
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		raw = append(raw, '\n')
	}
	_, err := w.Write(raw)
	return err
}

func runStatus(ctx context.Context, s remote) error {
	if len(s.args) > 0 {
		return fmt.Errorf("status takes no arguments")
	}
	return show(ctx, s, admin.StatusPath(), s.client.Status, renderStatus)
}

func runUsers(ctx context.Context, s remote) error {
	id, err := s.optionalArg("user id")
	if err != nil {
		return err
	}
	if id == "" {
		return show(ctx, s, admin.UsersPath(), s.client.Users, withNow(renderUsers, s.now))
	}
	return show(ctx, s, admin.UserPath(id), bind(s.client.User, id), withNow(renderUser, s.now))
}

func runChannels(ctx context.Context, s remote) error {
	id, err := s.optionalArg("channel id")
	if err != nil {
		return err
	}
	if id == "" {
		return show(ctx, s, admin.ChannelsPath(), s.client.Channels, renderChannels)
	}
	return show(ctx, s, admin.ChannelPath(id), bind(s.client.Channel, id), withNow(renderChannel, s.now))
}

func runPeers(ctx context.Context, s remote) error {
	u, err := s.optionalArg("ufrag")
	if err != nil {
		return err
	}
	if u == "" {
		return show(ctx, s, admin.PeersPath(), s.client.Peers, renderPeers)
	}
	return show(ctx, s, admin.PeerPath(u), bind(s.client.Peer, u), renderPeer)
}

func runHistory(ctx context.Context, s remote, limit int, since string) error {
	id, err := s.optionalArg("channel id")
	if err != nil {
		return err
	}
	var from time.Time
	if since != "" {
		if d, derr := time.ParseDuration(since); derr == nil {
			from = s.now.Add(-d)
		} else if from, err = time.Parse(time.RFC3339, since); err != nil {
			return fmt.Errorf("--since %q is neither a duration (1h) nor an RFC 3339 time", since)
		}
	}
	fetch := func(ctx context.Context) (*admin.BurstList, error) { return s.client.Bursts(ctx, id, from, limit) }
	return show(ctx, s, admin.BurstsPath(id, from, limit), fetch, renderBursts)
}

func runFloorRevoke(ctx context.Context, s remote) error {
	if len(s.args) != 1 {
		return fmt.Errorf("floor-revoke needs exactly one channel id")
	}
	id := s.args[0]
	if s.json {
		raw, err := s.client.Raw(ctx, http.MethodPost, admin.FloorRevokePath(id))
		if err != nil {
			return err
		}
		return writeJSON(s.out, raw)
	}
	res, err := s.client.RevokeFloor(ctx, id)
	if err != nil {
		return err
	}
	return renderRevoke(s.out, res)
}

func bind[T any](f func(context.Context, string) (*T, error), arg string) func(context.Context) (*T, error) {
	return func(ctx context.Context) (*T, error) { return f(ctx, arg) }
}

func withNow[T any](f func(io.Writer, *T, time.Time) error, now time.Time) func(io.Writer, *T) error {
	return func(w io.Writer, v *T) error { return f(w, v, now) }
}

// tokenRequest is what `lcadmin token` mints.
type tokenRequest struct {
	UserID      string
	MaxPriority int
	TTL         time.Duration
	Secret      string // empty: token.DefaultSecret, with a warning
	JSON        bool
	URL         string // web client address: print a sign-in link instead of the token
}

// signInLink is the web client link that signs user in with tok (the page reads ?user= and
// ?token= and then takes them out of the address bar).
func signInLink(base, user, tok string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("--url %q: want the web client's address, e.g. https://192.168.1.10:8443", base)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/"
	u.RawQuery = url.Values{"user": {user}, "token": {tok}}.Encode()
	u.Fragment = ""
	return u.String(), nil
}

func runToken(r tokenRequest, now time.Time, stdout, stderr io.Writer) error {
	if r.UserID == "" {
		return fmt.Errorf("token needs --user")
	}
	if r.TTL <= 0 {
		return fmt.Errorf("--ttl must be positive, got %v", r.TTL)
	}
	if !msg.ValidID(r.UserID) {
		return fmt.Errorf("invalid --user %q: user ids match [A-Za-z0-9_-]{1,64}", r.UserID)
	}
	secret := r.Secret
	if secret == "" {
		secret = token.DefaultSecret
		fmt.Fprintf(stderr, "lcadmin: warning: LIVECHAT_SECRET is not set; signing with the default secret %q, "+
			"which only a server running on the default accepts\n", token.DefaultSecret)
	}
	tok, err := token.Mint([]byte(secret), r.UserID, r.MaxPriority, r.TTL, now)
	if err != nil {
		return err
	}
	var link string
	if r.URL != "" {
		if link, err = signInLink(r.URL, r.UserID, tok); err != nil {
			return err
		}
	}
	if !r.JSON {
		line := tok
		if link != "" {
			line = link
		}
		_, err = fmt.Fprintln(stdout, line)
		return err
	}
	out, err := json.Marshal(struct {
		Token       string    `json:"token"`
		UserID      string    `json:"user_id"`
		MaxPriority int       `json:"max_priority"`
		ExpiresAt   time.Time `json:"expires_at"`
		Link        string    `json:"link,omitempty"`
	}{tok, r.UserID, r.MaxPriority, now.Add(r.TTL).UTC().Truncate(time.Second), link})
	if err != nil {
		return err
	}
	return writeJSON(stdout, out)
}

// describe turns an error into the one line lcadmin prints, with a hint where the fix is on
// the operator's side.
func describe(err error) string {
	var api *admin.APIError
	var down *admin.UnreachableError
	switch {
	case errors.As(err, &api):
		line := fmt.Sprintf("%s (HTTP %d, code %d)", api.ErrorBody.Error, api.Status, api.Code)
		if api.Status == http.StatusBadRequest && api.Code == 0 {
			// net/http's answer to plain HTTP on a TLS port has no JSON body.
			line += "; if the server runs with TLS, pass --tls (or --tls-ca, --tls-fingerprint, --insecure)"
		}
		switch api.Status {
		case http.StatusUnauthorized:
			line += "; pass --token or set LIVECHAT_ADMIN_TOKEN"
		case http.StatusServiceUnavailable:
			line += "; the server is overloaded or stuck, try again"
		}
		return line
	case errors.As(err, &down):
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Sprintf("no answer from %s within --timeout", down.BaseURL)
		}
		var unknownCA x509.UnknownAuthorityError
		var badName x509.HostnameError
		var notTLS tls.RecordHeaderError
		switch {
		case errors.As(err, &unknownCA), errors.As(err, &badName):
			return down.Error() + "; trust the server with --tls-ca FILE (its certificate), --tls-fingerprint SHA256 (printed at its start) or, unauthenticated, --insecure"
		case errors.Is(err, admin.ErrFingerprintMismatch):
			return down.Error() + "; check --tls-fingerprint against the one lcserver printed at start"
		// net/http turns the TLS record error into this sentence without a type to match.
		case errors.As(err, &notTLS), strings.Contains(err.Error(), "gave HTTP response to HTTPS client"):
			return down.Error() + "; the server speaks plain HTTP: drop --tls, --tls-ca, --tls-fingerprint and --insecure"
		}
		return down.Error() + "; is lcserver running there?"
	default:
		return err.Error()
	}
}
