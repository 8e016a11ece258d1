package gateway

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wireFrame is one server → client WebSocket frame as it crossed the wire.
type wireFrame struct {
	opcode  byte
	payload []byte
}

func readWireFrame(r *bufio.Reader) (wireFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return wireFrame{}, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return wireFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return wireFrame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[1]&0x80 != 0 || n > 1<<20 {
		return wireFrame{}, errors.New("masked or oversized server frame")
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return wireFrame{opcode: h[0] & 0x0f, payload: p}, err
}

// rawUpgrade dials the gateway over plain TCP (10 s deadline, closed at the test's end) and
// returns the connection with the HTTP upgrade request to send on it.
func rawUpgrade(t *testing.T, e *env) (net.Conn, string) {
	t.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(e.url, "ws://"), "/ws")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return nc, "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// maskedFrame is a client frame (RFC 6455 §5.3) with the all-zero masking key.
func maskedFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode, 0x80 | byte(len(payload)), 0, 0, 0, 0} // payloads < 126 bytes
	return append(b, payload...)
}

// TestServerSendsOneCloseFrame: when a client answers the server's close frame, as browsers
// do, the server sends nothing more (RFC 6455 §5.5.1: one close frame per side). Chromium
// fails a connection that receives a second one ("Close received after close") and the page
// sees 1006 instead of the server's code.
func TestServerSendsOneCloseFrame(t *testing.T) {
	nc, req := rawUpgrade(t, newEnv(t, nil))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(nc)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if f, err := readWireFrame(r); err != nil || f.opcode != 0x1 { // HELLO
		t.Fatalf("first frame %v %v, want HELLO", f, err)
	}
	identify, _ := json.Marshal(map[string]any{"op": int(OpIdentify), "d": map[string]any{"user_id": "alice", "token": "not-a-jwt"}})
	if _, err := nc.Write(maskedFrame(0x1, identify)); err != nil {
		t.Fatal(err)
	}
	var closes [][]byte
	for {
		f, err := readWireFrame(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading frames: %v (close frames so far %q)", err, closes)
		}
		if f.opcode != 0x8 {
			continue
		}
		closes = append(closes, f.payload)
		if len(closes) == 1 { // answer the close with the same code, as a browser does
			if _, err := nc.Write(maskedFrame(0x8, f.payload[:2])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(closes) != 1 || len(closes[0]) < 2 || binary.BigEndian.Uint16(closes[0]) != 4001 {
		t.Fatalf("server sent close frames %q, want exactly one, code 4001", closes)
	}
}

// TestFramesSentWithTheUpgradeRequestAreRead: a client may send frames without waiting for
// the 101 answer; the bytes the HTTP server read ahead are the first the connection reads.
func TestFramesSentWithTheUpgradeRequestAreRead(t *testing.T) {
	nc, req := rawUpgrade(t, newEnv(t, nil))
	heartbeat, _ := json.Marshal(map[string]any{"op": int(OpHeartbeat), "d": map[string]any{}})
	if _, err := nc.Write(append([]byte(req), maskedFrame(0x1, heartbeat)...)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(nc)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	for _, want := range []Op{OpHello, OpHeartbeatAck} {
		f, err := readWireFrame(r)
		var env struct{ Op Op }
		if err == nil {
			err = json.Unmarshal(f.payload, &env)
		}
		if err != nil || env.Op != want {
			t.Fatalf("frame %s (%v), want op %d", f.payload, err, want)
		}
	}
}
