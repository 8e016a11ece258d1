package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client is a typed client of the HTTP API, used by lcadmin and by tests. The zero HTTP field
// means http.DefaultClient; callers bound each call with the context.
type Client struct {
	BaseURL string // e.g. "http://127.0.0.1:8080", no trailing slash needed
	Token   string // admin bearer token; empty sends none
	HTTP    *http.Client
}

// APIError is an error answer of the server: the HTTP status and the server's ErrorBody.
type APIError struct {
	Status int
	ErrorBody
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s (code %d)", e.Status, http.StatusText(e.Status), e.ErrorBody.Error, e.Code)
}

// UnreachableError reports that no HTTP answer came back at all (refused, reset, timed out).
type UnreachableError struct {
	BaseURL string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach server at %s: %v", e.BaseURL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Paths of the routes, escaped, for callers that want the raw JSON (Client.Raw).

// StatusPath is GET /admin/status.
func StatusPath() string { return pathStatus }

// UsersPath is GET /admin/users.
func UsersPath() string { return pathUsers }

// UserPath is GET /admin/users/{id}.
func UserPath(id string) string { return pathUsers + "/" + url.PathEscape(id) }

// ChannelsPath is GET /admin/channels.
func ChannelsPath() string { return pathAdminChans }

// ChannelPath is GET /admin/channels/{id}.
func ChannelPath(id string) string { return pathAdminChans + "/" + url.PathEscape(id) }

// PeersPath is GET /admin/peers.
func PeersPath() string { return pathPeers }

// PeerPath is GET /admin/peers/{ufrag}.
func PeerPath(ufrag string) string { return pathPeers + "/" + url.PathEscape(ufrag) }

// FloorRevokePath is POST /admin/floor-revoke/{id}.
func FloorRevokePath(channelID string) string {
	return pathFloorRevoke + "/" + url.PathEscape(channelID)
}

// BurstsPath is GET /admin/bursts with its query; zero fields are left out.
func BurstsPath(channelID string, since time.Time, limit int) string {
	q := url.Values{}
	if channelID != "" {
		q.Set("channel", channelID)
	}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return pathBursts
	}
	return pathBursts + "?" + q.Encode()
}

// Bursts is GET /admin/bursts.
func (c *Client) Bursts(ctx context.Context, channelID string, since time.Time, limit int) (*BurstList, error) {
	return get[BurstList](ctx, c, BurstsPath(channelID, since, limit))
}

// Status is GET /admin/status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	return get[Status](ctx, c, StatusPath())
}

// Users is GET /admin/users.
func (c *Client) Users(ctx context.Context) (*UserList, error) {
	return get[UserList](ctx, c, UsersPath())
}

// User is GET /admin/users/{id}.
func (c *Client) User(ctx context.Context, id string) (*UserDetail, error) {
	return get[UserDetail](ctx, c, UserPath(id))
}

// Channels is GET /admin/channels.
func (c *Client) Channels(ctx context.Context) (*ChannelList, error) {
	return get[ChannelList](ctx, c, ChannelsPath())
}

// Channel is GET /admin/channels/{id}: the detail with members, queue and peers.
func (c *Client) Channel(ctx context.Context, id string) (*AdminChannelDetail, error) {
	return get[AdminChannelDetail](ctx, c, ChannelPath(id))
}

// Peers is GET /admin/peers.
func (c *Client) Peers(ctx context.Context) (*PeerList, error) {
	return get[PeerList](ctx, c, PeersPath())
}

// Peer is GET /admin/peers/{ufrag}.
func (c *Client) Peer(ctx context.Context, ufrag string) (*PeerDetail, error) {
	return get[PeerDetail](ctx, c, PeerPath(ufrag))
}

// RevokeFloor is POST /admin/floor-revoke/{id}.
func (c *Client) RevokeFloor(ctx context.Context, channelID string) (*RevokeResult, error) {
	raw, err := c.Raw(ctx, http.MethodPost, FloorRevokePath(channelID))
	if err != nil {
		return nil, err
	}
	return decode[RevokeResult](raw, FloorRevokePath(channelID))
}

func get[T any](ctx context.Context, c *Client, path string) (*T, error) {
	raw, err := c.Raw(ctx, http.MethodGet, path)
	if err != nil {
		return nil, err
	}
	return decode[T](raw, path)
}

func decode[T any](raw []byte, path string) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("decode answer of %s: %w", path, err)
	}
	return v, nil
}

// maxBody bounds what the client reads from one answer.
const maxBody = 16 << 20

// Raw sends one request and returns the body of a 2xx answer as the server sent it. Other
// statuses become *APIError, transport failures *UnreachableError.
func (c *Client) Raw(ctx context.Context, method, path string) ([]byte, error) {
	base := strings.TrimRight(c.BaseURL, "/")
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &UnreachableError{BaseURL: base, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &UnreachableError{BaseURL: base, Err: fmt.Errorf("read answer of %s: %w", path, err)}
	}
	if resp.StatusCode/100 != 2 {
		return nil, apiError(resp.StatusCode, body)
	}
	return body, nil
}

// apiError reads an error answer; bodies that are not an ErrorBody (a proxy's HTML page,
// echo's own {"message":…}) still give a readable message.
func apiError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var eb struct {
		ErrorBody
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &eb) == nil {
		e.ErrorBody = eb.ErrorBody
		if e.ErrorBody.Error == "" {
			e.ErrorBody.Error = eb.Message
		}
	}
	if e.ErrorBody.Error == "" {
		e.ErrorBody.Error = http.StatusText(status)
	}
	return e
}
