package gateway

import "encoding/json"

// Payloads of client requests: the `d` of each client → server frame, one struct per opcode.
// Optional fields are pointers so that "absent" differs from "zero". Every request may carry a
// nonce, echoed in its ACK or ERROR.

// envelope is a frame before its payload is decoded.
type envelope struct {
	Op *int            `json:"op"`
	D  json.RawMessage `json:"d"`
}

// noncePayload is what every payload has in common; it is decoded leniently to echo the nonce
// even when the rest of a payload is malformed.
type noncePayload struct {
	Nonce string `json:"nonce"`
}

// HeartbeatPayload is HEARTBEAT's `d` (op 1); it may be empty or absent.
type HeartbeatPayload struct {
	Nonce string `json:"nonce"`
}

// IdentifyPayload is IDENTIFY's `d` (op 3).
type IdentifyPayload struct {
	UserID   *string `json:"user_id"`
	Token    *string `json:"token"`
	Priority *int    `json:"priority"`
	Nonce    string  `json:"nonce"`
}

// ChannelCreatePayload is CHANNEL_CREATE's `d` (op 10).
type ChannelCreatePayload struct {
	ChannelID   *string `json:"channel_id"`
	Freq        *string `json:"freq"`
	ChannelName *string `json:"channel_name"`
	Capacity    *int    `json:"capacity"`
	Nonce       string  `json:"nonce"`
}

// ChannelJoinPayload is CHANNEL_JOIN's `d` (op 11).
type ChannelJoinPayload struct {
	ChannelID *string `json:"channel_id"`
	SSRC      *uint32 `json:"ssrc"`
	Ufrag     *string `json:"ufrag"`
	SDPOffer  *string `json:"sdp_offer"`
	Nonce     string  `json:"nonce"`
}

// ChannelIDPayload is the `d` of every request that names a channel and nothing else:
// CHANNEL_LEAVE (op 12), CHANNEL_DELETE (14), CHANNEL_INFO (16), FLOOR_RELEASE (31) and
// FLOOR_PING (32).
type ChannelIDPayload struct {
	ChannelID *string `json:"channel_id"`
	Nonce     string  `json:"nonce"`
}

// ChannelUpdatePayload is CHANNEL_UPDATE's `d` (op 13); absent fields stay unchanged.
type ChannelUpdatePayload struct {
	ChannelID   *string `json:"channel_id"`
	ChannelName *string `json:"channel_name"`
	Capacity    *int    `json:"capacity"`
	Nonce       string  `json:"nonce"`
}

// ChannelListPayload is CHANNEL_LIST's `d` (op 15); it may be empty or absent.
type ChannelListPayload struct {
	Nonce string `json:"nonce"`
}

// MessageCreatePayload is MESSAGE_CREATE's `d` (op 20).
type MessageCreatePayload struct {
	ChannelID *string `json:"channel_id"`
	Content   *string `json:"content"`
	Nonce     string  `json:"nonce"`
}

// HistoryListPayload is HISTORY_LIST's `d` (op 17): a channel's recent bursts.
type HistoryListPayload struct {
	ChannelID *string `json:"channel_id"`
	Limit     *int    `json:"limit"`
	Nonce     string  `json:"nonce"`
}

// FloorRequestPayload is FLOOR_REQUEST's `d` (op 30).
type FloorRequestPayload struct {
	ChannelID *string `json:"channel_id"`
	Priority  *int    `json:"priority"`
	Nonce     string  `json:"nonce"`
}

// Server payloads the gateway itself writes (events and ACK data are in events.go).

// HelloPayload is HELLO's `d` (op 0).
type HelloPayload struct {
	HeartbeatInterval int64 `json:"heartbeat_interval"`
}

// ReadyPayload is READY's `d` (op 4).
type ReadyPayload struct {
	SessionID         string `json:"session_id"`
	UserID            string `json:"user_id"`
	Priority          int    `json:"priority"`
	HeartbeatInterval int64  `json:"heartbeat_interval"`
}

// ErrorPayload is ERROR's `d` (op 201).
type ErrorPayload struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	ReqOp  *int   `json:"req_op,omitempty"`
	Nonce  string `json:"nonce,omitempty"`
}
