package gateway

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
)

// rawConnKeeper wraps the ResponseWriter handed to websocket.Accept and keeps the hijacked TCP
// connection, so that the gateway can cut a close handshake short (conn.close): the library's
// CloseNow waits for a Close already in progress instead of interrupting it.
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
	return c, brw, nil
}
