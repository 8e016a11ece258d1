package gateway

import (
	"encoding/json"
	"testing"

	"github.com/minilivechat/minilivechat/actors/msg"
)

func TestEncodeResultMergesReqOpAndNonce(t *testing.T) {
	call := msg.Call{Op: 11, Nonce: `n"1`}
	cases := []struct {
		name string
		r    *msg.Result
		op   Op
		want map[string]any
	}{
		{"object data", call.OK(&msg.LeaveAck{ChannelID: "A"}), OpAck,
			map[string]any{"channel_id": "A", "req_op": 11.0, "nonce": `n"1`}},
		{"nil data", call.OK(nil), OpAck, map[string]any{"req_op": 11.0, "nonce": `n"1`}},
		{"typed nil", call.OK((*msg.ChannelInfo)(nil)), OpAck, map[string]any{"req_op": 11.0, "nonce": `n"1`}},
		{"non-object data", call.OK([]int{1}), OpAck, map[string]any{"data": []any{1.0}, "req_op": 11.0, "nonce": `n"1`}},
		{"no nonce", (msg.Call{Op: 15}).OK(&msg.ChannelList{Channels: []msg.ChannelInfo{}}), OpAck,
			map[string]any{"channels": []any{}, "req_op": 15.0}},
		{"error", call.Fail(msg.Errorf(msg.CodeChannelFull, "full")), OpError,
			map[string]any{"code": 2001.0, "reason": "full", "req_op": 11.0, "nonce": `n"1`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, op, _, ok, err := encodeFrame(tc.r)
			if err != nil || !ok || op != tc.op {
				t.Fatalf("encode: op %v ok %v err %v", op, ok, err)
			}
			var f struct {
				Op int            `json:"op"`
				D  map[string]any `json:"d"`
			}
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatalf("%s is not JSON: %v", b, err)
			}
			if f.Op != int(tc.op) || len(f.D) != len(tc.want) {
				t.Fatalf("frame %s, want op %d d %v", b, tc.op, tc.want)
			}
			got, _ := json.Marshal(f.D)
			want, _ := json.Marshal(tc.want)
			if string(got) != string(want) {
				t.Fatalf("d = %s, want %s", got, want)
			}
		})
	}
}

func TestEncodeEventsByTypePointerOrValue(t *testing.T) {
	for v, want := range map[any]Op{
		&msg.FloorGranted{}: OpFloorGranted, msg.FloorGranted{}: OpFloorGranted,
		&msg.FloorDeny{}: OpFloorDeny, &msg.FloorTaken{}: OpFloorTaken, &msg.FloorIdle{}: OpFloorIdle,
		&msg.FloorRevoke{}: OpFloorRevoke, &msg.FloorQueuePos{}: OpFloorQueuePos, &msg.FloorPong{}: OpFloorPong,
		&msg.ChannelEvent{}: OpChannelEvent, &msg.MessageEvent{}: OpMessageEvent,
	} {
		if _, op, _, ok, err := encodeFrame(v); !ok || err != nil || op != want {
			t.Errorf("%T → op %v ok %v err %v, want %v", v, op, ok, err, want)
		}
	}
	if _, _, _, ok, _ := encodeFrame(struct{}{}); ok {
		t.Error("an unknown type was encoded as a frame")
	}
}
