// Command lcplot draws docs/performance.png from lcload media --json records (make plot):
// server CPU per output packet against listeners per channel for lcserver and the floor relay
// measured beside it, with the reference figures of other relays measured on this machine
// kind, and p99 relay latency on a second panel (docs/performance.md).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"os"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// record is the part of an lcload media JSON line the plot needs.
type record struct {
	Label          string  `json:"label"`
	Channels       int     `json:"channels"`
	Listeners      int     `json:"listeners"`
	Rate           int     `json:"rate"`
	ServerUsPerOut float64 `json:"server_us_per_out"`
	FloorUsPerOut  float64 `json:"floor_us_per_out"`
	ServerP99us    float64 `json:"server_latency_p99_us"`
	FloorP99us     float64 `json:"floor_latency_p99_us"`
}

// reference is another relay's figures (docs/performance-reference.json).
type reference struct {
	Name   string `json:"name"`
	Points []struct {
		Listeners int     `json:"listeners"`
		UsPerOut  float64 `json:"us_per_out"`
	} `json:"points"`
}

func main() {
	in := flag.String("in", "docs/performance.jsonl", "lcload media --json records")
	refs := flag.String("ref", "docs/performance-reference.json", "reference figures of other relays")
	out := flag.String("out", "docs/performance.png", "PNG to write")
	rate := flag.Int("rate", 50, "plot the 1-channel records at this talker rate")
	flag.Parse()
	if err := run(*in, *refs, *out, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "lcplot:", err)
		os.Exit(1)
	}
}

func run(in, refs, out string, rate int) error {
	recs, err := readRecords(in, rate)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s has no 1-channel records at %d pps", in, rate)
	}
	var others []reference
	if b, err := os.ReadFile(refs); err == nil {
		if err := json.Unmarshal(b, &others); err != nil {
			return fmt.Errorf("%s: %w", refs, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}

	cpu := plot.New()
	cpu.Title.Text = fmt.Sprintf("Relay CPU per output packet (1 talker, %d pps)", rate)
	cpu.X.Label.Text = "listeners"
	cpu.Y.Label.Text = "µs of relay CPU per output packet"
	cpu.Legend.Top = true
	lat := plot.New()
	lat.Title.Text = "p99 relay latency (talker send → listener decrypted)"
	lat.X.Label.Text = "listeners"
	lat.Y.Label.Text = "ms"
	lat.Legend.Top = true

	colors := []color.Color{color.RGBA{200, 30, 30, 255}, color.RGBA{30, 90, 200, 255},
		color.RGBA{120, 120, 120, 255}, color.RGBA{40, 160, 60, 255}, color.RGBA{200, 140, 0, 255}}
	add := func(p *plot.Plot, name string, pts plotter.XYs, c color.Color, dashed bool) error {
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, s.Color = c, c
		if dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, s)
		p.Legend.Add(name, l, s)
		return nil
	}
	median := func(f func(record) float64) plotter.XYs {
		byN := map[int][]float64{}
		for _, r := range recs {
			if v := f(r); v > 0 {
				byN[r.Listeners] = append(byN[r.Listeners], v)
			}
		}
		var pts plotter.XYs
		for n, v := range byN {
			slices.Sort(v)
			pts = append(pts, plotter.XY{X: float64(n), Y: v[len(v)/2]})
		}
		slices.SortFunc(pts, func(a, b plotter.XY) int { return int(a.X - b.X) })
		return pts
	}
	if err := add(cpu, "lcserver", median(func(r record) float64 { return r.ServerUsPerOut }), colors[0], false); err != nil {
		return err
	}
	if err := add(cpu, "floor relay (same run)", median(func(r record) float64 { return r.FloorUsPerOut }), colors[1], false); err != nil {
		return err
	}
	for i, o := range others {
		var pts plotter.XYs
		for _, p := range o.Points {
			pts = append(pts, plotter.XY{X: float64(p.Listeners), Y: p.UsPerOut})
		}
		if err := add(cpu, o.Name, pts, colors[2+i%3], true); err != nil {
			return err
		}
	}
	ms := func(f func(record) float64) func(record) float64 {
		return func(r record) float64 { return f(r) / 1000 }
	}
	if err := add(lat, "lcserver", median(ms(func(r record) float64 { return r.ServerP99us })), colors[0], false); err != nil {
		return err
	}
	if err := add(lat, "floor relay", median(ms(func(r record) float64 { return r.FloorP99us })), colors[1], false); err != nil {
		return err
	}

	const w, h = 22 * vg.Centimeter, 11 * vg.Centimeter
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter, PadY: vg.Centimeter / 2,
		PadTop: vg.Centimeter / 2, PadBottom: vg.Centimeter / 2, PadLeft: vg.Centimeter / 2, PadRight: vg.Centimeter / 2}
	canvases := plot.Align([][]*plot.Plot{{cpu, lat}}, tiles, dc)
	cpu.Draw(canvases[0][0])
	lat.Draw(canvases[0][1])
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readRecords(path string, rate int) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The records of one build only: the newest record's label, so runs of older builds (or of
	// this one under other load, recorded under another label) do not blend into the medians.
	var all []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if r.Channels == 1 && r.Rate == rate {
			all = append(all, r)
		}
	}
	if err := sc.Err(); err != nil || len(all) == 0 {
		return nil, err
	}
	label := all[len(all)-1].Label
	return slices.DeleteFunc(all, func(r record) bool { return r.Label != label }), nil
}
