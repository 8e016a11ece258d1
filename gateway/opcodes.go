package gateway

import "strconv"

// Op is a frame opcode (docs/protocol.md, "Opcodes"). This table is the only place opcodes are
// numbered.
type Op int

// Client → server opcodes.
const (
	OpHeartbeat     Op = 1
	OpIdentify      Op = 3
	OpChannelCreate Op = 10
	OpChannelJoin   Op = 11
	OpChannelLeave  Op = 12
	OpChannelUpdate Op = 13
	OpChannelDelete Op = 14
	OpChannelList   Op = 15
	OpChannelInfo   Op = 16
	OpHistoryList   Op = 17 // this server's addition (docs/protocol.md, "History")
	OpMessageCreate Op = 20
	OpFloorRequest  Op = 30
	OpFloorRelease  Op = 31
	OpFloorPing     Op = 32
)

// Server → client opcodes.
const (
	OpHello         Op = 0
	OpHeartbeatAck  Op = 2
	OpReady         Op = 4
	OpChannelEvent  Op = 100
	OpMessageEvent  Op = 101
	OpFloorGranted  Op = 110
	OpFloorDeny     Op = 111
	OpFloorTaken    Op = 112
	OpFloorIdle     Op = 113
	OpFloorRevoke   Op = 114
	OpFloorQueuePos Op = 115
	OpFloorPong     Op = 116
	OpAck           Op = 200
	OpError         Op = 201
)

var opNames = map[Op]string{
	OpHello: "HELLO", OpHeartbeat: "HEARTBEAT", OpHeartbeatAck: "HEARTBEAT_ACK", OpIdentify: "IDENTIFY",
	OpReady: "READY", OpChannelCreate: "CHANNEL_CREATE", OpChannelJoin: "CHANNEL_JOIN",
	OpChannelLeave: "CHANNEL_LEAVE", OpChannelUpdate: "CHANNEL_UPDATE", OpChannelDelete: "CHANNEL_DELETE",
	OpChannelList: "CHANNEL_LIST", OpChannelInfo: "CHANNEL_INFO", OpMessageCreate: "MESSAGE_CREATE",
	OpFloorRequest: "FLOOR_REQUEST", OpFloorRelease: "FLOOR_RELEASE", OpFloorPing: "FLOOR_PING",
	OpChannelEvent: "CHANNEL_EVENT", OpMessageEvent: "MESSAGE_EVENT", OpFloorGranted: "FLOOR_GRANTED",
	OpFloorDeny: "FLOOR_DENY", OpFloorTaken: "FLOOR_TAKEN", OpFloorIdle: "FLOOR_IDLE",
	OpFloorRevoke: "FLOOR_REVOKE", OpFloorQueuePos: "FLOOR_QUEUE_POS_INFO", OpFloorPong: "FLOOR_PONG",
	OpAck: "ACK", OpError: "ERROR", OpHistoryList: "HISTORY_LIST",
}

// String names the opcode as docs/protocol.md does.
func (o Op) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return "OP_" + strconv.Itoa(int(o))
}

// WebSocket close codes the gateway uses (docs/protocol.md, "Close codes"). 4005 and 4006 are this
// server's additions, documented in docs/protocol.md.
const (
	CloseShutdown        = 1001 // server shutdown
	CloseInvalidUTF8     = 1007 // a text frame that is not UTF-8 (RFC 6455 §8.1)
	CloseFrameTooLarge   = 1009 // a frame over the size limit
	CloseInvalidToken    = 4001 // IDENTIFY with a bad token (after ERROR 1001)
	CloseReplaced        = 4002 // the same user identified on another connection
	CloseHeartbeat       = 4003 // no application frame for 2 × heartbeat interval + grace
	CloseTooManyBad      = 4004 // more than BadFrameLimit bad frames within BadFrameWindow
	CloseIdentifyTimeout = 4005 // no IDENTIFY within IdentifyTimeout
	CloseSlowConsumer    = 4006 // the outbound queue overflowed: the client reads too slowly
)
