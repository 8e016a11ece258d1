// Package msg holds the messages that mini-livechat's actors, the WebSocket gateway, the media
// plane and the admin API exchange. It imports no actor package, so every other package can
// depend on it without cycles.
//
// Naming: commands are imperative (JoinChannel, RequestFloor), events are past tense or named after
// the wire event they become (FloorGranted, ChannelEvent), replies end in Result. The messages
// have no JSON form: the gateway and the admin API map them onto their own wire structs, so the
// wire format lives at the edges and these types can change without changing it.
package msg

import "fmt"

// Code is an ERROR code of the WebSocket protocol (docs/protocol.md, "Error codes").
type Code int

// Error codes, grouped as the protocol groups them: 1xxx connection and authentication, 2xxx
// channels, 3xxx chat, 9xxx server.
const (
	CodeNotIdentified     Code = 1000
	CodeInvalidToken      Code = 1001
	CodeAlreadyIdentified Code = 1002
	CodeUnknownOp         Code = 1003
	CodeMalformed         Code = 1004
	CodeRateLimited       Code = 1005
	CodeFrameTooLarge     Code = 1006
	CodePriorityDenied    Code = 1007
	CodeNoSuchChannel     Code = 2000
	CodeChannelFull       Code = 2001
	CodeNotPermitted      Code = 2002
	CodeAlreadyJoined     Code = 2003
	CodeNotJoined         Code = 2004
	CodeChannelExists     Code = 2005
	CodeBadOffer          Code = 2006
	CodeChannelLimit      Code = 2007 // a channel cap or the creation rate (docs/protocol.md)
	CodeEmptyMessage      Code = 3000
	CodeMessageTooLong    Code = 3001
	CodeNotMember         Code = 3002
	CodeInternal          Code = 9000
)

// Error is a protocol error: a code from the table above and a reason a person can read.
// It is a Go error; the gateway sends it as an ERROR frame (adding req_op and nonce), the admin
// API as an error body.
type Error struct {
	Code   Code
	Reason string
}

// Errorf builds an *Error with a formatted reason.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Reason) }
