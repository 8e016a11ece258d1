package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// ErrorBody is the JSON body of every error the HTTP API answers: a sentence for people and a code
// for programs. Code is a protocol code of docs/protocol.md (2000 no such channel, 1004 malformed
// id, …), one the actors answer only here (2100 no such user, 9001 unavailable, in actors/msg), or
// one of the API's own below (2101 no such peer, 4040, 4050).
type ErrorBody struct {
	Error string   `json:"error"`
	Code  msg.Code `json:"code"`
}

// Codes of the HTTP API's own refusals, which have no actor behind them.
const (
	// CodeUnauthorized answers an /admin request without the right bearer token (HTTP 401).
	CodeUnauthorized msg.Code = msg.CodeInvalidToken
	// CodeForbidden answers an /admin request from a non-loopback client while no admin token
	// is configured (HTTP 403).
	CodeForbidden msg.Code = msg.CodeNotPermitted
	// CodeNotFound answers a path the API does not have (HTTP 404).
	CodeNotFound msg.Code = 4040
	// CodeMethodNotAllowed answers a known path asked with the wrong method (HTTP 405).
	CodeMethodNotAllowed msg.Code = 4050
	// CodeNoSuchPeer answers a look-up of a media peer by an unknown server ufrag (HTTP 404);
	// the Backend returns it, no actor does.
	CodeNoSuchPeer msg.Code = 2101
)

// statusOf is the one table from errors to HTTP statuses. Backend errors are *msg.Error values
// (possibly wrapped) or context errors; anything else is an internal error.
func statusOf(err error) (int, ErrorBody) {
	var me *msg.Error
	switch {
	case errors.As(err, &me):
		return statusOfCode(me.Code), ErrorBody{Error: me.Reason, Code: me.Code}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable,
			ErrorBody{Error: "server did not answer in time", Code: msg.CodeUnavailable}
	default:
		return http.StatusInternalServerError, ErrorBody{Error: "internal error", Code: msg.CodeInternal}
	}
}

func statusOfCode(c msg.Code) int {
	switch c {
	case msg.CodeNoSuchChannel, msg.CodeNoSuchUser, CodeNoSuchPeer, msg.CodeNoHistory, msg.CodeNoSuchRecording, CodeNotFound:
		return http.StatusNotFound
	case msg.CodeMalformed:
		return http.StatusBadRequest
	case msg.CodeInvalidToken:
		return http.StatusUnauthorized
	case msg.CodeNotPermitted:
		return http.StatusForbidden
	case msg.CodeChannelExists, msg.CodeAlreadyJoined, msg.CodeNotJoined, msg.CodeChannelFull:
		return http.StatusConflict
	case msg.CodeRateLimited:
		return http.StatusTooManyRequests
	case msg.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
