package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

// Limits of docs/protocol.md ("Frames", "Error codes") that the gateway checks at the edge, so that
// no malformed value reaches an actor.
const (
	maxPriority    = 255
	maxCapacity    = 10000
	maxStringField = 1024 // bytes of freq, channel_name, ufrag; the channel checks code points
)

// parseEnvelope splits a frame into its opcode and raw payload. A missing or null `d` is an
// empty object.
func parseEnvelope(data []byte) (Op, json.RawMessage, *msg.Error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return 0, nil, msg.Errorf(msg.CodeMalformed, "malformed frame: %s", jsonProblem(err))
	}
	if env.Op == nil {
		return 0, nil, msg.Errorf(msg.CodeMalformed, "malformed frame: missing op")
	}
	d := bytes.TrimSpace(env.D)
	if len(d) == 0 || bytes.Equal(d, []byte("null")) {
		d = []byte("{}")
	}
	return Op(*env.Op), d, nil
}

// leniently extracts the nonce of a payload that may be malformed, for the ERROR's echo.
func nonceOf(d json.RawMessage) string {
	var p struct {
		Nonce any `json:"nonce"`
	}
	if json.Unmarshal(d, &p) != nil {
		return ""
	}
	if s, ok := p.Nonce.(string); ok {
		return s
	}
	return ""
}

// decodePayload unmarshals d into v; the error is a 1004 naming the problem.
func decodePayload(op Op, d json.RawMessage, v any) *msg.Error {
	if d[0] != '{' {
		return msg.Errorf(msg.CodeMalformed, "%s: d must be an object", op)
	}
	if err := json.Unmarshal(d, v); err != nil {
		return msg.Errorf(msg.CodeMalformed, "%s: %s", op, jsonProblem(err))
	}
	return nil
}

// jsonProblem turns an encoding/json error into a short reason for a client.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %s must be %s", te.Field, typeName(te.Type.Kind().String()))
		}
		return "wrong JSON type at top level"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	}
	return "invalid JSON"
}

func typeName(kind string) string {
	switch kind {
	case "int", "int64", "uint32", "uint64", "float64":
		return "a number in range"
	case "ptr":
		return "a value of the documented type"
	}
	return "a " + kind
}

// identity is what an identified connection knows about its user.
type identity struct {
	userID      string
	priority    int
	maxPriority int
}

func requireID(op Op, field string, v *string) (string, *msg.Error) {
	if v == nil {
		return "", msg.Errorf(msg.CodeMalformed, "%s: missing %s", op, field)
	}
	if !msg.ValidID(*v) {
		return "", msg.Errorf(msg.CodeMalformed, "%s: %s must match [A-Za-z0-9_-]{1,64}", op, field)
	}
	return *v, nil
}

func requireString(op Op, field string, v *string) (string, *msg.Error) {
	if v == nil {
		return "", msg.Errorf(msg.CodeMalformed, "%s: missing %s", op, field)
	}
	if len(*v) > maxStringField {
		return "", msg.Errorf(msg.CodeMalformed, "%s: %s longer than %d bytes", op, field, maxStringField)
	}
	return *v, nil
}

func checkCapacity(op Op, c *int) *msg.Error {
	if c != nil && (*c < 1 || *c > maxCapacity) {
		return msg.Errorf(msg.CodeMalformed, "%s: capacity must be 1..%d", op, maxCapacity)
	}
	return nil
}

// decodeRequest turns the payload of an identified client's request into the typed request of
// actors/msg that the session forwards to the directory. call carries op, nonce and the user;
// the caller fills call.Session.
func decodeRequest(op Op, d json.RawMessage, who identity, call msg.Call) (any, *msg.Error) {
	switch op {
	case OpChannelCreate:
		var p ChannelCreatePayload
		if e := decodePayload(op, d, &p); e != nil {
			return nil, e
		}
		id, e := requireID(op, "channel_id", p.ChannelID)
		if e != nil {
			return nil, e
		}
		freq, e := requireString(op, "freq", p.Freq)
		if e != nil {
			return nil, e
		}
		name, e := requireString(op, "channel_name", p.ChannelName)
		if e != nil {
			return nil, e
		}
		if e := checkCapacity(op, p.Capacity); e != nil {
			return nil, e
		}
		spec := msg.ChannelSpec{ChannelID: id, Freq: freq, ChannelName: name}
		if p.Capacity != nil {
			spec.Capacity = *p.Capacity
		}
		return &msg.CreateChannel{Call: call, Spec: spec}, nil

	case OpChannelJoin:
		var p ChannelJoinPayload
		if e := decodePayload(op, d, &p); e != nil {
			return nil, e
		}
		id, e := requireID(op, "channel_id", p.ChannelID)
		if e != nil {
			return nil, e
		}
		req := &msg.JoinChannel{Call: call, ChannelID: id, Priority: who.priority, PrioritySet: true}
		if p.SSRC != nil {
			req.SSRC = *p.SSRC
		}
		if p.Ufrag != nil {
			if len(*p.Ufrag) > maxStringField {
				return nil, msg.Errorf(msg.CodeMalformed, "%s: ufrag too long", op)
			}
			req.Ufrag = *p.Ufrag
		}
		// The offer is parsed and validated here, on the connection's reader goroutine: a
		// bad one is refused with 2006 without reaching the channel, and the channel actor
		// spends no time on SDP text. An empty sdp_offer is a signaling-only join, as an
		// absent one.
		if p.SDPOffer != nil && *p.SDPOffer != "" {
			offer, perr := media.ParseOffer(*p.SDPOffer)
			if perr != nil {
				return nil, msg.BadOffer(perr)
			}
			req.Offer = offer
		}
		return req, nil

	case OpChannelLeave, OpChannelDelete, OpChannelInfo, OpFloorRelease, OpFloorPing:
		var p ChannelIDPayload
		if e := decodePayload(op, d, &p); e != nil {
			return nil, e
		}
		id, e := requireID(op, "channel_id", p.ChannelID)
		if e != nil {
			return nil, e
		}
		return channelIDRequest(op, call, id), nil

	case OpChannelUpdate:
		var p ChannelUpdatePayload
		if e := decodePayload(op, d, &p); e != nil {
			return nil, e
		}
		id, e := requireID(op, "channel_id", p.ChannelID)
		if e != nil {
			return nil, e
		}
		if p.ChannelName != nil && len(*p.ChannelName) > maxStringField {
			return nil, msg.Errorf(msg.CodeMalformed, "%s: channel_name longer than %d bytes", op, maxStringField)
		}
		if e := checkCapacity(op, p.Capacity); e != nil {
			return nil, e
		}
		return &msg.UpdateChannel{Call: call, ChannelID: id, ChannelName: p.ChannelName, Capacity: p.Capacity}, nil

	case OpChannelList:
		var p ChannelListPayload
		if e := decodePayload(op, d, &p); e != nil {
			return nil, e
		}
		return &msg.ListChannels{Call: call}, nil

	case OpMessageCreate:
		var p MessageCreatePayload
		if e := decodePayload(op, d, &p); e != nil {
			return nil, e
		}
		id, e := requireID(op, "channel_id", p.ChannelID)
		if e != nil {
			return nil, e
		}
		if p.Content == nil {
			return nil, msg.Errorf(msg.CodeMalformed, "%s: missing content", op)
		}
		// Empty and too long (3000, 3001) are the channel's to judge: its limit is configurable
		// and one place decides. The frame size limit bounds what travels there.
		return &msg.PostMessage{Call: call, ChannelID: id, Content: *p.Content}, nil

	case OpHistoryList:
		var p HistoryListPayload
		if e := decodePayload(op, d, &p); e != nil {
			return nil, e
		}
		id, e := requireID(op, "channel_id", p.ChannelID)
		if e != nil {
			return nil, e
		}
		req := &msg.ListChannelBursts{Call: call, ChannelID: id}
		if p.Limit != nil {
			if *p.Limit < 1 || *p.Limit > msg.MaxChannelBursts {
				return nil, msg.Errorf(msg.CodeMalformed, "%s: limit must be 1..%d", op, msg.MaxChannelBursts)
			}
			req.Limit = *p.Limit
		}
		return req, nil

	case OpFloorRequest:
		var p FloorRequestPayload
		if e := decodePayload(op, d, &p); e != nil {
			return nil, e
		}
		id, e := requireID(op, "channel_id", p.ChannelID)
		if e != nil {
			return nil, e
		}
		prio := who.priority
		if p.Priority != nil {
			if *p.Priority < 0 || *p.Priority > maxPriority {
				return nil, msg.Errorf(msg.CodeMalformed, "%s: priority must be 0..255", op)
			}
			// docs/floor-control.md: above the token's max_priority is capped silently, not
			// refused.
			prio = min(*p.Priority, who.maxPriority)
		}
		return &msg.RequestFloor{Call: call, ChannelID: id, Priority: prio, PrioritySet: true}, nil

	}
	return nil, msg.Errorf(msg.CodeUnknownOp, "unknown op %d", int(op))
}

// channelIDRequest builds the request of an op whose payload is ChannelIDPayload.
func channelIDRequest(op Op, call msg.Call, id string) any {
	switch op {
	case OpChannelLeave:
		return &msg.LeaveChannel{Call: call, ChannelID: id}
	case OpChannelDelete:
		return &msg.DeleteChannel{Call: call, ChannelID: id}
	case OpChannelInfo:
		return &msg.GetChannel{Call: call, ChannelID: id}
	case OpFloorRelease:
		return &msg.ReleaseFloor{Call: call, ChannelID: id}
	case OpFloorPing:
		return &msg.PingFloor{Call: call, ChannelID: id}
	}
	panic(fmt.Sprintf("gateway: op %d has no channel-id request", int(op)))
}

// clientOp reports whether op is one a client may send.
func clientOp(op Op) bool {
	switch op {
	case OpHeartbeat, OpIdentify, OpChannelCreate, OpChannelJoin, OpChannelLeave, OpChannelUpdate,
		OpChannelDelete, OpChannelList, OpChannelInfo, OpMessageCreate, OpFloorRequest, OpFloorRelease,
		OpFloorPing, OpHistoryList:
		return true
	}
	return false
}
