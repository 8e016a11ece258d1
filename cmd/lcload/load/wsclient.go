package load

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// The load tool is a client of the documented protocol (docs/protocol.md), written against
// it alone: its own frame structs, its own token minting, github.com/coder/websocket for the
// transport. None of the server's packages are imported, so that a bug shared by both ends
// cannot hide.

// Opcodes of docs/protocol.md the scenarios use.
const (
	opHello         = 0
	opHeartbeat     = 1
	opIdentify      = 3
	opReady         = 4
	opChannelCreate = 10
	opChannelJoin   = 11
	opChannelLeave  = 12
	opChannelDelete = 14
	opChatSend      = 20
	opFloorRequest  = 30
	opFloorRelease  = 31
	opFloorPing     = 32
	opMessageEvent  = 101
	opFloorGranted  = 110
	opFloorDeny     = 111
	opFloorIdle     = 113
	opFloorRevoke   = 114
	opFloorQueuePos = 115
	opFloorPong     = 116
	opAck           = 200
	opError         = 201
)

// defaultWait bounds every wait of a client unless setTimeout changes it.
const defaultWait = 5 * time.Second

// frame is one server frame: the opcode and its raw `d`.
type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
}

// Decode unmarshals the frame's `d` into v.
func (f frame) Decode(v any) error { return json.Unmarshal(f.D, v) }

func (f frame) String() string { return fmt.Sprintf("op %d %s", f.Op, f.D) }

// errorCode is the `code` of an ERROR frame (0 for any other frame).
func (f frame) errorCode() int {
	if f.Op != opError {
		return 0
	}
	var e struct {
		Code int `json:"code"`
	}
	_ = f.Decode(&e)
	return e.Code
}

// wsClient is one signaling session. One goroutine reads frames into a buffered channel, so a
// timed-out wait never tears the connection down; its methods are called from one goroutine
// (sendErr also from the heartbeater: the websocket Conn's Write is safe for that).
// It repeats the server's test client on purpose: sharing that code would let one bug hide in both.
type wsClient struct {
	conn    *websocket.Conn
	frames  chan frame
	done    chan struct{} // closed when the read goroutine ends
	closeCd websocket.StatusCode
	closeEr error // valid after done
	timeout time.Duration
	nonce   atomic.Int64
	// held keeps the frames requestErr read past while it waited for its answer (events that
	// raced ahead of the ACK); nextErr returns them first, so no event is lost.
	held []frame

	// HeartbeatInterval is HELLO's heartbeat_interval in milliseconds.
	HeartbeatInterval int64
}

// dialWS connects to url (ws://host:port/ws) and reads HELLO.
func dialWS(url string) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultWait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{conn: conn, frames: make(chan frame, 1024), done: make(chan struct{}), timeout: defaultWait}
	go c.readLoop()
	f, err := c.NextErr()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("wait for HELLO: %w", err)
	}
	var hello struct {
		HeartbeatInterval int64 `json:"heartbeat_interval"`
	}
	if f.Op != opHello || f.Decode(&hello) != nil {
		c.Close()
		return nil, fmt.Errorf("first frame is %v, want HELLO", f)
	}
	c.HeartbeatInterval = hello.HeartbeatInterval
	return c, nil
}

func (c *wsClient) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.closeCd, c.closeEr = websocket.CloseStatus(err), err
			return
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			f = frame{Op: -1, D: json.RawMessage(strconv.Quote(string(data)))}
		}
		select {
		case c.frames <- f:
		default:
			// Nobody reads this client's events (a listener that only listens): dropping
			// keeps the read loop responsive to Close, and the server's view unaffected.
		}
	}
}

// SetTimeout changes how long waits last.
func (c *wsClient) SetTimeout(d time.Duration) { c.timeout = d }

// Close closes the connection normally and waits for the read goroutine to end.
func (c *wsClient) Close() {
	_ = c.conn.Close(websocket.StatusNormalClosure, "lcload done")
	<-c.done
}

// Drop ends the connection without a close handshake (a vanished device) and waits for the
// read goroutine to end.
func (c *wsClient) Drop() {
	_ = c.conn.CloseNow()
	<-c.done
}

// SendErr writes {"op": op, "d": d}.
func (c *wsClient) SendErr(op int, d any) error {
	b, err := json.Marshal(struct {
		Op int `json:"op"`
		D  any `json:"d"`
	}{op, d})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// NextErr waits for the next frame (held ones first).
func (c *wsClient) NextErr() (frame, error) { return c.NextErrWithin(c.timeout) }

// NextErrWithin waits up to d for the next frame (held ones first).
func (c *wsClient) NextErrWithin(d time.Duration) (frame, error) {
	if len(c.held) > 0 {
		f := c.held[0]
		c.held = c.held[1:]
		return f, nil
	}
	return c.receive(d)
}

// receive waits up to d for the next frame from the connection, past any held ones.
func (c *wsClient) receive(d time.Duration) (frame, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f := <-c.frames:
		return f, nil
	case <-c.done:
		select {
		case f := <-c.frames:
			return f, nil
		default:
		}
		return frame{}, fmt.Errorf("connection closed (%d): %w", c.closeCd, c.closeEr)
	case <-t.C:
		return frame{}, fmt.Errorf("no frame within %v", d)
	}
}

// drain drops every frame received so far (held ones too) without waiting.
func (c *wsClient) drain() {
	c.held = nil
	for {
		select {
		case <-c.frames:
		default:
			return
		}
	}
}

// AwaitErr reads frames until one has opcode op, skipping the others (at most 1000 frames).
func (c *wsClient) AwaitErr(op int) (frame, error) {
	for i := 0; i < 1000; i++ {
		f, err := c.NextErr()
		if err != nil {
			return frame{}, fmt.Errorf("await op %d: %w", op, err)
		}
		if f.Op == op {
			return f, nil
		}
	}
	return frame{}, fmt.Errorf("await op %d: not among 1000 frames", op)
}

// identifyErr sends IDENTIFY (priority < 0 leaves it out) and waits for READY.
func (c *wsClient) identifyErr(userID, token string, priority int) error {
	d := map[string]any{"user_id": userID, "token": token}
	if priority >= 0 {
		d["priority"] = priority
	}
	if err := c.SendErr(opIdentify, d); err != nil {
		return err
	}
	f, err := c.NextErr()
	if err != nil {
		return err
	}
	if f.Op != opReady {
		return fmt.Errorf("IDENTIFY %s answered %v", userID, f)
	}
	return nil
}

// RequestErr sends op with d plus a fresh nonce and waits for the ACK or ERROR carrying that
// nonce. Frames that arrive before it are held for NextErr.
func (c *wsClient) RequestErr(op int, d map[string]any) (frame, error) {
	nonce := "n" + strconv.FormatInt(c.nonce.Add(1), 10)
	body := make(map[string]any, len(d)+1)
	for k, v := range d {
		body[k] = v
	}
	body["nonce"] = nonce
	if err := c.SendErr(op, body); err != nil {
		return frame{}, err
	}
	for i := 0; i < 1000; i++ {
		f, err := c.receive(c.timeout)
		if err != nil {
			return frame{}, fmt.Errorf("await answer to op %d: %w", op, err)
		}
		var tag struct {
			Nonce string `json:"nonce"`
		}
		if (f.Op == opAck || f.Op == opError) && f.Decode(&tag) == nil && tag.Nonce == nonce {
			return f, nil
		}
		c.held = append(c.held, f)
	}
	return frame{}, fmt.Errorf("no answer to op %d among 1000 frames", op)
}

// mintToken signs an IDENTIFY token as docs/protocol.md describes it: HS256 with the server's
// secret, sub = the user id, exp, and max_priority.
func mintToken(secret []byte, user string, maxPriority int, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{"sub": user, "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "max_priority": maxPriority}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint token for %s: %w", user, err)
	}
	return s, nil
}
