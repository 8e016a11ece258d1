package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// Flood tests (docs/reliability.md, "Floods"): each floods the WebSocket side of a real server
// from loopback while a real pion/webrtc talker holds the floor and talks to a real listener,
// and checks that the listener lost under 1 % of the packets, that the call's signaling still
// answers, and that /metrics counted the offending input by reason. Every flood is bounded in
// count and time.

const (
	floodPackets  = 250                   // the talker's packets during a flood…
	floodInterval = 10 * time.Millisecond // …one every 10 ms: the flood lasts 2.5 s
)

// liveCall is an established call: talker holds the floor of CH_0001, listener hears it.
type liveCall struct {
	s                *testServer
	talker, listener *peertest.Client
	tws, lws         *wstest.Client
	lasted           time.Duration // of the last flood
}

func startCall(t *testing.T, s *testServer, mp *peer.Media) *liveCall {
	t.Helper()
	c := &liveCall{s: s}
	join := func(user string) (*wstest.Client, *peertest.Client) {
		ws := s.client(user, 100)
		pc, _ := joinPion(t, ws, user, 111)
		return ws, pc
	}
	c.tws, c.talker = join("talker")
	c.lws, c.listener = join("listener")
	c.talker.WaitConnected(t, 20*time.Second)
	c.listener.WaitConnected(t, 20*time.Second)
	actortest.Eventually(t, 15*time.Second, "both peers SRTP ready", func() bool {
		ready := 0
		for _, p := range mp.Peers() {
			if d, _ := mp.Peer(p.Ufrag); d.SRTPReady {
				ready++
			}
		}
		return ready == 2
	})
	c.tws.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	c.tws.Await(opFloorGranted)
	c.lws.Await(opFloorTaken)
	// A first spurt proves the path before any flood.
	c.talker.Send(t, 20, 'W', floodInterval)
	if got := c.listener.WaitReceived(20, 10*time.Second); peertest.CountTagged(got, 'W') < 20 {
		t.Fatalf("listener heard %d of 20 packets before the flood", peertest.CountTagged(got, 'W'))
	}
	return c
}

// during runs flood while the talker sends floodPackets packets, stops it, and returns the
// listener's loss over that spurt. It also checks that the call's own sessions still answer.
func (c *liveCall) during(t *testing.T, flood func(stop <-chan struct{})) float64 {
	t.Helper()
	base := len(c.listener.Received())
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		flood(stop)
	}()
	began := time.Now()
	c.talker.Send(t, floodPackets, 'F', floodInterval)
	close(stop)
	<-done
	c.lasted = time.Since(began)
	got := c.listener.WaitReceived(base+floodPackets, 5*time.Second)
	heard := peertest.CountTagged(got[base:], 'F')
	loss := 1 - float64(heard)/floodPackets
	t.Logf("listener heard %d of %d packets during the flood (%.2f %% loss, %v)", heard, floodPackets, 100*loss,
		time.Since(began).Round(time.Millisecond))
	// Signaling of the call is not starved either.
	c.tws.Send(opFloorPing, d{"channel_id": "CH_0001"})
	c.tws.Await(opFloorPong)
	return loss
}

// workers runs n goroutines of f until stop or until f has run max times in all.
func workers(n, max int, stop <-chan struct{}, f func(i int)) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-stop:
			return 0, false
		default:
		}
		if next >= max {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range n {
		wg.Go(func() {
			for i, ok := take(); ok; i, ok = take() {
				f(i)
			}
		})
	}
	wg.Wait()
	return next
}

func dialRaw(url string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	return ws, err
}

// A connection flood from one address: the per-address connection count and rate refuse most
// dials with HTTP 429 before the upgrade, and the connections that got through but never
// IDENTIFY are closed with 4005 after the IDENTIFY timeout.
func TestFloodConnectionsFromOneAddress(t *testing.T) {
	s, mp, _ := startWithMedia(t, func(c *Config) {
		c.LimitLoopback = true
		c.MaxConnsPerIP = 40
		c.ConnectRatePerIP, c.ConnectBurstPerIP = 20, 30
		c.IdentifyTimeout = 500 * time.Millisecond
	})
	call := startCall(t, s, mp)
	var mu sync.Mutex
	var held []*websocket.Conn
	refused := 0
	attempts := 0
	loss := call.during(t, func(stop <-chan struct{}) {
		attempts = workers(4, 2000, stop, func(int) {
			ws, err := dialRaw(s.ws)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if strings.Contains(err.Error(), "429") {
					refused++
				}
				return
			}
			held = append(held, ws) // never IDENTIFYs
		})
	})
	if loss >= 0.01 {
		t.Errorf("listener loss %.2f %% during the connection flood, want < 1 %%", 100*loss)
	}
	rate := s.metric(`livechat_ws_refused_total{reason="ip_connect_rate"}`)
	conns := s.metric(`livechat_ws_refused_total{reason="ip_connections"}`)
	t.Logf("%d dials in %v (%.0f/s): %d accepted, %d refused (ip_connect_rate %v, ip_connections %v)",
		attempts, call.lasted.Round(time.Millisecond), float64(attempts)/call.lasted.Seconds(), len(held), refused, rate, conns)
	if refused == 0 || rate+conns != float64(refused) {
		t.Fatalf("%d dials refused with 429, /metrics counts %v + %v", refused, rate, conns)
	}
	// The silent ones are closed with 4005 and counted.
	actortest.Eventually(t, 10*time.Second, "silent connections closed with 4005", func() bool {
		return s.metric(`livechat_ws_errors_total{code="4005"}`) >= float64(len(held))
	})
	for _, ws := range held {
		_ = ws.CloseNow()
	}
	// Back to the call's two connections and users, nothing left over from the flood.
	actortest.Eventually(t, 10*time.Second, "connections back to the call's two", func() bool {
		return s.metric("livechat_sessions") == 2 && s.metric("livechat_users") == 2
	})
}

// IDENTIFY brute force from one address: after the failed-IDENTIFY budget, the address is
// refused before the upgrade (no token is even parsed).
func TestFloodIdentifyBruteForce(t *testing.T) {
	s, mp, _ := startWithMedia(t, func(c *Config) {
		c.LimitLoopback = true
		c.IdentifyFailureBurstPerIP, c.IdentifyFailureRatePerIP = 10, 0.1
		c.ConnectRatePerIP, c.ConnectBurstPerIP = 1000, 1000 // isolate the IDENTIFY limit
	})
	call := startCall(t, s, mp)
	var mu sync.Mutex
	bad, refused := 0, 0
	loss := call.during(t, func(stop <-chan struct{}) {
		workers(4, 1000, stop, func(i int) {
			ws, err := dialRaw(s.ws)
			if err != nil {
				mu.Lock()
				if strings.Contains(err.Error(), "429") {
					refused++
				}
				mu.Unlock()
				return
			}
			defer ws.CloseNow()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _, _ = ws.Read(ctx) // HELLO
			guess := fmt.Sprintf(`{"op":3,"d":{"user_id":"talker","token":"guess-%d"}}`, i)
			_ = ws.Write(ctx, websocket.MessageText, []byte(guess))
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					if websocket.CloseStatus(err) == 4001 {
						mu.Lock()
						bad++
						mu.Unlock()
					}
					return
				}
			}
		})
	})
	if loss >= 0.01 {
		t.Errorf("listener loss %.2f %% during the IDENTIFY flood, want < 1 %%", 100*loss)
	}
	counted := s.metric(`livechat_ws_refused_total{reason="ip_identify_failures"}`)
	t.Logf("%d bad tokens answered (4001), %d connections refused (ip_identify_failures %v) in %v",
		bad, refused, counted, call.lasted.Round(time.Millisecond))
	// The budget is 10: a few more may be in flight when it runs out.
	if bad < 10 || bad > 20 || refused == 0 || counted != float64(refused) {
		t.Fatalf("bad tokens tried %d (want 10..20), refused %d, counted %v", bad, refused, counted)
	}
	if got := s.metric(`livechat_ws_errors_total{code="1001"}`); got != float64(bad) {
		t.Fatalf("ERROR 1001 counted %v, want %d", got, bad)
	}
	actortest.Eventually(t, 10*time.Second, "connections back to the call's two", func() bool {
		return s.metric("livechat_sessions") == 2 && s.metric("livechat_users") == 2
	})
}

// Frames over the per-session rate: answered 1005 (one JSON parse each), and past the
// bad-frame limit the connection is closed with 4004; reconnecting starts over, so several
// flooders keep reconnecting.
func TestFloodFramesPerSession(t *testing.T) {
	s, mp, _ := startWithMedia(t)
	call := startCall(t, s, mp)
	loss := call.during(t, func(stop <-chan struct{}) {
		workers(3, 60, stop, func(i int) {
			ws, err := dialRaw(s.ws)
			if err != nil {
				return
			}
			defer ws.CloseNow()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			closed := make(chan struct{})
			go func() { // read and discard until the server closes the connection
				defer close(closed)
				for {
					if _, _, err := ws.Read(ctx); err != nil {
						return
					}
				}
			}()
			user := fmt.Sprintf("flooder-%d", i)
			_ = ws.Write(ctx, websocket.MessageText, []byte(`{"op":3,"d":{"user_id":"`+user+`","token":"`+mintFor(t, user, 100)+`"}}`))
			for j := 0; j < 400; j++ {
				if ws.Write(ctx, websocket.MessageText, []byte(`{"op":15,"d":{}}`)) != nil {
					break
				}
			}
			<-closed
		})
	})
	if loss >= 0.01 {
		t.Errorf("listener loss %.2f %% during the frame flood, want < 1 %%", 100*loss)
	}
	limited := s.metric(`livechat_ws_errors_total{code="1005"}`)
	closed := s.metric(`livechat_ws_errors_total{code="4004"}`)
	t.Logf("ERROR 1005 %v, closed 4004 %v in %v", limited, closed, call.lasted.Round(time.Millisecond))
	if limited == 0 || closed == 0 {
		t.Fatalf("frame flood not counted: 1005 %v, 4004 %v", limited, closed)
	}
	actortest.Eventually(t, 10*time.Second, "connections back to the call's two", func() bool {
		return s.metric("livechat_sessions") == 2 && s.metric("livechat_users") == 2
	})
}

// A channel-create flood: caps and the creation rate answer 2007 and are counted, and the
// broadcasts the call's sessions get are bounded by them.
func TestFloodChannelCreates(t *testing.T) {
	s, mp, _ := startWithMedia(t, func(c *Config) {
		c.MaxChannelsPerUser, c.MaxUserChannels = 5, 8
		c.ChannelCreateBurst, c.ChannelCreateInterval = 4, time.Minute
	})
	call := startCall(t, s, mp)
	flooders := []*wstest.Client{s.client("f1", 100), s.client("f2", 100), s.client("f3", 100)}
	refusedCodes := 0
	loss := call.during(t, func(stop <-chan struct{}) {
		for i := 0; i < 100; i++ {
			select {
			case <-stop:
				return
			default:
			}
			f := flooders[i%len(flooders)]
			ans, err := f.RequestErr(opChannelCreate, d{"channel_id": fmt.Sprintf("flood-%d", i), "freq": "1", "channel_name": "x"})
			if err == nil && ans.Op == opError && ans.Map()["code"] == float64(2007) {
				refusedCodes++
			}
		}
	})
	if loss >= 0.01 {
		t.Errorf("listener loss %.2f %% during the create flood, want < 1 %%", 100*loss)
	}
	rate := s.metric(`livechat_channel_creates_refused_total{reason="rate"}`)
	server := s.metric(`livechat_channel_creates_refused_total{reason="server_cap"}`)
	t.Logf("2007 answered %d times (rate %v, server_cap %v) in %v", refusedCodes, rate, server, call.lasted.Round(time.Millisecond))
	if refusedCodes == 0 || rate+server != float64(refusedCodes) {
		t.Fatalf("2007 answered %d times, counted %v + %v", refusedCodes, rate, server)
	}
	// 3 users × burst 4 = 12 > server cap 8: exactly 8 channels were created.
	if n := s.metric(`livechat_channels`); n != 3+8 {
		t.Fatalf("%v channels exist, want 3 presets + 8", n)
	}
}
