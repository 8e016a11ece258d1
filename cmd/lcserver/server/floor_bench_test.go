package server

import (
	"strconv"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// BenchmarkFloorGrantRoundTrip measures FLOOR_REQUEST → FLOOR_GRANTED over a real WebSocket
// (client encode, gateway decode, session → directory → channel actors, floor state machine,
// event back through the session, writer, client decode), with one other member receiving
// FLOOR_TAKEN. Each iteration also releases the floor and waits for FLOOR_IDLE so the next
// request finds it idle; grant-ns/op reports the request→grant leg alone.
func BenchmarkFloorGrantRoundTrip(b *testing.B) { benchmarkFloorGrant(b, 2) }

// BenchmarkFloorGrantFanout20 is the round trip in a full channel: the talker's grant while
// 19 other members each receive FLOOR_TAKEN and FLOOR_IDLE over their own WebSockets.
func BenchmarkFloorGrantFanout20(b *testing.B) { benchmarkFloorGrant(b, 20) }

// benchmarkFloorGrant runs the grant round trip in CH_0001 with n members; the first talks.
func benchmarkFloorGrant(b *testing.B, n int) {
	s := start(b, func(c *Config) { c.RateLimit = -1; c.FloorPingTimeout = time.Hour })
	var members []*wstest.Client
	for i := 0; i < n; i++ {
		c := wstest.Dial(b, s.ws)
		defer c.Close()
		user := "m" + strconv.Itoa(i)
		c.Identify(user, mintFor(b, user, 100), -1)
		c.Request(opChannelJoin, d{"channel_id": "CH_0001"})
		members = append(members, c)
	}
	talker := members[0]
	req := d{"channel_id": "CH_0001"}
	var grant time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		talker.Send(opFloorRequest, req)
		talker.Await(opFloorGranted)
		grant += time.Since(t0)
		talker.Send(opFloorRelease, req)
		for _, m := range members {
			if f, err := m.AwaitErr(opFloorIdle); err != nil {
				b.Fatalf("%v (%v)", err, f)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(grant.Nanoseconds())/float64(b.N), "grant-ns/op")
}
