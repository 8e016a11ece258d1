package gateway

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
)

// nhooyr.io/websocket v1.8.17 writes a second close frame when the client answers the server's
// close frame (it echoes every close it reads, even the reply to its own; upstream issue
// coder/websocket#448). RFC 6455 §5.5.1 allows one close frame per side, and Chromium fails
// such a connection with "Close received after close", so a page would see code 1006 instead
// of ours (4001 bad token, 4002 replaced, …). closeOnceWriter sits between the library and the
// TCP connection and drops everything the server writes after its first close frame.

// hijackFilter wraps the ResponseWriter handed to websocket.Accept so that the hijacked
// connection writes through a closeOnceWriter. It keeps the raw connection, so that the
// gateway can cut a close handshake short (conn.close).
type hijackFilter struct {
	http.ResponseWriter
	conn net.Conn // set by Hijack
}

// Hijack hijacks the underlying connection and wraps its writing side.
func (h *hijackFilter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("hijack: %T is not an http.Hijacker", h.ResponseWriter)
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http flushed the 101 response before handing the connection over, so the new
	// buffered writer starts at the first WebSocket frame.
	fc := &closeOnceConn{Conn: c}
	h.conn = c
	return fc, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(fc, brw.Writer.Size())), nil
}

// closeOnceConn is a net.Conn whose writes pass through a closeOnceWriter.
type closeOnceConn struct {
	net.Conn
	w closeOnceWriter
}

func (c *closeOnceConn) Write(p []byte) (int, error) {
	keep := c.w.scan(p)
	if keep > 0 {
		if _, err := c.Conn.Write(p[:keep]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// closeOnceWriter follows the server → client frame stream (RFC 6455 §5.2; server frames are
// unmasked) across arbitrary write boundaries and finds where the first close frame ends.
type closeOnceWriter struct {
	hdr     [14]byte // the frame header being read
	hdrLen  int      // bytes of hdr filled
	payload uint64   // payload bytes left in the current frame
	inClose bool     // the current frame is a close frame
	done    bool     // the first close frame has been written in full
}

// scan consumes p and reports how many of its leading bytes may be written: all of them until
// the first close frame is complete, none afterwards.
func (w *closeOnceWriter) scan(p []byte) int {
	i := 0
	for i < len(p) && !w.done {
		if w.payload > 0 {
			n := uint64(len(p) - i)
			if n > w.payload {
				n = w.payload
			}
			w.payload -= n
			i += int(n)
		} else {
			w.hdr[w.hdrLen] = p[i]
			w.hdrLen++
			i++
			need, ok := w.headerSize()
			if !ok || w.hdrLen < need {
				continue
			}
			w.inClose = w.hdr[0]&0x0f == 0x8
			w.payload = w.payloadLen()
			w.hdrLen = 0
		}
		if w.payload == 0 && w.hdrLen == 0 && w.inClose {
			w.done = true
		}
	}
	return i
}

// headerSize reports the full header length once enough of it is known.
func (w *closeOnceWriter) headerSize() (int, bool) {
	if w.hdrLen < 2 {
		return 0, false
	}
	n := 2
	switch w.hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if w.hdr[1]&0x80 != 0 { // masked: never from a server, but keep the stream in step
		n += 4
	}
	return n, true
}

func (w *closeOnceWriter) payloadLen() uint64 {
	switch l := w.hdr[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(w.hdr[2:4]))
	case 127:
		return binary.BigEndian.Uint64(w.hdr[2:10])
	default:
		return uint64(l)
	}
}
