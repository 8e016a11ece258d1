package gateway

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// Fuzz targets of the frame decoding: any bytes from a client become a typed request or a
// documented ERROR, never a panic (recovered or not), never a request that breaks a limit the
// actors rely on. `go test` runs the seeds; `go test -fuzz=FuzzDecodeFrame ./gateway` fuzzes.

// fuzzSeeds are frames of every op, well formed and not.
func fuzzSeeds() []string {
	return []string{
		`{"op":1}`, `{"op":1,"d":null}`, `{"op":1,"d":{"nonce":"n"}}`, `{"op":1,"d":[]}`,
		`{"op":3,"d":{"user_id":"alice","token":"x.y.z","priority":100}}`,
		`{"op":3,"d":{"user_id":"a b","token":"t"}}`, `{"op":3,"d":{"user_id":"alice","token":"t","priority":999}}`,
		`{"op":10,"d":{"channel_id":"c1","freq":"0001","channel_name":"📢","capacity":5,"nonce":"n"}}`,
		`{"op":10,"d":{"channel_id":"c1","freq":"0001","channel_name":"x","capacity":0}}`,
		`{"op":11,"d":{"channel_id":"CH_0001","ssrc":123,"ufrag":"abcd","sdp_offer":"v=0"}}`,
		`{"op":11,"d":{"channel_id":"CH_0001","ssrc":-1}}`,
		`{"op":12,"d":{"channel_id":"CH_0001"}}`,
		`{"op":13,"d":{"channel_id":"CH_0001","channel_name":"n","capacity":10001}}`,
		`{"op":14,"d":{"channel_id":"CH_0001"}}`, `{"op":15}`, `{"op":16,"d":{"channel_id":"CH_0001"}}`,
		`{"op":17,"d":{"channel_id":"CH_0001"}}`, `{"op":17,"d":{"channel_id":"CH_0001","limit":100}}`,
		`{"op":17,"d":{"channel_id":"CH_0001","limit":0}}`, `{"op":17,"d":{"channel_id":"CH_0001","limit":"5"}}`,
		`{"op":20,"d":{"channel_id":"CH_0001","content":"hi 👋"}}`, `{"op":20,"d":{"channel_id":"CH_0001","content":"  "}}`,
		`{"op":20,"d":{"channel_id":"CH_0001","content":"\ud83d"}}`,
		`{"op":30,"d":{"channel_id":"CH_0001","priority":255}}`, `{"op":30,"d":{"channel_id":"CH_0001","priority":1.5}}`,
		`{"op":31,"d":{"channel_id":"CH_0001"}}`, `{"op":32,"d":{"channel_id":"CH_0001","nonce":7}}`,
		`{"op":32,"d":{"channel_id":"CH_0001"}}`,
		`{"op":77,"d":{}}`, `{"op":-1}`, `{"op":1e999}`, `{"op":"1"}`, `{"d":{}}`, `{`, `null`, `[]`, `"x"`,
		`{"op":11,"d":"CH_0001"}`, `{"op":11,"d":{"channel_id":null}}`, "\x00\xff", ``,
		`{"op":20,"d":{"channel_id":"CH_0001","content":"` + strings.Repeat("é", 2001) + `"}}`,
	}
}

// gatewayCodes are the ERROR codes the gateway itself may answer a frame with.
var gatewayCodes = map[msg.Code]bool{
	msg.CodeNotIdentified: true, msg.CodeInvalidToken: true, msg.CodeAlreadyIdentified: true,
	msg.CodeUnknownOp: true, msg.CodeMalformed: true, msg.CodeRateLimited: true,
	msg.CodeFrameTooLarge: true, msg.CodePriorityDenied: true,
	msg.CodeEmptyMessage: true, msg.CodeMessageTooLong: true, msg.CodeBadOffer: true,
}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	who := identity{userID: "alice", priority: 100, maxPriority: 200}
	f.Fuzz(func(t *testing.T, data []byte) {
		op, d, perr := parseEnvelope(data)
		if perr != nil {
			if perr.Code != msg.CodeMalformed || perr.Reason == "" {
				t.Fatalf("envelope error %v, want 1004 with a reason", perr)
			}
			return
		}
		if len(d) == 0 {
			t.Fatalf("parseEnvelope returned an empty payload for %q", data)
		}
		nonce := nonceOf(d)
		call := msg.Call{Op: int(op), Nonce: nonce, UserID: who.userID}
		var ip IdentifyPayload
		_ = decodePayload(OpIdentify, d, &ip)
		req, e := decodeRequest(op, d, who, call)
		if e != nil {
			if !gatewayCodes[e.Code] || e.Reason == "" {
				t.Fatalf("op %d: error %v is not a documented gateway error", op, e)
			}
			if _, err := errorFrame(e, intPtr(int(op)), nonce); err != nil {
				t.Fatalf("ERROR does not encode: %v", err)
			}
			return
		}
		checkRequest(t, op, req, who)
	})
}

// checkRequest asserts that a decoded request has the type of its op and respects the limits.
func checkRequest(t *testing.T, op Op, req any, who identity) {
	t.Helper()
	var id string
	switch r := req.(type) {
	case *msg.CreateChannel:
		id = r.Spec.ChannelID
		if op != OpChannelCreate || r.Spec.Capacity < 0 || r.Spec.Capacity > maxCapacity ||
			len(r.Spec.Freq) > maxStringField || len(r.Spec.ChannelName) > maxStringField {
			t.Fatalf("op %d decoded to %+v", op, r)
		}
	case *msg.JoinChannel:
		id = r.ChannelID
		if op != OpChannelJoin || r.Priority != who.priority || !r.PrioritySet || len(r.Ufrag) > maxStringField {
			t.Fatalf("op %d decoded to %+v", op, r)
		}
	case *msg.LeaveChannel:
		id = r.ChannelID
		if op != OpChannelLeave || r.Disconnect {
			t.Fatalf("op %d decoded to %+v", op, r)
		}
	case *msg.UpdateChannel:
		id = r.ChannelID
		if op != OpChannelUpdate || r.Capacity != nil && (*r.Capacity < 1 || *r.Capacity > maxCapacity) {
			t.Fatalf("op %d decoded to %+v", op, r)
		}
	case *msg.DeleteChannel:
		id = r.ChannelID
		if op != OpChannelDelete {
			t.Fatalf("op %d decoded to %T", op, r)
		}
	case *msg.ListChannels:
		if op != OpChannelList {
			t.Fatalf("op %d decoded to %T", op, r)
		}
		return
	case *msg.GetChannel:
		id = r.ChannelID
		if op != OpChannelInfo {
			t.Fatalf("op %d decoded to %T", op, r)
		}
	case *msg.PostMessage:
		id = r.ChannelID
		if op != OpMessageCreate || len(r.Content) > DefaultMaxFrameBytes {
			t.Fatalf("op %d decoded to %d bytes of content", op, len(r.Content))
		}
	case *msg.ListChannelBursts:
		id = r.ChannelID
		if op != OpHistoryList || r.Limit < 0 || r.Limit > msg.MaxChannelBursts {
			t.Fatalf("op %d decoded to %+v", op, r)
		}
	case *msg.RequestFloor:
		id = r.ChannelID
		if op != OpFloorRequest || r.Priority < 0 || r.Priority > who.maxPriority || !r.PrioritySet {
			t.Fatalf("op %d decoded to %+v (max priority %d)", op, r, who.maxPriority)
		}
	case *msg.ReleaseFloor:
		id = r.ChannelID
		if op != OpFloorRelease {
			t.Fatalf("op %d decoded to %T", op, r)
		}
	case *msg.PingFloor:
		id = r.ChannelID
		if op != OpFloorPing {
			t.Fatalf("op %d decoded to %T", op, r)
		}
	default:
		t.Fatalf("op %d decoded to an unexpected %T", op, req)
	}
	if !msg.ValidID(id) {
		t.Fatalf("op %d passed an invalid channel id %q", op, id)
	}
}

// sink is a session stand-in that drops what it is sent.
type sink struct{}

func (sink) Receive(actor.Context) {}

// FuzzHandleFrame feeds one frame to a connection's handler, identified or not, and checks
// that it neither panics (the handler's recover would hide it: the panic counter must stay
// at zero) nor queues anything but encodable frames with documented error codes.
func FuzzHandleFrame(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Add([]byte(`{"op":1}`), true)
	sys := actor.NewActorSystem()
	f.Cleanup(sys.Shutdown)
	g, err := New(Options{System: sys, Directory: sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return sink{} })),
		Secret: []byte("fuzz-secret"), RateLimit: -1, BadFrameLimit: -1})
	if err != nil {
		f.Fatal(err)
	}
	session := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return sink{} }))
	f.Fuzz(func(t *testing.T, data []byte, identified bool) {
		now := time.Now()
		c := &conn{
			gw: g, connectedAt: now,
			out:      newOutQueue(64),
			closeReq: make(chan closeRequest, 1),
			limiter:  newTokenBucket(g.opts.RateLimit, g.opts.RateBurst, now),
			bad:      newBadFrames(g.opts.BadFrameLimit, g.opts.BadFrameWindow),
		}
		c.logger.Store(slog.New(slog.DiscardHandler))
		c.writing.Store(true) // no writer: the test reads the queue itself
		if identified {
			c.identified.Store(true)
			c.who = identity{userID: "alice", priority: 100, maxPriority: 100}
			c.session = session
		}
		panics := panicCount(g)
		for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
			c.handle(typ, data, now)
		}
		if got := panicCount(g); got != panics {
			t.Fatalf("handling %q panicked (recovered)", data)
		}
		for v, ok := c.out.pop(); ok; v, ok = c.out.pop() {
			checkOutbound(t, v)
		}
	})
}

// checkOutbound asserts that v encodes into a frame {"op", "d"} and that an ERROR carries a
// documented code and a reason.
func checkOutbound(t *testing.T, v any) {
	t.Helper()
	b, op, _, ok, err := encodeFrame(v)
	if err != nil || !ok {
		t.Fatalf("queued %T does not encode: %v", v, err)
	}
	var fr struct {
		Op int             `json:"op"`
		D  json.RawMessage `json:"d"`
	}
	if err := json.Unmarshal(b, &fr); err != nil || fr.Op != int(op) || len(fr.D) == 0 || fr.D[0] != '{' {
		t.Fatalf("frame %s is not {op, d: {…}}: %v", b, err)
	}
	if op == OpError {
		var e ErrorPayload
		if err := json.Unmarshal(fr.D, &e); err != nil || !gatewayCodes[msg.Code(e.Code)] || e.Reason == "" {
			t.Fatalf("ERROR %s: not a documented gateway error (%v)", fr.D, err)
		}
	} else if op != OpHeartbeatAck {
		t.Fatalf("a frame alone produced %s", fmt.Sprint(op))
	}
}

// panicCount reads actor_panics_total{actor="gateway"}.
func panicCount(g *Gateway) float64 {
	var m dto.Metric
	_ = g.m.ActorPanics.WithLabelValues("gateway").Write(&m)
	return m.GetCounter().GetValue()
}
