package media

// RFC 7983 §7 demultiplexing of one UDP port carrying STUN, DTLS and SRTP/SRTCP by the
// first byte of each datagram:
//
//	                 +----------------+
//	                 |        [0..3] -+--> STUN
//	                 |                |
//	                 |      [16..19] -+--> ZRTP      (dropped: not used here)
//	packet -->       |                |
//	                 |      [20..63] -+--> DTLS
//	                 |                |
//	                 |      [64..79] -+--> TURN      (dropped: no TURN channel here)
//	                 |                |
//	                 |    [128..191] -+--> RTP/RTCP
//	                 +----------------+
//
// RTP and RTCP share 128..191; RFC 5761 §4 tells them apart by the second byte: RTCP packet
// types 192..223 (SR 200, RR 201, SDES 202, BYE 203, APP 204, RTPFB 205, PSFB 206, ...).
// https://www.rfc-editor.org/rfc/rfc7983#section-7

// Class is what a datagram is, judged by its first bytes.
type Class uint8

// Classes of datagrams on the media port.
const (
	ClassDrop Class = iota // outside every range this server handles
	ClassSTUN
	ClassDTLS
	ClassRTP
	ClassRTCP
)

var classNames = [...]string{"drop", "stun", "dtls", "rtp", "rtcp"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// Minimum lengths below which a datagram cannot be what its first byte says.
const (
	minSTUN = 20 // STUN header
	minDTLS = 13 // DTLS record header
	minRTP  = 12 // fixed RTP header
	minRTCP = 8  // RTCP header + sender SSRC
)

// Classify returns the class of datagram b and, for ClassDrop, why it is dropped.
func Classify(b []byte) (Class, DropReason) {
	if len(b) == 0 {
		return ClassDrop, DropShort
	}
	switch first := b[0]; {
	case first <= 3:
		if len(b) < minSTUN {
			return ClassDrop, DropShort
		}
		return ClassSTUN, 0
	case first >= 20 && first <= 63:
		if len(b) < minDTLS {
			return ClassDrop, DropShort
		}
		return ClassDTLS, 0
	case first >= 128 && first <= 191:
		if len(b) >= 2 && b[1] >= 192 && b[1] <= 223 {
			if len(b) < minRTCP {
				return ClassDrop, DropShort
			}
			return ClassRTCP, 0
		}
		if len(b) < minRTP {
			return ClassDrop, DropShort
		}
		return ClassRTP, 0
	default:
		return ClassDrop, DropDemux
	}
}
