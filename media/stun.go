package media

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/pion/stun/v3"
)

// ICE-lite connectivity checks (RFC 8445 §2.5, §7.3): the server never sends checks, it only
// answers Binding requests. A request is valid when
//
//   - it is a well-formed STUN Binding request with a FINGERPRINT (RFC 8445 §7.2.2),
//   - its USERNAME is "serverUfrag:clientUfrag" with a server ufrag this server issued and the
//     client ufrag of the offer that server ufrag answered, and
//   - its MESSAGE-INTEGRITY verifies with that peer's server pwd (short-term credential).
//
// The success response carries XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT, in that
// order (the integrity covers the mapped address, the fingerprint covers everything).
// Invalid requests get no answer at all: an error response would tell a scanner which
// ufrags exist.

// BindingResponder parses and answers STUN Binding requests. It reuses its buffers, so it
// belongs to one goroutine (the UDP reader).
type BindingResponder struct {
	req, resp stun.Message
	ufrag     []byte
	client    []byte
	useCand   bool
}

// Parse decodes b as a Binding request and returns the server part of its USERNAME. The
// returned slice is valid until the next Parse.
func (r *BindingResponder) Parse(b []byte) (serverUfrag []byte, reason DropReason) {
	r.req.Raw = append(r.req.Raw[:0], b...)
	if err := r.req.Decode(); err != nil {
		return nil, DropSTUNMalformed
	}
	if r.req.Type != stun.BindingRequest {
		return nil, DropSTUNMalformed
	}
	user, err := r.req.Get(stun.AttrUsername)
	if err != nil {
		return nil, DropSTUNMalformed
	}
	i := bytes.IndexByte(user, ':')
	if i <= 0 || i == len(user)-1 {
		return nil, DropSTUNMalformed
	}
	r.ufrag, r.client = user[:i], user[i+1:]
	r.useCand = r.req.Contains(stun.AttrUseCandidate)
	return r.ufrag, DropNone
}

// ClientUfrag is the client part of the parsed request's USERNAME (valid until the next Parse);
// the caller compares it with the a=ice-ufrag of the peer's offer.
func (r *BindingResponder) ClientUfrag() []byte { return r.client }

// Answer checks the parsed request's FINGERPRINT and MESSAGE-INTEGRITY with key (the peer's
// stun.NewShortTermIntegrity(serverPwd)) and, when both hold, builds the success response for
// a request that came from from. The reply is valid until the next Parse or Answer.
// useCandidate reports the request's USE-CANDIDATE flag: the controlling agent nominated
// this address, so media to the peer goes there from now on.
func (r *BindingResponder) Answer(key stun.MessageIntegrity, from netip.AddrPort) (reply []byte, useCandidate bool, reason DropReason) {
	if err := stun.Fingerprint.Check(&r.req); err != nil {
		return nil, false, DropSTUNIntegrity
	}
	if err := key.Check(&r.req); err != nil {
		return nil, false, DropSTUNIntegrity
	}
	r.resp.Reset()
	mapped := stun.XORMappedAddress{IP: net.IP(from.Addr().Unmap().AsSlice()), Port: int(from.Port())}
	if err := r.resp.Build(stun.BindingSuccess, stun.NewTransactionIDSetter(r.req.TransactionID),
		&mapped, key, stun.Fingerprint); err != nil {
		return nil, false, DropSTUNMalformed
	}
	return r.resp.Raw, r.useCand, DropNone
}
