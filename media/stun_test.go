package media

import (
	"net/netip"
	"testing"

	"github.com/pion/stun/v3"
)

func bindingRequest(t *testing.T, username, pwd string, useCandidate bool) []byte {
	t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest, stun.NewUsername(username)}
	if useCandidate {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrUseCandidate})
	}
	setters = append(setters, stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	m, err := stun.Build(setters...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

func TestBindingResponderAnswersValidRequest(t *testing.T) {
	const serverUfrag, pwd = "AAAABBBBCCCCDDDD", "server-password-0123456789"
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	var r BindingResponder
	ufrag, reason := r.Parse(bindingRequest(t, serverUfrag+":cli1", pwd, true))
	if reason != DropNone || string(ufrag) != serverUfrag {
		t.Fatalf("Parse = %q, %v", ufrag, reason)
	}
	key := stun.NewShortTermIntegrity(pwd)
	reply, useCand, reason := r.Answer(key, from)
	if reason != DropNone || !useCand {
		t.Fatalf("Answer: reason %v useCandidate %v", reason, useCand)
	}
	resp := &stun.Message{Raw: append([]byte(nil), reply...)}
	if err := resp.Decode(); err != nil {
		t.Fatal(err)
	}
	if resp.Type != stun.BindingSuccess {
		t.Fatalf("type %v", resp.Type)
	}
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(resp); err != nil {
		t.Fatal(err)
	}
	if xor.IP.String() != "127.0.0.1" || xor.Port != 40000 {
		t.Fatalf("mapped %v", xor)
	}
	if err := key.Check(resp); err != nil {
		t.Fatalf("reply integrity: %v", err)
	}
	if err := stun.Fingerprint.Check(resp); err != nil {
		t.Fatalf("reply fingerprint: %v", err)
	}
	// Attribute order: XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT.
	var order []stun.AttrType
	for _, a := range resp.Attributes {
		order = append(order, a.Type)
	}
	want := []stun.AttrType{stun.AttrXORMappedAddress, stun.AttrMessageIntegrity, stun.AttrFingerprint}
	if len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Fatalf("attribute order %v", order)
	}
}

func TestBindingResponderRejects(t *testing.T) {
	const pwd = "server-password-0123456789"
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	key := stun.NewShortTermIntegrity(pwd)

	t.Run("wrong integrity", func(t *testing.T) {
		var r BindingResponder
		if _, reason := r.Parse(bindingRequest(t, "AAAABBBBCCCCDDDD:c", "not-the-password-at-all!!", false)); reason != DropNone {
			t.Fatalf("parse %v", reason)
		}
		if reply, _, reason := r.Answer(key, from); reply != nil || reason != DropSTUNIntegrity {
			t.Fatalf("Answer = %v, %v", reply, reason)
		}
	})
	t.Run("no fingerprint", func(t *testing.T) {
		m, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("AAAABBBBCCCCDDDD:c"), key)
		var r BindingResponder
		if _, reason := r.Parse(m.Raw); reason != DropNone {
			t.Fatalf("parse %v", reason)
		}
		if _, _, reason := r.Answer(key, from); reason != DropSTUNIntegrity {
			t.Fatalf("reason %v", reason)
		}
	})
	malformed := map[string][]byte{
		"garbage":      append([]byte{0, 1, 0, 0}, make([]byte, 30)...),
		"no username":  mustBuild(t, stun.TransactionID, stun.BindingRequest, key, stun.Fingerprint),
		"no colon":     mustBuild(t, stun.TransactionID, stun.BindingRequest, stun.NewUsername("justone"), key, stun.Fingerprint),
		"empty client": mustBuild(t, stun.TransactionID, stun.BindingRequest, stun.NewUsername("abc:"), key, stun.Fingerprint),
		"response":     mustBuild(t, stun.TransactionID, stun.BindingSuccess, stun.NewUsername("abc:d"), key, stun.Fingerprint),
	}
	for name, b := range malformed {
		t.Run(name, func(t *testing.T) {
			var r BindingResponder
			if _, reason := r.Parse(b); reason != DropSTUNMalformed {
				t.Fatalf("reason %v", reason)
			}
		})
	}
}

func mustBuild(t *testing.T, setters ...stun.Setter) []byte {
	t.Helper()
	m, err := stun.Build(setters...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}
