package gateway

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
)

// Buffer sizes of an upgraded connection. The HTTP server's are 4 KiB each and the WebSocket
// library keeps whichever it is handed for the connection's whole life, the read buffer held
// by the reader while it waits. Protocol frames are small JSON (most under 512 bytes), so
// these hold nearly every frame whole; a larger one (a CHANNEL_JOIN with its SDP offer, a
// CHANNEL_LIST answer) only takes another read or write system call.
const (
	readBufferBytes  = 1 << 10
	writeBufferBytes = 2 << 10
)

// rawConnKeeper wraps the ResponseWriter handed to websocket.Accept. It keeps the hijacked TCP
// connection, so that the gateway can cut a close handshake short (conn.close): the library's
// CloseNow waits for a Close already in progress instead of interrupting it. And it hands the
// library buffers of the sizes above instead of the HTTP server's.
type rawConnKeeper struct {
	http.ResponseWriter
	conn net.Conn // set by Hijack
}

// Hijack hijacks the underlying connection and remembers it.
func (h *rawConnKeeper) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("hijack: %T is not an http.Hijacker", h.ResponseWriter)
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = c
	// Bytes the client sent after its upgrade request (frames it did not wait to send) are
	// in the HTTP server's read buffer: keep that one then, rather than lose them.
	if brw.Reader.Buffered() == 0 && brw.Writer.Buffered() == 0 {
		brw = bufio.NewReadWriter(bufio.NewReaderSize(c, readBufferBytes), bufio.NewWriterSize(c, writeBufferBytes))
	}
	return c, brw, nil
}
