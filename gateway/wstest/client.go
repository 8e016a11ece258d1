// Package wstest is a small WebSocket client for tests that speak mini-livechat's signaling
// protocol (docs/protocol.md) to a real server: dial, IDENTIFY, send requests, and wait for frames
// with timeouts. Failures are reported on the testing.TB the client was made with, so a test reads
// as a conversation:
//
//	c := wstest.Dial(t, "ws://"+addr+"/ws")
//	defer c.Close()
//	c.Identify("alice", tok, -1)
//	ack := c.Request(11, map[string]any{"channel_id": "CH_0001"})
//	c.Await(110) // FLOOR_GRANTED
//
// One goroutine per client reads frames into a buffered channel, so a timed-out wait never
// tears the connection down (the library's Read would), and Close stops that goroutine.
package wstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// DefaultTimeout bounds every wait unless SetTimeout changes it.
const DefaultTimeout = 5 * time.Second

// Opcodes the helpers below use; the full table lives in package gateway.
const (
	opHello    = 0
	opIdentify = 3
	opReady    = 4
	opAck      = 200
	opError    = 201
)

// Frame is one server frame: the opcode and its raw `d`.
type Frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
}

// Decode unmarshals the frame's `d` into v.
func (f Frame) Decode(v any) error { return json.Unmarshal(f.D, v) }

// Map returns `d` as a generic map (nil when it is not an object).
func (f Frame) Map() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(f.D, &m)
	return m
}

func (f Frame) String() string { return fmt.Sprintf("op %d %s", f.Op, f.D) }

// Ready is the READY payload.
type Ready struct {
	SessionID         string `json:"session_id"`
	UserID            string `json:"user_id"`
	Priority          int    `json:"priority"`
	HeartbeatInterval int64  `json:"heartbeat_interval"`
}

// Closed describes how the server closed the connection.
type Closed struct {
	Code   websocket.StatusCode
	Reason string
	Err    error // the read error that ended the connection
}

// Client is one test connection. Its methods must be called from the test's goroutine.
type Client struct {
	tb      testing.TB
	conn    *websocket.Conn
	frames  chan Frame
	done    chan struct{} // closed when the read goroutine ends
	closed  Closed        // valid after done
	timeout time.Duration
	nonce   atomic.Int64
	// held keeps the frames RequestErr read past while it waited for its answer (events
	// that raced ahead of the ACK); Next returns them first, so no event is lost.
	held []Frame

	// HeartbeatInterval is HELLO's heartbeat_interval in milliseconds.
	HeartbeatInterval int64
}

// Dial connects to url (ws://host:port/ws), reads HELLO and returns the client. It fails the
// test when the server cannot be reached or does not say HELLO first.
func Dial(tb testing.TB, url string) *Client {
	tb.Helper()
	c, err := DialErr(url, nil)
	if err != nil {
		tb.Fatalf("wstest: %v", err)
	}
	c.tb = tb
	return c
}

// DialErr is Dial without a testing.TB, for benchmarks and load tools that handle errors
// themselves; opts may set headers such as Origin. The returned client reports wait failures
// through its *Err methods only.
func DialErr(url string, opts *websocket.DialOptions) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &Client{conn: conn, frames: make(chan Frame, 1024), done: make(chan struct{}), timeout: DefaultTimeout}
	go c.readLoop()
	f, err := c.NextErr()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("wait for HELLO: %w", err)
	}
	if f.Op != opHello {
		c.Close()
		return nil, fmt.Errorf("first frame is %v, want HELLO", f)
	}
	var hello struct {
		HeartbeatInterval int64 `json:"heartbeat_interval"`
	}
	if err := f.Decode(&hello); err != nil {
		c.Close()
		return nil, fmt.Errorf("decode HELLO: %w", err)
	}
	c.HeartbeatInterval = hello.HeartbeatInterval
	return c, nil
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.closed = Closed{Code: websocket.CloseStatus(err), Err: err}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				c.closed.Reason = ce.Reason
			}
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			f = Frame{Op: -1, D: json.RawMessage(strconv.Quote(string(data)))}
		}
		select {
		case c.frames <- f:
		default:
			// The test stopped reading; dropping keeps the read loop responsive to Close.
		}
	}
}

// SetTimeout changes how long waits last.
func (c *Client) SetTimeout(d time.Duration) { c.timeout = d }

// Conn exposes the underlying connection, for tests that write raw frames.
func (c *Client) Conn() *websocket.Conn { return c.conn }

// Close closes the connection normally and waits for the read goroutine to end.
func (c *Client) Close() {
	_ = c.conn.Close(websocket.StatusNormalClosure, "test done")
	<-c.done
}

// Drop ends the connection without a close handshake (like a vanished device) and waits for
// the read goroutine to end.
func (c *Client) Drop() {
	_ = c.conn.CloseNow()
	<-c.done
}

// SendRaw writes one text frame as is.
func (c *Client) SendRaw(data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, data)
}

// Send writes {"op": op, "d": d}. It fails the test on a write error.
func (c *Client) Send(op int, d any) {
	c.tb.Helper()
	if err := c.SendErr(op, d); err != nil {
		c.tb.Fatalf("wstest: send op %d: %v", op, err)
	}
}

// SendErr is Send returning the error.
func (c *Client) SendErr(op int, d any) error {
	b, err := json.Marshal(struct {
		Op int `json:"op"`
		D  any `json:"d"`
	}{op, d})
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// NextErr waits for the next frame.
func (c *Client) NextErr() (Frame, error) { return c.NextErrWithin(c.timeout) }

// ClosedInfo reports how the connection ended, once it has.
func (c *Client) ClosedInfo() (Closed, bool) {
	select {
	case <-c.done:
		return c.closed, true
	default:
		return Closed{}, false
	}
}

// NextErrWithin waits up to d for the next frame.
func (c *Client) NextErrWithin(d time.Duration) (Frame, error) {
	if len(c.held) > 0 {
		f := c.held[0]
		c.held = c.held[1:]
		return f, nil
	}
	return c.receive(d)
}

// receive waits up to d for the next frame from the connection, past any held ones.
func (c *Client) receive(d time.Duration) (Frame, error) {
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
		return Frame{}, fmt.Errorf("connection closed (%d %q): %w", c.closed.Code, c.closed.Reason, c.closed.Err)
	case <-t.C:
		return Frame{}, fmt.Errorf("no frame within %v", d)
	}
}

// Next waits for the next frame, failing the test on timeout or close.
func (c *Client) Next() Frame {
	c.tb.Helper()
	f, err := c.NextErr()
	if err != nil {
		c.tb.Fatalf("wstest: %v", err)
	}
	return f
}

// Expect waits for the next frame and fails the test unless its opcode is op.
func (c *Client) Expect(op int) Frame {
	c.tb.Helper()
	f := c.Next()
	if f.Op != op {
		c.tb.Fatalf("wstest: got %v, want op %d", f, op)
	}
	return f
}

// AwaitErr reads frames until one has opcode op, skipping the others (at most 1000 frames).
func (c *Client) AwaitErr(op int) (Frame, error) {
	for i := 0; i < 1000; i++ {
		f, err := c.NextErr()
		if err != nil {
			return Frame{}, fmt.Errorf("await op %d: %w", op, err)
		}
		if f.Op == op {
			return f, nil
		}
	}
	return Frame{}, fmt.Errorf("await op %d: not among 1000 frames", op)
}

// Await reads frames until one has opcode op, skipping the others.
func (c *Client) Await(op int) Frame {
	c.tb.Helper()
	f, err := c.AwaitErr(op)
	if err != nil {
		c.tb.Fatalf("wstest: %v", err)
	}
	return f
}

// ExpectNone fails the test if a frame arrives within d.
func (c *Client) ExpectNone(d time.Duration) {
	c.tb.Helper()
	if len(c.held) > 0 {
		c.tb.Fatalf("wstest: unexpected frame %v", c.held[0])
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f := <-c.frames:
		c.tb.Fatalf("wstest: unexpected frame %v", f)
	case <-t.C:
	}
}

// ExpectClosed waits for the server to close the connection (frames before the close are
// skipped) and returns the close code and reason.
func (c *Client) ExpectClosed() Closed {
	c.tb.Helper()
	c.held = nil
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	for {
		select {
		case <-c.frames:
		case <-c.done:
			return c.closed
		case <-t.C:
			c.tb.Fatalf("wstest: connection still open after %v", c.timeout)
			return Closed{}
		}
	}
}

// IdentifyErr sends IDENTIFY (priority < 0 leaves it out) and waits for READY or ERROR.
func (c *Client) IdentifyErr(userID, token string, priority int) (Ready, Frame, error) {
	d := map[string]any{"user_id": userID, "token": token}
	if priority >= 0 {
		d["priority"] = priority
	}
	if err := c.SendErr(opIdentify, d); err != nil {
		return Ready{}, Frame{}, err
	}
	f, err := c.NextErr()
	if err != nil {
		return Ready{}, f, err
	}
	if f.Op != opReady {
		return Ready{}, f, fmt.Errorf("IDENTIFY %s answered %v", userID, f)
	}
	var r Ready
	err = f.Decode(&r)
	return r, f, err
}

// Identify sends IDENTIFY and fails the test unless READY comes back.
func (c *Client) Identify(userID, token string, priority int) Ready {
	c.tb.Helper()
	r, _, err := c.IdentifyErr(userID, token, priority)
	if err != nil {
		c.tb.Fatalf("wstest: %v", err)
	}
	return r
}

// RequestErr sends op with d plus a fresh nonce and waits for the ACK or ERROR carrying that
// nonce. Frames that arrive before it (events racing ahead of the answer) are held for Next.
func (c *Client) RequestErr(op int, d map[string]any) (Frame, error) {
	nonce := "n" + strconv.FormatInt(c.nonce.Add(1), 10)
	body := make(map[string]any, len(d)+1)
	for k, v := range d {
		body[k] = v
	}
	body["nonce"] = nonce
	if err := c.SendErr(op, body); err != nil {
		return Frame{}, err
	}
	for i := 0; i < 1000; i++ {
		f, err := c.receive(c.timeout)
		if err != nil {
			return Frame{}, fmt.Errorf("await answer to op %d: %w", op, err)
		}
		var tag struct {
			Nonce string `json:"nonce"`
		}
		if (f.Op == opAck || f.Op == opError) && f.Decode(&tag) == nil && tag.Nonce == nonce {
			return f, nil
		}
		c.held = append(c.held, f)
	}
	return Frame{}, fmt.Errorf("no answer to op %d among 1000 frames", op)
}

// Request sends op and returns its ACK, failing the test on ERROR or timeout.
func (c *Client) Request(op int, d map[string]any) Frame {
	c.tb.Helper()
	f, err := c.RequestErr(op, d)
	if err != nil {
		c.tb.Fatalf("wstest: %v", err)
	}
	if f.Op != opAck {
		c.tb.Fatalf("wstest: op %d answered %v, want ACK", op, f)
	}
	return f
}

// RequestError sends op, expects an ERROR and returns its code.
func (c *Client) RequestError(op int, d map[string]any) int {
	c.tb.Helper()
	f, err := c.RequestErr(op, d)
	if err != nil {
		c.tb.Fatalf("wstest: %v", err)
	}
	if f.Op != opError {
		c.tb.Fatalf("wstest: op %d answered %v, want ERROR", op, f)
	}
	var e struct {
		Code int `json:"code"`
	}
	_ = f.Decode(&e)
	return e.Code
}
