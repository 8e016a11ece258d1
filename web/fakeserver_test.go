package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/web"
)

// fakeServer speaks just enough of the signaling protocol (docs/protocol.md, docs/floor-control.md)
// to drive the page where the real server cannot easily be made to misbehave: it can drop every
// connection (to test reconnect) and it refuses SDP offers with 2006 (to test signaling-only
// joins). It serves the real embedded page. Test code only; the real server is tested elsewhere.
type fakeServer struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server

	mu       sync.Mutex
	conns    map[*fakeConn]bool
	members  map[string]map[string]*fakeConn // channel → user → conn
	holder   map[string]string
	identify int // IDENTIFY frames seen, for reconnect tests

	// media answers offers when set; without it offers are refused with 2006.
	media *fakeMedia
}

type fakeConn struct {
	ws    *websocket.Conn
	user  string
	close websocket.StatusCode // set by handle: close with it after the frame
}

var fakeChannels = []string{"CH_0001", "CH_0002"}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{
		t:       t,
		secret:  []byte("fake-secret"),
		conns:   map[*fakeConn]bool{},
		members: map[string]map[string]*fakeConn{},
		holder:  map[string]string{},
	}
	for _, id := range fakeChannels {
		f.members[id] = map[string]*fakeConn{}
	}
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("/ws", f.serveWS)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.dropAll(websocket.StatusGoingAway, "test over")
		f.srv.Close()
	})
	return f
}

// url is the page address that signs in as user with a token allowing maxPriority.
func (f *fakeServer) url(user string, maxPriority int) string {
	tok, err := token.Mint(f.secret, user, maxPriority, time.Hour, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return f.srv.URL + "/?user=" + user + "&token=" + tok
}

// dropAll closes every connection as a crashing or restarting server would.
func (f *fakeServer) dropAll(code websocket.StatusCode, reason string) {
	f.mu.Lock()
	conns := make([]*fakeConn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	for _, c := range conns {
		c.ws.Close(code, reason)
	}
}

// isMember reports whether user is in channel (by a live connection).
func (f *fakeServer) isMember(channel, user string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.members[channel][user] != nil
}

func (f *fakeServer) identifies() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.identify
}

func (f *fakeServer) send(c *fakeConn, op int, d any) {
	b, _ := json.Marshal(map[string]any{"op": op, "d": d})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, b)
}

func (f *fakeServer) ack(c *fakeConn, op int, d map[string]any, data map[string]any) {
	out := map[string]any{"req_op": op}
	if n, ok := d["nonce"]; ok {
		out["nonce"] = n
	}
	for k, v := range data {
		out[k] = v
	}
	f.send(c, 200, out)
}

func (f *fakeServer) fail(c *fakeConn, op int, d map[string]any, code int, reason string) {
	out := map[string]any{"req_op": op, "code": code, "reason": reason}
	if n, ok := d["nonce"]; ok {
		out["nonce"] = n
	}
	f.send(c, 201, out)
}

// channelObject is the channel object of docs/protocol.md; callers hold f.mu.
func (f *fakeServer) channelObject(id string) map[string]any {
	floor := map[string]any{"state": "idle", "holder": nil, "priority": 0, "since": nil}
	if h := f.holder[id]; h != "" {
		floor = map[string]any{"state": "taken", "holder": h, "priority": 100, "since": nil}
	}
	return map[string]any{"channel_id": id, "freq": id[3:], "channel_name": "Fake " + id, "capacity": 20,
		"member_count": len(f.members[id]), "created_at": "2026-01-01T00:00:00Z", "floor": floor}
}

// fanout sends to every member of a channel but skip; callers hold f.mu.
func (f *fakeServer) fanout(ch string, skip *fakeConn, op int, d any) {
	for _, c := range f.members[ch] {
		if c != skip {
			f.send(c, op, d)
		}
	}
}

// listeners are the members of ch that hear from: everyone else while from holds the floor,
// nobody otherwise.
func (f *fakeServer) listeners(ch, from string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holder[ch] != from {
		return nil
	}
	var out []string
	for u := range f.members[ch] {
		if u != from {
			out = append(out, u)
		}
	}
	return out
}

func (f *fakeServer) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c := &fakeConn{ws: ws}
	f.mu.Lock()
	f.conns[c] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		for ch, m := range f.members {
			if m[c.user] == c {
				delete(m, c.user)
				if f.media != nil {
					f.media.close(ch, c.user)
				}
				if f.holder[ch] == c.user {
					delete(f.holder, ch)
					f.fanout(ch, nil, 113, map[string]any{"channel_id": ch})
				}
				f.fanout(ch, nil, 100, map[string]any{"channel_id": ch, "event": "leave", "user_id": c.user})
			}
		}
		f.mu.Unlock()
		ws.CloseNow()
	}()
	f.send(c, 0, map[string]any{"heartbeat_interval": 10000})
	for {
		_, data, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		var frame struct {
			Op int            `json:"op"`
			D  map[string]any `json:"d"`
		}
		if json.Unmarshal(data, &frame) != nil {
			f.fail(c, 0, nil, 1004, "malformed JSON")
			continue
		}
		f.handle(c, frame.Op, frame.D)
		if c.close != 0 {
			ws.Close(c.close, "invalid token")
			return
		}
	}
}

func (f *fakeServer) handle(c *fakeConn, op int, d map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	str := func(k string) string { s, _ := d[k].(string); return s }
	ch := str("channel_id")
	switch op {
	case 1:
		f.send(c, 2, map[string]any{})
	case 3:
		claims, err := token.Verify(f.secret, str("token"), time.Now())
		if err != nil || claims.UserID != str("user_id") {
			f.fail(c, op, d, 1001, "invalid token")
			c.close = 4001
			return
		}
		f.identify++
		c.user = claims.UserID
		f.send(c, 4, map[string]any{"session_id": "s1", "user_id": c.user, "priority": min(100, claims.MaxPriority), "heartbeat_interval": 10000})
	case 15:
		var list []map[string]any
		for _, id := range fakeChannels {
			list = append(list, f.channelObject(id))
		}
		f.ack(c, op, d, map[string]any{"channels": list})
	case 11:
		if _, ok := f.members[ch]; !ok {
			f.fail(c, op, d, 2000, "no such channel")
			return
		}
		answer := ""
		if offer := str("sdp_offer"); offer != "" {
			if f.media == nil {
				f.fail(c, op, d, 2006, "media plane not available on this server")
				return
			}
			var err error
			answer, err = f.media.open(ch, c.user, offer, func(from string) []string { return f.listeners(ch, from) })
			if err != nil {
				f.fail(c, op, d, 2006, err.Error())
				return
			}
		}
		f.members[ch][c.user] = c
		var active []map[string]any
		users := make([]string, 0)
		for u := range f.members[ch] {
			users = append(users, u)
		}
		sort.Strings(users)
		for _, u := range users {
			active = append(active, map[string]any{"user_id": u, "priority": 100})
		}
		obj := f.channelObject(ch)
		f.ack(c, op, d, map[string]any{"channel_id": ch, "active_members": active, "floor": obj["floor"], "sdp_answer": answer})
		f.fanout(ch, c, 100, map[string]any{"channel_id": ch, "event": "join", "user_id": c.user, "channel": obj})
	case 12:
		delete(f.members[ch], c.user)
		if f.media != nil {
			f.media.close(ch, c.user)
		}
		f.ack(c, op, d, map[string]any{"channel_id": ch})
	case 20:
		content := str("content")
		if content == "" {
			f.fail(c, op, d, 3000, "empty message")
			return
		}
		f.ack(c, op, d, map[string]any{"message_id": "m1"})
		f.fanout(ch, nil, 101, map[string]any{"channel_id": ch, "message_id": "m1", "user_id": c.user,
			"content": content, "timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")})
	case 30:
		if h := f.holder[ch]; h != "" && h != c.user {
			f.send(c, 115, map[string]any{"channel_id": ch, "position": 1, "size": 1})
			return
		}
		f.holder[ch] = c.user
		f.send(c, 110, map[string]any{"channel_id": ch, "priority": 100, "max_duration_ms": 30000})
		f.fanout(ch, c, 112, map[string]any{"channel_id": ch, "user_id": c.user, "priority": 100})
	case 31:
		if f.holder[ch] == c.user {
			delete(f.holder, ch)
			f.fanout(ch, nil, 113, map[string]any{"channel_id": ch})
		}
	case 32:
		f.send(c, 116, map[string]any{"channel_id": ch})
	default:
		f.fail(c, op, d, 1003, "unknown op")
	}
}
