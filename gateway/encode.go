package gateway

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// frame encodes {"op": op, "d": d} where d is already JSON.
func frame(op Op, d []byte) []byte {
	b := make([]byte, 0, len(d)+20)
	b = append(b, `{"op":`...)
	b = strconv.AppendInt(b, int64(op), 10)
	b = append(b, `,"d":`...)
	b = append(b, d...)
	return append(b, '}')
}

// encodeFrame encodes a value as a frame: pre-encoded frames pass through, events map to
// their opcode and wire payload (wire.go), a *msg.Result becomes ACK or ERROR. ok is false for a value that is no
// client frame (it is dropped and logged).
func encodeFrame(v any) (b []byte, op Op, errCode int, ok bool, err error) {
	switch m := v.(type) {
	case rawFrame:
		return m.data, m.op, m.errCode, true, nil
	case *msg.Result:
		return encodeResult(m)
	}
	op, d, ok := wireEvent(v)
	if !ok {
		return nil, 0, 0, false, nil
	}
	b, err = json.Marshal(d)
	if err != nil {
		return nil, op, 0, false, fmt.Errorf("encode %s: %w", op, err)
	}
	return frame(op, b), op, 0, true, nil
}

// encodeResult turns a result into ACK {…Data fields, req_op, nonce} or
// ERROR {code, reason, req_op, nonce}.
func encodeResult(r *msg.Result) ([]byte, Op, int, bool, error) {
	if r.Err != nil {
		b, err := errorFrame(r.Err, intPtr(r.Call.Op), r.Call.Nonce)
		return b, OpError, int(r.Err.Code), err == nil, err
	}
	d := []byte("{}")
	if data := wireResult(r.Data); data != nil {
		var err error
		d, err = json.Marshal(data)
		if err != nil {
			return nil, OpAck, 0, false, fmt.Errorf("encode ACK of op %d: %w", r.Call.Op, err)
		}
		switch {
		case string(d) == "null":
			d = []byte("{}")
		case d[0] != '{':
			// Not an object: keep the contract that ACK's d is one, with the data beside.
			d = append(append([]byte(`{"data":`), d...), '}')
		}
	}
	return frame(OpAck, withReqOp(d, r.Call.Op, r.Call.Nonce)), OpAck, 0, true, nil
}

// withReqOp appends req_op (and nonce when set) to the JSON object d.
func withReqOp(d []byte, reqOp int, nonce string) []byte {
	out := make([]byte, 0, len(d)+32+len(nonce))
	out = append(out, d[:len(d)-1]...) // without the closing brace
	if len(d) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"req_op":`...)
	out = strconv.AppendInt(out, int64(reqOp), 10)
	if nonce != "" {
		nb, _ := json.Marshal(nonce) // a string always encodes
		out = append(out, `,"nonce":`...)
		out = append(out, nb...)
	}
	return append(out, '}')
}

func intPtr(i int) *int { return &i }

// errorFrame encodes ERROR {code, reason, req_op?, nonce?}.
func errorFrame(e *msg.Error, reqOp *int, nonce string) ([]byte, error) {
	d, err := json.Marshal(ErrorPayload{Code: int(e.Code), Reason: e.Reason, ReqOp: reqOp, Nonce: nonce})
	if err != nil {
		return nil, fmt.Errorf("encode ERROR %d: %w", e.Code, err)
	}
	return frame(OpError, d), nil
}

// rawFrame is a frame the gateway encoded itself (HELLO, READY, HEARTBEAT_ACK, its ERRORs).
type rawFrame struct {
	data    []byte
	op      Op
	errCode int // for ERROR frames: counted in metrics
}

func mustFrame(op Op, d any) rawFrame {
	b, err := json.Marshal(d)
	if err != nil {
		// Only the gateway's own payload structs reach here; they always encode.
		panic(fmt.Sprintf("encode %s: %v", op, err))
	}
	return rawFrame{data: frame(op, b), op: op}
}

func fmtType(v any) string { return fmt.Sprintf("%T", v) }
