package msg

import (
	"github.com/asynkron/protoactor-go/actor"
)

// Media is the seam between a channel actor and the media plane. A channel actor calls
// OpenPeer from inside Receive when a member joins with an SDP offer; it must not block (the
// DTLS handshake runs later, in a goroutine the peer actor owns). The peer actor is spawned as
// a child of the channel (parent), so it ends with the channel; the channel stops it with
// ctx.Stop(peer.PID) when the member leaves.
//
// Relay: the peer actor sends every decrypted RTP packet to its channel as a *media.Packet
// whose From is the member's user id. The channel passes a packet on only while From holds the
// floor: it calls pkt.Retain(n) for its n listeners, sends the same *media.Packet to each
// listener's peer PID, and then pkt.Release() for its own reference. A peer actor releases
// every packet it receives once it is done with it.
type Media interface {
	OpenPeer(parent actor.SpawnerContext, req PeerRequest) (Peer, *Error)
}

// PeerRequest is what OpenPeer needs to know.
type PeerRequest struct {
	ChannelID string
	UserID    string
	SDPOffer  string
	Channel   *actor.PID // where the peer sends decrypted RTP
}

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
}

// NoMedia is the Media of a server without a media plane: every offer is refused with 2006.
type NoMedia struct{}

// OpenPeer refuses the offer.
func (NoMedia) OpenPeer(actor.SpawnerContext, PeerRequest) (Peer, *Error) {
	return Peer{}, Errorf(CodeBadOffer, "media plane not available on this server")
}
