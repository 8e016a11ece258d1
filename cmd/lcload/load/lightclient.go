package load

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v3"
)

// opusPT is the Opus payload type every light client offers (Chrome's).
const opusPT = 111

// lightClient is one media member without a WebRTC stack: it builds its own SDP offer, answers
// ICE-lite with a single nominated STUN check, runs a DTLS client over a demultiplexing
// adapter and derives SRTP keys from the exporter. One UDP socket and one reader goroutine per
// client; received RTP is counted and (every decryptEvery-th packet) decrypted.
type lightClient struct {
	// static after setup
	user        string
	ws          *wsClient
	cert        tls.Certificate
	ufrag, pwd  string
	ssrc        uint32 // our outbound SSRC (a talker's)
	srvUfrag    string
	srvKey      stun.MessageIntegrity
	srvFP       string // sha-256 fingerprint of the server certificate, from the answer
	answerSSRC  uint32 // the SSRC the server sends us
	server      netip.AddrPort
	udp         *net.UDPConn
	dtlsIn      *dtlsConn
	dtls        *dtls.Conn
	local       *srtp.Context // encrypts what we send
	remote      atomic.Pointer[srtp.Context]
	decryptEach int
	stunResp    chan []byte
	readerDone  chan struct{}
	base        time.Time // the run's clock origin: talkers stamp packets with time since base
	floorAck    chan struct{}

	// written by the reader goroutine
	received, decrypted, decryptFailed, wrongSSRC atomic.Uint64
	firstRTP                                      atomic.Int64 // time since base of the first RTP packet (0: none yet)
	latency                                       latHist      // talker send → decrypted here

	closeOnce sync.Once
}

// newLightClient identifies user on a fresh WebSocket and prepares the DTLS identity.
func newLightClient(addr string, secret []byte, user string, wait time.Duration, decryptEach int, base time.Time) (*lightClient, error) {
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, fmt.Errorf("%s: certificate: %w", user, err)
	}
	ws, err := session(addr, secret, user, wait)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &lightClient{
		user: user, ws: ws, cert: cert, ufrag: randomAlnum(8), pwd: randomAlnum(24),
		ssrc: binary.BigEndian.Uint32(b[:]) | 1, decryptEach: decryptEach,
		stunResp: make(chan []byte, 4), base: base,
	}, nil
}

// newFloorClient is a light client of the floor relay: the same socket and reader as an
// lcserver listener, keys from the secret shared with the relay instead of DTLS. Member 0 of
// a channel is its talker.
func newFloorClient(relay netip.AddrPort, secret []byte, ch uint16, idx uint32, decryptEach int, base time.Time, talkerSSRC uint32) (*lightClient, error) {
	udp, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(relay))
	if err != nil {
		return nil, fmt.Errorf("floor client: %w", err)
	}
	_ = udp.SetReadBuffer(1 << 20)
	c := &lightClient{user: fmt.Sprintf("floor-%d-%d", ch, idx), udp: udp, server: relay, ssrc: talkerSSRC,
		answerSSRC: talkerSSRC, decryptEach: decryptEach, base: base, stunResp: make(chan []byte, 4),
		floorAck: make(chan struct{}, 1), readerDone: make(chan struct{})}
	sctx, err := floorContext(secret, ch, idx, idx != 0)
	if err != nil {
		udp.Close()
		return nil, err
	}
	if idx == 0 {
		c.local = sctx
	} else {
		c.remote.Store(sctx)
	}
	go c.read()
	reg := floorRegistration(ch, idx)
	for try := 0; try < 20; try++ {
		if _, err := udp.Write(reg); err != nil {
			c.close()
			return nil, fmt.Errorf("floor client: %w", err)
		}
		select {
		case <-c.floorAck:
			return c, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	c.close()
	return nil, errors.New("floor relay did not acknowledge a registration")
}

// offer is a minimal WebRTC audio offer: BUNDLE, ICE credentials, our fingerprint, setup
// active, rtcp-mux, Opus on payload type 111, our SSRC.
func (c *lightClient) offer() (string, error) {
	sd, err := sdp.NewJSEPSessionDescription(false)
	if err != nil {
		return "", err
	}
	fp, err := fingerprint(c.cert.Certificate[0])
	if err != nil {
		return "", err
	}
	sd.WithValueAttribute("group", "BUNDLE 0")
	md := sdp.NewJSEPMediaDescription("audio", nil).
		WithValueAttribute("mid", "0").
		WithICECredentials(c.ufrag, c.pwd).
		WithFingerprint("sha-256", fp).
		WithValueAttribute("setup", "active").
		WithPropertyAttribute("rtcp-mux").
		WithPropertyAttribute("sendrecv").
		WithCodec(opusPT, "opus", 48000, 2, "minptime=10;useinbandfec=1").
		WithValueAttribute("ssrc", fmt.Sprintf("%d cname:lcload", c.ssrc))
	sd.WithMedia(md)
	b, err := sd.Marshal()
	return string(b), err
}

// join sends CHANNEL_JOIN with the offer and reads the answer: the server's ICE credentials,
// fingerprint, host candidate (which must be loopback) and our inbound SSRC.
func (c *lightClient) join(channelID string) error {
	offer, err := c.offer()
	if err != nil {
		return fmt.Errorf("%s: offer: %w", c.user, err)
	}
	f, err := c.ws.RequestErr(opChannelJoin, map[string]any{"channel_id": channelID, "sdp_offer": offer})
	if err != nil {
		return fmt.Errorf("%s: join %s: %w", c.user, channelID, err)
	}
	var ack struct {
		SDPAnswer string `json:"sdp_answer"`
	}
	if f.Op != opAck || f.Decode(&ack) != nil || ack.SDPAnswer == "" {
		return fmt.Errorf("%s: join %s answered %v", c.user, channelID, f)
	}
	return c.readAnswer(ack.SDPAnswer)
}

func (c *lightClient) readAnswer(answer string) error {
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(answer); err != nil {
		return fmt.Errorf("%s: answer: %w", c.user, err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			md = m
		}
	}
	if md == nil {
		return fmt.Errorf("%s: answer has no audio m-line", c.user)
	}
	ufrag, _ := md.Attribute("ice-ufrag")
	pwd, _ := md.Attribute("ice-pwd")
	fp, _ := md.Attribute("fingerprint")
	cand, _ := md.Attribute("candidate")
	if ufrag == "" || pwd == "" || fp == "" || cand == "" {
		return fmt.Errorf("%s: answer lacks ice-ufrag, ice-pwd, fingerprint or candidate", c.user)
	}
	c.srvUfrag, c.srvKey = ufrag, stun.NewShortTermIntegrity(pwd)
	hash, hexs, _ := strings.Cut(fp, " ")
	if !strings.EqualFold(hash, "sha-256") {
		return fmt.Errorf("%s: answer fingerprint hash %q, want sha-256", c.user, hash)
	}
	if len(strings.Split(hexs, ":")) != 32 {
		return fmt.Errorf("%s: answer fingerprint %q is not a sha-256 digest", c.user, hexs)
	}
	c.srvFP = hexs
	// candidate: foundation component transport priority address port typ host
	f := strings.Fields(cand)
	if len(f) < 8 || f[6] != "typ" {
		return fmt.Errorf("%s: answer candidate %q", c.user, cand)
	}
	ip, err := netip.ParseAddr(f[4])
	if err != nil {
		return fmt.Errorf("%s: answer candidate address: %w", c.user, err)
	}
	port, err := strconv.ParseUint(f[5], 10, 16)
	if err != nil {
		return fmt.Errorf("%s: answer candidate port: %w", c.user, err)
	}
	c.server = netip.AddrPortFrom(ip, uint16(port))
	if err := checkLoopbackAddr(c.server); err != nil {
		return err
	}
	for _, a := range md.Attributes {
		if a.Key == "ssrc" {
			if v, err := strconv.ParseUint(strings.Fields(a.Value + " ")[0], 10, 32); err == nil {
				c.answerSSRC = uint32(v)
				break
			}
		}
	}
	return nil
}

// connect opens the UDP socket, runs the nominating STUN check and the DTLS handshake, and
// derives the SRTP contexts.
func (c *lightClient) connect(ctx context.Context) error {
	udp, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(c.server))
	if err != nil {
		return fmt.Errorf("%s: udp: %w", c.user, err)
	}
	_ = udp.SetReadBuffer(1 << 20)
	c.udp = udp
	raddr := net.UDPAddrFromAddrPort(c.server)
	c.dtlsIn = newDTLSConn(udp, raddr)
	c.readerDone = make(chan struct{})
	go c.read()

	if err := c.checkConnectivity(ctx); err != nil {
		return err
	}
	dc, err := dtls.ClientWithOptions(c.dtlsIn, raddr,
		dtls.WithCertificates(c.cert),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithInsecureSkipVerify(true), // WebRTC authenticates by the signaled fingerprint:
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyFingerprint(raw, c.srvFP)
		}),
	)
	if err != nil {
		return fmt.Errorf("%s: dtls: %w", c.user, err)
	}
	if err := dc.HandshakeContext(ctx); err != nil {
		dc.Close()
		return fmt.Errorf("%s: dtls handshake: %w", c.user, err)
	}
	c.dtls = dc
	profile, ok := dc.SelectedSRTPProtectionProfile()
	if !ok {
		return fmt.Errorf("%s: no SRTP profile negotiated", c.user)
	}
	state, ok := dc.ConnectionState()
	if !ok {
		return fmt.Errorf("%s: dtls state unavailable", c.user)
	}
	cfg := srtp.Config{Profile: srtp.ProtectionProfile(profile)}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, true); err != nil {
		return fmt.Errorf("%s: srtp keys: %w", c.user, err)
	}
	if c.local, err = srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile); err != nil {
		return fmt.Errorf("%s: srtp: %w", c.user, err)
	}
	remote, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, cfg.Profile,
		srtp.SRTPReplayProtection(replayWindow))
	if err != nil {
		return fmt.Errorf("%s: srtp: %w", c.user, err)
	}
	c.remote.Store(remote)
	return nil
}

// bindingRequest builds a connectivity check as a controlling full agent sends it to an
// ICE-lite server: USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE (nominate at once),
// MESSAGE-INTEGRITY with the server's pwd, FINGERPRINT.
func (c *lightClient) bindingRequest() (*stun.Message, error) {
	var tie [8]byte
	_, _ = rand.Read(tie[:])
	prio := make([]byte, 4)
	binary.BigEndian.PutUint32(prio, 2130706431)
	return stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(c.srvUfrag+":"+c.ufrag),
		stun.RawAttribute{Type: stun.AttrPriority, Value: prio},
		stun.RawAttribute{Type: stun.AttrICEControlling, Value: tie[:]},
		stun.RawAttribute{Type: stun.AttrUseCandidate},
		c.srvKey, stun.Fingerprint)
}

// checkConnectivity sends the nominating check until a success response with a valid
// MESSAGE-INTEGRITY comes back (10 tries, 300 ms apart, as ICE retransmits).
func (c *lightClient) checkConnectivity(ctx context.Context) error {
	req, err := c.bindingRequest()
	if err != nil {
		return fmt.Errorf("%s: stun: %w", c.user, err)
	}
	for try := 0; try < 10; try++ {
		if _, err := c.udp.Write(req.Raw); err != nil {
			return fmt.Errorf("%s: stun send: %w", c.user, err)
		}
		t := time.NewTimer(300 * time.Millisecond)
	wait:
		for {
			select {
			case b := <-c.stunResp:
				resp := &stun.Message{Raw: b}
				if resp.Decode() != nil || resp.TransactionID != req.TransactionID {
					continue
				}
				t.Stop()
				if resp.Type != stun.BindingSuccess {
					return fmt.Errorf("%s: stun answered %v", c.user, resp.Type)
				}
				if err := c.srvKey.Check(resp); err != nil {
					return fmt.Errorf("%s: stun response integrity: %w", c.user, err)
				}
				return nil
			case <-t.C:
				break wait
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
	}
	return fmt.Errorf("%s: no STUN response from %s", c.user, c.server)
}

// keepalive sends one consent check (RFC 7675) without waiting for the answer: it keeps the
// server from reaping a listener that never sends media.
func (c *lightClient) keepalive() {
	if req, err := c.bindingRequest(); err == nil {
		_, _ = c.udp.Write(req.Raw)
	}
}

// read is the one reader of the socket: STUN answers to checkConnectivity, DTLS records to the
// DTLS adapter, RTP counted and sampled for decryption, RTCP ignored.
func (c *lightClient) read() {
	defer close(c.readerDone)
	buf := make([]byte, 1500)
	dec := make([]byte, 1500)
	var hdr rtp.Header
	var n uint64
	for {
		k, err := c.udp.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ECONNREFUSED from an ICMP error: keep reading
		}
		if k == 0 {
			continue
		}
		b := buf[:k]
		switch {
		case k == 10 && string(b[:4]) == floorMagic:
			select {
			case c.floorAck <- struct{}{}:
			default:
			}
		case b[0] < 4:
			select {
			case c.stunResp <- append([]byte(nil), b...):
			default:
			}
		case b[0] >= 20 && b[0] < 64:
			if dl := c.dtlsIn; dl != nil {
				dl.push(b)
			}
		case b[0] >= 128 && b[0] < 192 && k >= 12:
			if pt := b[1] & 0x7f; pt >= 64 && pt < 96 {
				continue // RTCP
			}
			n = c.received.Add(1)
			if n == 1 {
				c.firstRTP.Store(int64(time.Since(c.base)))
			}
			if c.decryptEach <= 0 || n%uint64(c.decryptEach) != 0 {
				continue
			}
			remote := c.remote.Load()
			if remote == nil {
				c.decryptFailed.Add(1)
				continue
			}
			plain, err := remote.DecryptRTP(dec[:0], b, &hdr)
			if err != nil {
				c.decryptFailed.Add(1)
				continue
			}
			if hdr.SSRC != c.answerSSRC || hdr.PayloadType != opusPT {
				c.wrongSSRC.Add(1)
				continue
			}
			c.decrypted.Add(1)
			if p := plain[min(hdr.MarshalSize(), len(plain)):]; len(p) >= 16 && string(p[:6]) == "lcload" {
				sent := time.Duration(binary.BigEndian.Uint64(p[8:16]))
				c.latency.add(time.Since(c.base) - sent)
			}
		}
	}
}

// sendRTP encrypts and sends one Opus-sized packet.
func (c *lightClient) sendRTP(hdr *rtp.Header, payload, plain, enc []byte) ([]byte, error) {
	plain = plain[:0]
	hb, err := hdr.MarshalTo(plain[:hdr.MarshalSize()])
	if err != nil {
		return enc, err
	}
	plain = append(plain[:hb], payload...)
	enc, err = c.local.EncryptRTP(enc[:0], plain, nil)
	if err != nil {
		return enc, err
	}
	_, err = c.udp.Write(enc)
	return enc, err
}

// drop vanishes like a device that lost power: no close_notify, no WebSocket close
// handshake; the socket and the reader are released.
func (c *lightClient) drop() {
	c.closeOnce.Do(func() {
		if c.dtlsIn != nil {
			_ = c.dtlsIn.Close() // before the DTLS conn, so its close_notify goes nowhere
		}
		if c.dtls != nil {
			_ = c.dtls.Close()
		}
		if c.udp != nil {
			_ = c.udp.Close()
			<-c.readerDone
		}
		if c.ws != nil {
			c.ws.Drop()
		}
	})
}

// close ends DTLS (close_notify lets the server drop the peer at once), the socket, the reader
// and the WebSocket.
func (c *lightClient) close() {
	c.closeOnce.Do(func() {
		if c.dtls != nil {
			_ = c.dtls.Close()
		}
		if c.dtlsIn != nil {
			_ = c.dtlsIn.Close()
		}
		if c.udp != nil {
			_ = c.udp.Close()
			<-c.readerDone
		}
		if c.ws != nil {
			c.ws.Close()
		}
	})
}
