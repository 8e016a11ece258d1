package media

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/sdp/v3"
)

// Offer is what the server takes from a client's SDP offer (docs/media.md, "SDP").
type Offer struct {
	MLine           int    // index of the audio m-line the server answers
	Mid             string // its a=mid ("" when the offer has none)
	ICEUfrag        string // the client's ICE credentials
	ICEPwd          string
	FingerprintHash string // e.g. "sha-256"
	Fingerprint     []byte // the client's DTLS certificate digest
	OpusPT          uint8  // Opus payload type the client uses (Chrome 111, Firefox 109, ...)
	OpusFmtp        string // its a=fmtp parameters, echoed in the answer
	OpusChannels    string // "2" in every WebRTC offer
	Bundle          bool   // the offer has a=group:BUNDLE naming the audio mid
	ClientSSRC      uint32 // the client's a=ssrc on the audio m-line, 0 when absent
	// Direction is the offer's direction for the audio m-line, from the client's side:
	// the m-line's own attribute, else the session-level one, else sendrecv (RFC 8866 §6.7).
	Direction sdp.Direction

	sd *sdp.SessionDescription
}

// AnswerDirection is the direction the server answers with, per RFC 3264 §6.1: sendrecv →
// sendrecv, recvonly → sendonly, sendonly → recvonly, inactive → inactive.
func (o *Offer) AnswerDirection() sdp.Direction {
	switch o.Direction {
	case sdp.DirectionRecvOnly:
		return sdp.DirectionSendOnly
	case sdp.DirectionSendOnly:
		return sdp.DirectionRecvOnly
	case sdp.DirectionInactive:
		return sdp.DirectionInactive
	}
	return sdp.DirectionSendRecv
}

// ServerSends reports whether the answer lets the server send media to the client (the
// client offered to receive), so the peer gets relayed audio and the answer names an SSRC.
func (o *Offer) ServerSends() bool {
	d := o.AnswerDirection()
	return d == sdp.DirectionSendRecv || d == sdp.DirectionSendOnly
}

// ServerReceives reports whether the answer lets the server receive media from the client
// (the client offered to send). RTP from a client that may not send is dropped and counted.
func (o *Offer) ServerReceives() bool {
	d := o.AnswerDirection()
	return d == sdp.DirectionSendRecv || d == sdp.DirectionRecvOnly
}

// offerDirection reads the direction attribute of md, falling back to the session level and
// then to sendrecv, the default of RFC 8866 §6.7.
func offerDirection(sd *sdp.SessionDescription, md *sdp.MediaDescription) sdp.Direction {
	for _, attrs := range [][]sdp.Attribute{md.Attributes, sd.Attributes} {
		for _, a := range attrs {
			if d, err := sdp.NewDirection(a.Key); err == nil && a.Value == "" {
				return d
			}
		}
	}
	return sdp.DirectionSendRecv
}

// OfferError is an SDP offer the server cannot answer. Reason starts with "bad SDP offer: " and
// names what is missing; the signaling layer answers it as ERROR 2006 (docs/protocol.md).
type OfferError struct{ Reason string }

func (e *OfferError) Error() string { return e.Reason }

func badOffer(format string, args ...any) *OfferError {
	return &OfferError{Reason: fmt.Sprintf("bad SDP offer: "+format, args...)}
}

// ParseOffer reads a WebRTC SDP offer. Anything the server cannot answer is an *OfferError.
func ParseOffer(offer string) (*Offer, *OfferError) {
	if strings.TrimSpace(offer) == "" {
		return nil, badOffer("empty")
	}
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, badOffer("unparseable: %v", err)
	}
	o := &Offer{MLine: -1, sd: sd}
	var md *sdp.MediaDescription
	for i, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			o.MLine, md = i, m
			break
		}
	}
	if md == nil {
		return nil, badOffer("no audio m-line")
	}
	attr := func(key string) (string, bool) {
		if v, ok := md.Attribute(key); ok {
			return v, true
		}
		return sd.Attribute(key)
	}
	o.Mid, _ = md.Attribute("mid")
	var ok bool
	if o.ICEUfrag, ok = attr("ice-ufrag"); !ok || o.ICEUfrag == "" {
		return nil, badOffer("no a=ice-ufrag")
	}
	if o.ICEPwd, ok = attr("ice-pwd"); !ok || o.ICEPwd == "" {
		return nil, badOffer("no a=ice-pwd")
	}
	fp, ok := attr("fingerprint")
	if !ok {
		return nil, badOffer("no a=fingerprint")
	}
	hash, digest, err := parseFingerprint(fp)
	if err != nil {
		return nil, badOffer("a=fingerprint: %v", err)
	}
	o.FingerprintHash, o.Fingerprint = hash, digest
	if setup, ok := attr("setup"); ok && setup == "passive" {
		return nil, badOffer("a=setup:passive (the server is always the DTLS server)")
	}
	if _, ok := md.Attribute("rtcp-mux"); !ok {
		return nil, badOffer("no a=rtcp-mux (RTP and RTCP must share the port)")
	}
	if err := o.findOpus(md); err != nil {
		return nil, err
	}
	if group, ok := sd.Attribute("group"); ok && o.Mid != "" {
		fields := strings.Fields(group)
		if len(fields) > 0 && fields[0] == "BUNDLE" {
			for _, f := range fields[1:] {
				if f == o.Mid {
					o.Bundle = true
				}
			}
		}
	}
	o.Direction = offerDirection(sd, md)
	for _, a := range md.Attributes {
		if a.Key != "ssrc" {
			continue
		}
		// "a=ssrc:<ssrc-id> <attribute>" (RFC 5576 §4.1): a line without a value or whose id
		// is not a 32-bit number is a malformed offer, refused like any other (2006).
		id, _, _ := strings.Cut(strings.TrimSpace(a.Value), " ")
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return nil, badOffer("a=ssrc:%q: want \"<ssrc-id> <attribute>\" (RFC 5576)", a.Value)
		}
		if o.ClientSSRC == 0 {
			o.ClientSSRC = uint32(n)
		}
	}
	return o, nil
}

// findOpus picks the Opus payload type the offerer prefers: the first one in the m-line's
// format list (RFC 8866 §5.14 orders formats by preference) that an a=rtpmap names
// opus/48000.
func (o *Offer) findOpus(md *sdp.MediaDescription) *OfferError {
	// GetCodecMap reads every m-line of the description it is given: hand it this one only,
	// so that another m-line's payload-type numbering cannot leak in.
	codecs := (&sdp.SessionDescription{MediaDescriptions: []*sdp.MediaDescription{md}}).GetCodecMap()
	for _, pt := range md.MediaName.Formats {
		n, err := strconv.ParseUint(pt, 10, 7)
		if err != nil {
			continue
		}
		c, ok := codecs[uint8(n)]
		if !ok || !strings.EqualFold(c.Name, "opus") || c.ClockRate != 48000 {
			continue
		}
		o.OpusPT, o.OpusChannels, o.OpusFmtp = uint8(n), c.EncodingParameters, c.Fmtp
		return nil
	}
	return badOffer("no Opus/48000 payload type on the audio m-line")
}

// parseFingerprint reads "sha-256 AB:CD:..." (RFC 8122 §5).
func parseFingerprint(v string) (hash string, digest []byte, err error) {
	hash, hexs, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return "", nil, fmt.Errorf("want \"<hash> <hex>\", got %q", v)
	}
	hash = strings.ToLower(hash)
	h, err := fingerprintHash(hash)
	if err != nil {
		return "", nil, err
	}
	digest, err = hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(hexs), ":", ""))
	if err != nil || len(digest) != h.Size() {
		return "", nil, fmt.Errorf("malformed %s digest", hash)
	}
	return hash, digest, nil
}

// fingerprintHash names the hash of an a=fingerprint (RFC 8122 §5), sha-1 to sha-512. MD5,
// which the registry also lists, is refused: RFC 8827 §6.5 requires at least SHA-256 of
// WebRTC endpoints, and no browser sends anything weaker than SHA-1.
func fingerprintHash(name string) (crypto.Hash, error) {
	h, err := fingerprint.HashFromString(name)
	if err != nil || h == crypto.MD5 {
		return 0, fmt.Errorf("unsupported hash %q", name)
	}
	return h, nil
}

// AnswerParams is the server's side of an answer.
type AnswerParams struct {
	Ufrag, Pwd  string         // the server's ICE credentials for this peer
	Fingerprint string         // sha-256 of the server certificate, "AB:CD:..." (Certificate.Fingerprint)
	Host        netip.AddrPort // advertise IP and UDP port: the one host candidate
	SSRC        uint32         // the listener's outbound SSRC
	CName       string         // RTCP CNAME of the outbound stream
	StreamID    string         // msid stream id
	TrackID     string         // msid track id
}

// BuildAnswer writes the SDP answer of docs/media.md for offer o: session-level a=ice-lite,
// the server's ICE credentials and certificate fingerprint, a=setup:passive, one host
// candidate, a=rtcp-mux, the offer's mid, Opus on the offer's payload type, the direction that
// answers the offer's (Offer.AnswerDirection, RFC 3264 §6.1: browsers refuse an answer that
// sends or receives where the offer did not), and — only when the server sends — the outbound
// SSRC with a=msid / a=ssrc (pion clients drop RTP from an SSRC the answer does not announce;
// browsers need msid to fire ontrack). Every other m-line of the offer is rejected (port 0),
// as JSEP requires the answer to keep the offer's m-lines.
func BuildAnswer(o *Offer, p AnswerParams) (string, error) {
	sd, err := sdp.NewJSEPSessionDescription(false)
	if err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	ip := p.Host.Addr().Unmap()
	addrType := "IP4"
	if ip.Is6() {
		addrType = "IP6"
	}
	sd.Origin.AddressType, sd.Origin.UnicastAddress = addrType, ip.String()
	sd.WithPropertyAttribute("ice-lite")
	if o.Bundle {
		sd.WithValueAttribute("group", "BUNDLE "+o.Mid)
	}
	sends := o.ServerSends()
	if sends {
		sd.WithValueAttribute("msid-semantic", " WMS "+p.StreamID)
	}
	for i, om := range o.sd.MediaDescriptions {
		if i != o.MLine {
			rej := &sdp.MediaDescription{MediaName: sdp.MediaName{
				Media: om.MediaName.Media, Port: sdp.RangedPort{Value: 0},
				Protos: om.MediaName.Protos, Formats: om.MediaName.Formats,
			}}
			if mid, ok := om.Attribute("mid"); ok {
				rej.WithValueAttribute("mid", mid)
			}
			sd.WithMedia(rej)
			continue
		}
		md := &sdp.MediaDescription{
			MediaName: sdp.MediaName{
				Media: "audio", Port: sdp.RangedPort{Value: int(p.Host.Port())},
				Protos: om.MediaName.Protos, // WithCodec adds the format
			},
			ConnectionInformation: &sdp.ConnectionInformation{
				NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip.String()},
			},
		}
		if o.Mid != "" {
			md.WithValueAttribute("mid", o.Mid)
		}
		md.WithICECredentials(p.Ufrag, p.Pwd).
			WithFingerprint("sha-256", p.Fingerprint).
			WithValueAttribute("setup", "passive").
			WithPropertyAttribute("rtcp-mux").
			WithPropertyAttribute(o.AnswerDirection().String())
		channels := uint16(2)
		if o.OpusChannels == "1" {
			channels = 1
		}
		md.WithCodec(o.OpusPT, "opus", 48000, channels, o.OpusFmtp)
		if sends {
			md.WithValueAttribute("msid", p.StreamID+" "+p.TrackID).
				WithValueAttribute("ssrc", fmt.Sprintf("%d cname:%s", p.SSRC, p.CName)).
				WithValueAttribute("ssrc", fmt.Sprintf("%d msid:%s %s", p.SSRC, p.StreamID, p.TrackID))
		}
		// pion/ice's CandidateHost.Marshal writes this line too, but would link the ICE agent, mDNS and TURN into lcserver for one fixed host candidate.
		md.WithValueAttribute("candidate", fmt.Sprintf("1 1 udp 2130706431 %s %d typ host", ip, p.Host.Port())).
			WithPropertyAttribute("end-of-candidates")
		sd.WithMedia(md)
	}
	b, err := sd.Marshal()
	if err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	return string(b), nil
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomAlnum returns n random characters of [A-Za-z0-9] from crypto/rand.
func RandomAlnum(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)] // 256 % 62 bias is irrelevant for ICE credentials
	}
	return string(b)
}

// NewICECredentials returns a server ufrag of 16 and a pwd of 32 characters of [A-Za-z0-9]
// (docs/media.md, "SDP"; RFC 8839 §5.4 asks for at least 4 and 22).
func NewICECredentials() (ufrag, pwd string) { return RandomAlnum(16), RandomAlnum(32) }
