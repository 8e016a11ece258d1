package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// DefaultRequestTimeout bounds each Backend call when Options.RequestTimeout is zero.
const DefaultRequestTimeout = 2 * time.Second

// Options configure Mount.
type Options struct {
	// Backend answers every route but /metrics. Required.
	Backend Backend
	// Metrics is served at /metrics; nil leaves /metrics unregistered.
	Metrics *metrics.Metrics
	// AdminToken, when non-empty, is the bearer token every /admin request must carry. Empty
	// means /admin answers loopback clients only (403 to others).
	AdminToken string
	// RequestTimeout bounds each Backend call; past it the route answers 503. Zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Logger receives refused admin requests, admin actions and internal errors; nil
	// discards them.
	Logger *slog.Logger
}

// Route paths, shared by Mount and Client.
const (
	pathChannels    = "/channels"
	pathStatus      = "/admin/status"
	pathUsers       = "/admin/users"
	pathAdminChans  = "/admin/channels"
	pathPeers       = "/admin/peers"
	pathFloorRevoke = "/admin/floor-revoke"
	pathBursts      = "/admin/bursts"
	pathHealthz     = "/healthz"
	pathMetrics     = "/metrics"
)

// idPattern is the id syntax of docs/protocol.md ("Frames") for channel and user ids.
var idPattern = regexp.MustCompile(msg.IDPattern)

// ufragPattern accepts ICE ufrags (RFC 8839 ice-char, bounded length); the server's own are
// 16 alphanumerics.
var ufragPattern = regexp.MustCompile(`^[A-Za-z0-9+/]{1,256}$`)

type api struct {
	b       Backend
	m       *metrics.Metrics
	timeout time.Duration
	log     *slog.Logger
}

// Mount registers every route of docs/operations.md §1 except `/` (the web client) on e:
//
//	GET  /channels, /channels/:id                 public channel list and detail
//	GET  /admin/status                            uptime and counts
//	GET  /admin/users, /admin/users/:user_id      users; detail with channels
//	GET  /admin/channels, /admin/channels/:id     channels; detail with members, queue, peers
//	GET  /admin/peers, /admin/peers/:ufrag        media peers; detail with tracks
//	POST /admin/floor-revoke/:channel_id          revoke the floor and clear the queue
//	GET  /admin/bursts?channel=&since=&limit=     the burst log, newest first (docs/history.md)
//	GET  /admin/recordings/:id.ogg                a burst's Ogg Opus recording
//	GET  /healthz                                 liveness (the backend answers in time)
//	GET  /metrics                                 Prometheus exposition of opts.Metrics
//
// Unknown paths under /admin answer a JSON 404 after the auth check, so probing reveals
// nothing to an unauthenticated client.
func Mount(e *echo.Echo, opts Options) {
	a := &api{b: opts.Backend, m: opts.Metrics, timeout: opts.RequestTimeout, log: opts.Logger}
	if a.timeout <= 0 {
		a.timeout = DefaultRequestTimeout
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}

	e.GET(pathChannels, a.channels, a.count)
	e.GET(pathChannels+"/:id", a.channel, a.count)
	e.GET(pathHealthz, a.healthz, a.count)
	if opts.Metrics != nil {
		e.GET(pathMetrics, echo.WrapHandler(promhttp.HandlerFor(opts.Metrics.Registry,
			promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError)})), a.count)
	}

	// echo's own refusals (405 on a known path, 404 of a route it does not have) keep the
	// API's error shape {error, code} instead of echo's {message}.
	e.HTTPErrorHandler = a.echoError

	auth := adminAuth(opts.AdminToken, a)
	g := e.Group("/admin")
	g.GET("/status", a.status, a.count, auth)
	g.GET("/users", a.users, a.count, auth)
	g.GET("/users/:id", a.user, a.count, auth)
	g.GET("/channels", a.channels, a.count, auth)
	g.GET("/channels/:id", a.adminChannel, a.count, auth)
	g.GET("/peers", a.peers, a.count, auth)
	g.GET("/peers/:ufrag", a.peer, a.count, auth)
	g.POST("/floor-revoke/:id", a.revokeFloor, a.count, auth)
	g.GET("/bursts", a.bursts, a.count, auth)
	g.GET("/recordings/:file", a.recording, a.count, auth)
	g.RouteNotFound("", a.notFound, a.count, auth)
	g.RouteNotFound("/*", a.notFound, a.count, auth)
}

// count records each answer in livechat_http_requests_total under its route template (never
// the raw path, so probing cannot grow the label set).
func (a *api) count(next echo.HandlerFunc) echo.HandlerFunc {
	if a.m == nil {
		return next
	}
	return func(c echo.Context) error {
		err := next(c)
		a.m.HTTPRequests.WithLabelValues(c.Path(), strconv.Itoa(c.Response().Status)).Inc()
		return err
	}
}

// call runs one Backend call under the request's context and the configured deadline, and
// writes its answer, mapped onto its JSON body by view (mapping.go), or its error.
func call[T, B any](a *api, c echo.Context, f func(ctx context.Context) (*T, error), view func(*T) B) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.timeout)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		return a.fail(c, err)
	}
	if v == nil {
		return c.JSON(http.StatusOK, nil)
	}
	return c.JSON(http.StatusOK, view(v))
}

// fail writes err as an ErrorBody with the status of statusOf.
func (a *api) fail(c echo.Context, err error) error {
	status, body := statusOf(err)
	switch {
	case status >= 500 && status != http.StatusServiceUnavailable:
		a.log.Error("admin api internal error", "path", c.Path(), "err", err)
	case status == http.StatusServiceUnavailable:
		a.log.Warn("admin api backend timeout", "path", c.Path(), "timeout", a.timeout, "err", err)
	}
	return writeError(c, status, body)
}

func writeError(c echo.Context, status int, body ErrorBody) error {
	return c.JSON(status, body)
}

// param returns the path parameter name when it matches pattern, else writes a 400.
func (a *api) param(c echo.Context, name, what string, pattern *regexp.Regexp) (string, bool) {
	v := c.Param(name)
	if !pattern.MatchString(v) {
		_ = writeError(c, http.StatusBadRequest, ErrorBody{Code: msg.CodeMalformed,
			Error: "malformed " + what + " (expected " + pattern.String() + ")"})
		return "", false
	}
	return v, true
}

func (a *api) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.timeout)
	defer cancel()
	if _, err := a.b.Status(ctx); err != nil {
		return a.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) channels(c echo.Context) error {
	return call(a, c, a.b.Channels, channelList)
}

func (a *api) channel(c echo.Context) error {
	id, ok := a.param(c, "id", "channel id", idPattern)
	if !ok {
		return nil
	}
	return call(a, c, func(ctx context.Context) (*msg.ChannelDetail, error) { return a.b.Channel(ctx, id) }, channelDetail)
}

func (a *api) status(c echo.Context) error {
	return call(a, c, a.b.Status, func(s *Status) *Status { return s })
}

func (a *api) users(c echo.Context) error {
	return call(a, c, a.b.Users, userList)
}

func (a *api) user(c echo.Context) error {
	id, ok := a.param(c, "id", "user id", idPattern)
	if !ok {
		return nil
	}
	return call(a, c, func(ctx context.Context) (*msg.UserDetail, error) { return a.b.User(ctx, id) }, userDetail)
}

func (a *api) adminChannel(c echo.Context) error {
	id, ok := a.param(c, "id", "channel id", idPattern)
	if !ok {
		return nil
	}
	return call(a, c, func(ctx context.Context) (*msg.AdminChannelDetail, error) { return a.b.AdminChannel(ctx, id) },
		adminChannelDetail)
}

func (a *api) peers(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.timeout)
	defer cancel()
	ps, err := a.b.Peers(ctx)
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(http.StatusOK, peerList(ps))
}

func (a *api) peer(c echo.Context) error {
	u, ok := a.param(c, "ufrag", "ufrag", ufragPattern)
	if !ok {
		return nil
	}
	return call(a, c, func(ctx context.Context) (*msg.PeerDetail, error) { return a.b.Peer(ctx, u) }, peerDetail)
}

// bursts is GET /admin/bursts: channel (an id), since (RFC 3339) and limit (1…1000, default
// 100) are optional; a bad one is a 400.
func (a *api) bursts(c echo.Context) error {
	var q msg.ListBursts
	bad := func(format string, args ...any) error {
		return a.fail(c, msg.Errorf(msg.CodeMalformed, format, args...))
	}
	if v := c.QueryParam("channel"); v != "" {
		if !idPattern.MatchString(v) {
			return bad("channel %q is not a channel id", v)
		}
		q.ChannelID = v
	}
	if v := c.QueryParam("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return bad("since %q is not an RFC 3339 time (2026-03-01T12:00:00Z)", v)
		}
		q.Since = t
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxBurstLimit {
			return bad("limit %q must be a number from 1 to %d", v, MaxBurstLimit)
		}
		q.Limit = n
	}
	return call(a, c, func(ctx context.Context) (*msg.BurstList, error) { return a.b.Bursts(ctx, q) }, burstList)
}

// recording is GET /admin/recordings/{id}.ogg.
func (a *api) recording(c echo.Context) error {
	f := c.Param("file")
	id, err := strconv.ParseInt(strings.TrimSuffix(f, ".ogg"), 10, 64)
	if err != nil || !strings.HasSuffix(f, ".ogg") || id <= 0 {
		return a.fail(c, msg.Errorf(msg.CodeMalformed, "recording %q must be a burst id followed by .ogg", f))
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.timeout)
	defer cancel()
	path, err := a.b.Recording(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	c.Response().Header().Set(echo.HeaderContentType, "audio/ogg")
	return c.File(path)
}

// MaxBurstLimit is the largest limit GET /admin/bursts accepts.
const MaxBurstLimit = 1000

func (a *api) revokeFloor(c echo.Context) error {
	id, ok := a.param(c, "id", "channel id", idPattern)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.timeout)
	defer cancel()
	res, err := a.b.RevokeFloor(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	if res == nil {
		res = &msg.RevokeResult{ChannelID: id}
	}
	from := "-"
	if res.RevokedFrom != nil {
		from = *res.RevokedFrom
	}
	a.log.Info("floor revoked by admin", "channel_id", id, "revoked_from", from, "remote", c.Request().RemoteAddr)
	return c.JSON(http.StatusOK, revokeResult(res))
}

func (a *api) notFound(c echo.Context) error {
	return writeError(c, http.StatusNotFound, ErrorBody{Code: CodeNotFound,
		Error: "no such admin route: " + c.Request().Method + " " + c.Request().URL.Path})
}

// echoError answers the errors echo raises itself (no route, wrong method) as {error, code}.
func (a *api) echoError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := http.StatusInternalServerError, ErrorBody{Error: "internal error", Code: msg.CodeInternal}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		body.Error = http.StatusText(status)
		if m, ok := he.Message.(string); ok && m != "" {
			body.Error = m
		}
		switch status {
		case http.StatusNotFound:
			body.Code = CodeNotFound
		case http.StatusMethodNotAllowed:
			body.Code = CodeMethodNotAllowed
			body.Error = "method " + c.Request().Method + " not allowed on " + c.Request().URL.Path
		default:
			body.Code = msg.Code(status * 10)
		}
	} else {
		a.log.Error("http handler error", "path", c.Path(), "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = writeError(c, status, body)
}
