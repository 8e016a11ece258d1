package msg

import (
	"net/netip"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/media"
)

// MediaPlane is the seam between a channel actor and the media plane. A channel actor calls
// OpenPeer from inside Receive when a member joins with an SDP offer, parsed and validated
// before the join reached the channel (a bad offer never does); it must not block (the
// DTLS handshake runs later, in a goroutine the peer actor owns). The peer actor is spawned as
// a child of the channel (parent), so it ends with the channel; the channel stops it with
// ctx.Stop(peer.PID) when the member leaves.
//
// Relay: the peer actor sends every decrypted RTP packet to its channel as a *media.RelayPacket
// whose From is the member's user id and whose Via is the UDP worker that read it. The channel
// passes a packet on only while From holds the floor: it seals it into every other member's
// Stream, sends the whole fan-out on pkt.Via in one batch, and releases the packet. Peer and
// channel actors run on the goroutine that sends to them (a synchronized dispatcher), so one
// talker packet is handled start to finish on the UDP reader goroutine that read it.
type MediaPlane interface {
	OpenPeer(parent actor.SpawnerContext, req PeerRequest) (Peer, *Error)
}

// PeerRequest is what OpenPeer needs to know.
type PeerRequest struct {
	ChannelID string
	UserID    string
	Offer     *media.Offer // the member's parsed SDP offer
	Channel   *actor.PID   // where the peer sends decrypted RTP
}

// BadOffer is the ERROR 2006 that refuses an offer the media layer cannot answer.
func BadOffer(e *media.OfferError) *Error { return Errorf(CodeBadOffer, "%s", e.Reason) }

// Peer is an opened media peer.
type Peer struct {
	PID    *actor.PID
	Ufrag  string // the server's ICE ufrag: the peer's key in the admin API
	Answer string // SDP answer for the JOIN ACK
	// NoSend and NoReceive are what the answer denies the client (docs/media.md, RFC 3264
	// §6.1): NoSend for a recvonly or inactive offer (a listen-only member), NoReceive for a
	// sendonly or inactive one. The zero value is sendrecv.
	NoSend, NoReceive bool
	// Info reads the peer's live figures (atomics; safe from any goroutine).
	Info func() PeerDetail
	// Stream is the member's outbound stream, for the channel's relay path only.
	Stream Stream
}

// NoMedia is the MediaPlane of a server without a media plane: every offer is refused with 2006.
type NoMedia struct{}

// OpenPeer refuses the offer.
func (NoMedia) OpenPeer(actor.SpawnerContext, PeerRequest) (Peer, *Error) {
	return Peer{}, Errorf(CodeBadOffer, "media plane not available on this server")
}

// Stream is a listener's outbound media stream (its rewriter and SRTP context), as the
// channel's relay path drives it: for each packet the floor holder's peer passes, the channel
// seals one datagram per listener into its fan-out and hands the whole fan-out to the UDP
// socket (docs/architecture.md, "Run to completion"). Only the channel that opened the peer
// calls Seal, from inside its Receive, so calls never overlap.
type Stream interface {
	// Seal rewrites plain (a decrypted RTP packet; Seal may modify it) into this listener's
	// stream and encrypts it into dst (appending from dst[:0]; cap(dst) is enough for any
	// packet). It returns the datagram and where to send it, or ok false when the listener
	// cannot take the packet now (not connected yet, stopped); the stream counts why.
	Seal(dst, plain []byte) (datagram []byte, to netip.AddrPort, ok bool)
}
