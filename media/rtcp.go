package media

import "github.com/pion/rtcp"

// ReceptionStats is what a client's RTCP reception report says about one of the server's
// streams to it (RFC 3550 §6.4.1).
type ReceptionStats struct {
	FractionLost float64 // fraction of packets lost since the previous report, 0..1
	PacketsLost  int64   // cumulative packets lost (signed: duplicates can make it negative)
	JitterMs     float64 // interarrival jitter in milliseconds
}

// ReadReceptionReport looks through a decrypted compound RTCP packet for reception reports
// (in receiver or sender reports) about ssrc and returns the last one. clockRate converts the
// jitter from RTP timestamp units (48000 for Opus). Client RTCP is only read, never
// forwarded: it describes the client's view of the server, which nobody else needs.
func ReadReceptionReport(plain []byte, ssrc uint32, clockRate uint32) (ReceptionStats, bool) {
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		return ReceptionStats{}, false
	}
	if clockRate == 0 {
		clockRate = 48000
	}
	var out ReceptionStats
	found := false
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch r := p.(type) {
		case *rtcp.ReceiverReport:
			reports = r.Reports
		case *rtcp.SenderReport:
			reports = r.Reports
		}
		for _, rr := range reports {
			if rr.SSRC != ssrc {
				continue
			}
			found = true
			out = ReceptionStats{
				FractionLost: float64(rr.FractionLost) / 256,
				// The field is 24-bit two's complement; pion hands it over unsigned.
				PacketsLost: int64(int32(rr.TotalLost<<8) >> 8),
				JitterMs:    float64(rr.Jitter) * 1000 / float64(clockRate),
			}
		}
	}
	return out, found
}
