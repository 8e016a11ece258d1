package load

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// MediaRecord is one media run as a JSON line (lcload media --json; make plot reads them).
type MediaRecord struct {
	Label          string   `json:"label,omitempty"`
	At             string   `json:"at"`
	Channels       int      `json:"channels"`
	Listeners      int      `json:"listeners"`
	Rate           int      `json:"rate"`
	Payload        int      `json:"payload"`
	ServerUsPerOut float64  `json:"server_us_per_out"` // medians over the windows
	FloorUsPerOut  float64  `json:"floor_us_per_out"`
	Ratio          float64  `json:"ratio"`
	ServerP50us    float64  `json:"server_latency_p50_us"`
	ServerP99us    float64  `json:"server_latency_p99_us"`
	FloorP99us     float64  `json:"floor_latency_p99_us"`
	ServerLoss     float64  `json:"server_loss"`
	FloorLoss      float64  `json:"floor_loss"`
	JoinP50ms      float64  `json:"join_first_audio_p50_ms"`
	JoinP99ms      float64  `json:"join_first_audio_p99_ms"`
	RSSIdleMiB     float64  `json:"rss_idle_mib"`
	RSSPerPeerKiB  float64  `json:"rss_per_peer_kib"`
	HeapPerPeerKiB float64  `json:"heap_per_peer_kib"`
	LoadStart      float64  `json:"load_start"`
	LoadEnd        float64  `json:"load_end"`
	Windows        []Window `json:"windows"`
}

// Record is r as a JSON record.
func (r MediaResult) Record(label string) MediaRecord {
	p := func(f func(Window) float64) func(string) float64 {
		return func(relay string) float64 { return r.Median(relay, f) }
	}
	p50, p99 := p(func(w Window) float64 { return w.LatP50us }), p(func(w Window) float64 { return w.LatP99us })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return MediaRecord{
		Label: label, At: time.Now().UTC().Format(time.RFC3339), Channels: r.Channels, Listeners: r.Listeners,
		Rate: r.Rate, Payload: r.Payload,
		ServerUsPerOut: r.Median("lcserver", Window.CPUPerOut), FloorUsPerOut: r.Median("floor", Window.CPUPerOut),
		Ratio: r.Ratio(), ServerP50us: p50("lcserver"), ServerP99us: p99("lcserver"), FloorP99us: p99("floor"),
		ServerLoss: r.Server.Loss(), FloorLoss: r.Floor.Loss(),
		JoinP50ms: ms(r.JoinPercentile(0.5)), JoinP99ms: ms(r.JoinPercentile(0.99)),
		RSSIdleMiB: MiB(r.Before.RSS), RSSPerPeerKiB: r.RSSPerPeer() / 1024, HeapPerPeerKiB: r.HeapPerPeer() / 1024,
		LoadStart: r.LoadStart, LoadEnd: r.LoadEnd, Windows: r.Windows,
	}
}

// AppendJSON appends r's record as one line to path.
func AppendJSON(path, label string, r MediaResult) error {
	b, err := json.Marshal(r.Record(label))
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("--json: %w", err)
	}
	return f.Close()
}
