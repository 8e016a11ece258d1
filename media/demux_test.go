package media

import "testing"

func TestClassify(t *testing.T) {
	pad := func(first, second byte, n int) []byte {
		b := make([]byte, n)
		b[0] = first
		if n > 1 {
			b[1] = second
		}
		return b
	}
	tests := []struct {
		name   string
		b      []byte
		class  Class
		reason DropReason
	}{
		{"empty", nil, ClassDrop, DropShort},
		{"stun binding", pad(0x00, 0x01, 20), ClassSTUN, DropNone},
		{"stun range top", pad(3, 0, 20), ClassSTUN, DropNone},
		{"stun too short", pad(0, 1, 19), ClassDrop, DropShort},
		{"zrtp", pad(16, 0, 40), ClassDrop, DropDemux},
		{"just below dtls", pad(19, 0, 40), ClassDrop, DropDemux},
		{"dtls handshake", pad(22, 0xfe, 40), ClassDTLS, DropNone},
		{"dtls range bottom", pad(20, 0, 13), ClassDTLS, DropNone},
		{"dtls range top", pad(63, 0, 13), ClassDTLS, DropNone},
		{"dtls too short", pad(22, 0, 12), ClassDrop, DropShort},
		{"turn channel", pad(64, 0, 40), ClassDrop, DropDemux},
		{"between turn and rtp", pad(100, 0, 40), ClassDrop, DropDemux},
		{"rtp opus pt 111", pad(0x80, 111, 12), ClassRTP, DropNone},
		{"rtp marker pt 111", pad(0x80, 0x80|111, 12), ClassRTP, DropNone},
		{"rtp too short", pad(0x80, 111, 11), ClassDrop, DropShort},
		{"rtcp sr", pad(0x80, 200, 8), ClassRTCP, DropNone},
		{"rtcp rr with count", pad(0x81, 201, 32), ClassRTCP, DropNone},
		{"rtcp range bottom", pad(0x80, 192, 8), ClassRTCP, DropNone},
		{"rtcp range top", pad(0x80, 223, 8), ClassRTCP, DropNone},
		{"rtp pt 96 with marker looks like 224", pad(0x80, 224, 12), ClassRTP, DropNone},
		{"rtcp too short", pad(0x80, 201, 7), ClassDrop, DropShort},
		{"rtp range top", pad(191, 96, 12), ClassRTP, DropNone},
		{"above rtp", pad(192, 0, 40), ClassDrop, DropDemux},
		{"0xff", pad(255, 0, 40), ClassDrop, DropDemux},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, r := Classify(tt.b)
			if c != tt.class || r != tt.reason {
				t.Fatalf("Classify = %v/%v, want %v/%v", c, r, tt.class, tt.reason)
			}
		})
	}
}

func TestClassifyAllocatesNothing(t *testing.T) {
	b := make([]byte, 100)
	b[0] = 0x80
	if n := testing.AllocsPerRun(100, func() { Classify(b) }); n != 0 {
		t.Fatalf("Classify allocates %v times", n)
	}
}
