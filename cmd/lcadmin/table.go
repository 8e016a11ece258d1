package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// table is an aligned text table: columns separated by two spaces, each padded to its widest
// cell in terminal cells, no trailing spaces.
type table struct {
	indent string
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) error {
	widths := make([]int, len(t.header))
	all := append([][]string{t.header}, t.rows...)
	for _, r := range all {
		for i, c := range r {
			r[i] = sanitize(c)
			if cw := displayWidth(r[i]); cw > widths[i] {
				widths[i] = cw
			}
		}
	}
	var b strings.Builder
	for _, r := range all {
		b.WriteString(t.indent)
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(padRight(c, widths[i]))
			b.WriteString("  ")
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fields writes "  Label:   value" lines with the values aligned at labelWidth cells.
type fields struct {
	labelWidth int
	b          strings.Builder
}

func (f *fields) add(label, format string, args ...any) {
	f.b.WriteString("  ")
	f.b.WriteString(padRight(label+":", f.labelWidth))
	f.b.WriteString(sanitize(fmt.Sprintf(format, args...)))
	f.b.WriteByte('\n')
}

// rule is the line under a detail view's title.
func rule(n int) string { return "  " + strings.Repeat("─", n) + "\n" }

// hms formats a duration the way `lcadmin status` shows uptime: always hours, minutes and
// seconds ("0h 12m 34s"), with days in front past 24 hours.
func hms(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	days, h, m, sec := s/86400, s%86400/3600, s%3600/60, s%60
	if days > 0 {
		return fmt.Sprintf("%dd %dh %dm %ds", days, h, m, sec)
	}
	return fmt.Sprintf("%dh %dm %ds", h, m, sec)
}

// short formats an elapsed time compactly, dropping leading zero units: "8s", "2m 5s",
// "1h 0m 3s".
func short(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	h, m, sec := s/3600, s%3600/60, s%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, sec)
	default:
		return fmt.Sprintf("%ds", sec)
	}
}

// seconds turns a float seconds figure of the API into a duration.
func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
