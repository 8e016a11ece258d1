package gateway

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// wsFrame builds an unmasked server frame.
func wsFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, 0, 0)
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	return append(b, payload...)
}

func TestCloseOnceWriterDropsEverythingAfterTheFirstClose(t *testing.T) {
	closePayload := append([]byte{0x0f, 0xa2}, "session replaced"...) // 4002
	var stream, want []byte
	for _, f := range [][]byte{
		wsFrame(0x1, []byte(`{"op":0}`)),
		wsFrame(0x1, bytes.Repeat([]byte("x"), 300)),    // 16-bit length
		wsFrame(0x2, bytes.Repeat([]byte("y"), 70_000)), // 64-bit length
		wsFrame(0x9, nil),                               // ping, empty
		wsFrame(0x8, closePayload),
	} {
		stream = append(stream, f...)
	}
	want = append(want, stream...)
	stream = append(stream, wsFrame(0x8, closePayload)...) // the library's echo of the client's reply
	stream = append(stream, wsFrame(0x1, []byte("late"))...)

	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		var w closeOnceWriter
		var got []byte
		for rest := stream; len(rest) > 0; {
			n := 1 + rng.IntN(40)
			if round%5 == 0 {
				n = 1 + rng.IntN(9000)
			}
			n = min(n, len(rest))
			keep := w.scan(rest[:n])
			got = append(got, rest[:keep]...)
			rest = rest[n:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: kept %d bytes, want %d (everything up to the end of the first close frame)", round, len(got), len(want))
		}
	}
}

func TestCloseOnceWriterEmptyClose(t *testing.T) {
	var w closeOnceWriter
	s := append(wsFrame(0x8, nil), wsFrame(0x8, nil)...)
	if keep := w.scan(s); keep != 2 {
		t.Fatalf("kept %d bytes, want 2 (one empty close frame)", keep)
	}
}
