// Package peertest is a pion/webrtc v4 client for tests of the media plane: it makes a real
// offer, applies the server's answer, connects over ICE and DTLS-SRTP on loopback, sends Opus-
// sized RTP and records what it receives. It is for tests and tools only, never the server.
package peertest

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Received is one RTP packet a client got, as its SRTP layer decrypted it.
type Received struct {
	SSRC      uint32
	Seq       uint16
	Timestamp uint32
	PT        uint8
	Payload   []byte
}

// Client is one pion/webrtc peer connection with one Opus send track.
type Client struct {
	Name  string
	PC    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP

	connected chan struct{}
	failed    chan struct{}

	mu       sync.Mutex
	received []Received
	notify   chan struct{}

	seq uint16
	ts  uint32
	wg  sync.WaitGroup
}

// NewClient makes a client with the settings loopback interop needs (docs/media.md, "Test
// clients"): mDNS off, UDP4 only, loopback candidates included, interface "lo" only. It offers Opus
// on payload type 111, as Chrome does.
func NewClient(t testing.TB, name string) *Client { return NewClientPT(t, name, 111) }

// NewClientPT is NewClient offering Opus on payload type pt (Firefox uses 109), and nothing
// else, so the server must answer and send on that payload type.
func NewClientPT(t testing.TB, name string, pt uint8) *Client {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(n string) bool { return n == "lo" })
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000,
			Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: webrtc.PayloadType(pt),
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{Name: name, PC: pc, connected: make(chan struct{}), failed: make(chan struct{}),
		notify: make(chan struct{}, 1), seq: 1000, ts: 50000}
	t.Cleanup(func() { c.Close() })
	c.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus,
		ClockRate: 48000, Channels: 2}, "audio", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(c.track); err != nil {
		t.Fatal(err)
	}
	var once, failOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			once.Do(func() { close(c.connected) })
		case webrtc.PeerConnectionStateFailed:
			failOnce.Do(func() { close(c.failed) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		defer c.wg.Done()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.received = append(c.received, Received{SSRC: p.SSRC, Seq: p.SequenceNumber,
				Timestamp: p.Timestamp, PT: p.PayloadType, Payload: append([]byte(nil), p.Payload...)})
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
		}
	})
	return c
}

// Offer creates the offer and waits for ICE gathering, so the SDP carries the candidates.
func (c *Client) Offer(t testing.TB) string {
	t.Helper()
	offer, err := c.PC.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c.PC)
	if err := c.PC.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		t.Fatal("ICE gathering did not complete")
	}
	return c.PC.LocalDescription().SDP
}

// Answer applies the server's answer.
func (c *Client) Answer(t testing.TB, sdp string) {
	t.Helper()
	if err := c.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatalf("%s: set answer: %v", c.Name, err)
	}
}

// WaitConnected waits until ICE and DTLS are up.
func (c *Client) WaitConnected(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-c.connected:
	case <-c.failed:
		t.Fatalf("%s: peer connection failed", c.Name)
	case <-time.After(timeout):
		t.Fatalf("%s: not connected after %v (state %v)", c.Name, timeout, c.PC.ConnectionState())
	}
}

// Send writes n Opus-sized (160-byte payload) RTP packets, 20 ms of audio each, paced every
// interval so the loopback path sees a realistic burst. Payloads carry tag and the index.
func (c *Client) Send(t testing.TB, n int, tag byte, interval time.Duration) {
	t.Helper()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range n {
		payload := make([]byte, 160)
		payload[0], payload[1], payload[2] = tag, byte(i>>8), byte(i)
		c.seq++
		c.ts += 960
		if err := c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: c.seq,
			Timestamp: c.ts}, Payload: payload}); err != nil {
			t.Fatalf("%s: write: %v", c.Name, err)
		}
		<-tick.C
	}
}

// Received returns a copy of what the client got so far.
func (c *Client) Received() []Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Received(nil), c.received...)
}

// WaitReceived waits until the client has at least n packets or timeout passes, and returns
// what it has.
func (c *Client) WaitReceived(n int, timeout time.Duration) []Received {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if got := c.Received(); len(got) >= n {
			return got
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			return c.Received()
		}
	}
}

// Close ends the peer connection and waits for the track reader.
func (c *Client) Close() {
	_ = c.PC.Close()
	c.wg.Wait()
}

// AnswerSSRC returns the SSRC the server announced in an answer's a=ssrc line.
func AnswerSSRC(answer string) (uint32, error) {
	for _, line := range strings.Split(answer, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ssrc:"); ok {
			n, err := strconv.ParseUint(strings.Fields(v)[0], 10, 32)
			return uint32(n), err
		}
	}
	return 0, fmt.Errorf("no a=ssrc in answer")
}

// CountTagged counts packets whose payload starts with tag.
func CountTagged(rs []Received, tag byte) int {
	n := 0
	for _, r := range rs {
		if len(r.Payload) > 0 && r.Payload[0] == tag {
			n++
		}
	}
	return n
}

// ExpectStream fails t unless the client, within timeout, decrypted at least min of the
// sent packets tagged tag, and every packet it got came on ssrc and payload type pt (the ones
// its answer announced). It returns what the client got.
func (c *Client) ExpectStream(t testing.TB, sent, min int, tag byte, ssrc uint32, pt uint8, timeout time.Duration) []Received {
	t.Helper()
	got := c.WaitReceived(sent, timeout)
	if n := CountTagged(got, tag); n < min {
		t.Fatalf("%s decrypted %d of the %d packets tagged %q", c.Name, n, sent, tag)
	}
	for _, r := range got {
		if r.SSRC != ssrc || r.PT != pt {
			t.Fatalf("%s received SSRC %d PT %d; its answer announced %d on PT %d", c.Name, r.SSRC, r.PT, ssrc, pt)
		}
	}
	return got
}
