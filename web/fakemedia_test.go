package web_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// fakeMedia is a minimal audio relay built on pion/webrtc for the fake server: it answers a
// page's offer and forwards the floor holder's RTP to the other members. It checks the page's
// WebRTC side (offer, answer, ontrack, getStats) independently of the real media plane.
type fakeMedia struct {
	t   *testing.T
	api *webrtc.API

	mu    sync.Mutex
	peers map[string]*fakePeer // channel/user → peer
}

type fakePeer struct {
	pc        *webrtc.PeerConnection
	out       *webrtc.TrackLocalStaticRTP
	packetsIn atomic.Uint64
}

func newFakeMedia(t *testing.T) *fakeMedia {
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	m := &fakeMedia{
		t:     t,
		api:   webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me)),
		peers: map[string]*fakePeer{},
	}
	t.Cleanup(func() {
		m.mu.Lock()
		peers := m.peers
		m.peers = map[string]*fakePeer{}
		m.mu.Unlock()
		for _, p := range peers {
			_ = p.pc.Close()
		}
	})
	return m
}

// open answers offer for user in channel. relay is called for every RTP packet the page
// sends and returns the users to forward it to.
func (m *fakeMedia) open(channel, user, offer string, relay func(from string) []string) (string, error) {
	pc, err := m.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	out, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "relay-"+user)
	if err != nil {
		return "", err
	}
	if _, err := pc.AddTrack(out); err != nil {
		return "", err
	}
	p := &fakePeer{pc: pc, out: out}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			p.packetsIn.Add(1)
			for _, to := range relay(user) {
				m.mu.Lock()
				dst := m.peers[channel+"/"+to]
				m.mu.Unlock()
				if dst != nil {
					_ = dst.out.WriteRTP(&rtp.Packet{Header: pkt.Header, Payload: pkt.Payload})
				}
			}
		}
	})
	fail := func(err error) (string, error) {
		_ = pc.Close()
		return "", fmt.Errorf("fake media answer: %w", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(err)
	}
	<-gathered
	m.mu.Lock()
	old := m.peers[channel+"/"+user]
	m.peers[channel+"/"+user] = p
	m.mu.Unlock()
	if old != nil {
		_ = old.pc.Close()
	}
	return pc.LocalDescription().SDP, nil
}

// close ends user's peer in channel, if any.
func (m *fakeMedia) close(channel, user string) {
	m.mu.Lock()
	p := m.peers[channel+"/"+user]
	delete(m.peers, channel+"/"+user)
	m.mu.Unlock()
	if p != nil {
		_ = p.pc.Close()
	}
}

// packetsIn is how many RTP packets user's page sent into channel.
func (m *fakeMedia) packetsIn(channel, user string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.peers[channel+"/"+user]; p != nil {
		return p.packetsIn.Load()
	}
	return 0
}
