package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ServerSample is one reading of the server process: CPU time and memory, from /proc/<pid>
// when the pid is known, else from /metrics (process_cpu_seconds_total,
// process_resident_memory_bytes), plus the Go heap in use and the media packet counters that
// only /metrics has.
type ServerSample struct {
	At         time.Time
	CPU        time.Duration      // user + system CPU time of the whole process
	RSS        int64              // resident set, bytes
	HeapInuse  int64              // go_memstats_heap_inuse_bytes
	PacketsIn  float64            // livechat_media_packets_in_total
	PacketsOut float64            // livechat_media_packets_out_total
	SendCalls  float64            // livechat_media_send_calls_total (sendmmsg calls with relayed media)
	Switches   int64              // context switches of all the process's threads (/proc, with a pid)
	Dropped    float64            // livechat_media_packets_dropped_total, all reasons
	Drops      map[string]float64 // the same by reason label
}

// Sampler reads ServerSamples of one server.
type Sampler struct {
	Base string // http://127.0.0.1:port
	PID  int    // 0: CPU and RSS come from /metrics (10 ms CPU resolution either way)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's utime and stime; 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// Sample reads /metrics and, with a pid, /proc.
func (s Sampler) Sample(ctx context.Context) (ServerSample, error) {
	smp := ServerSample{At: time.Now()}
	if s.PID > 0 {
		// /proc first: the scrape's own CPU (HTTP, gzip) then falls after this sample, so a
		// window read start→end includes the start scrape's cost but never both.
		cpu, rss, err := procStat(s.PID)
		if err != nil {
			return smp, err
		}
		smp.CPU, smp.RSS, smp.Switches = cpu, rss, procSwitches(s.PID)
	}
	vals, drops, err := scrape(ctx, s.Base+"/metrics")
	if err != nil {
		return smp, err
	}
	if s.PID <= 0 {
		smp.CPU = time.Duration(vals["process_cpu_seconds_total"] * float64(time.Second))
		smp.RSS = int64(vals["process_resident_memory_bytes"])
	}
	smp.HeapInuse = int64(vals["go_memstats_heap_inuse_bytes"])
	smp.PacketsIn = vals["livechat_media_packets_in_total"]
	smp.PacketsOut = vals["livechat_media_packets_out_total"]
	smp.SendCalls = vals["livechat_media_send_calls_total"]
	smp.Dropped = vals["livechat_media_packets_dropped_total"]
	smp.Drops = drops
	return smp, nil
}

// procSwitches sums the voluntary and involuntary context switches of every thread of pid:
// each one is a thread going to sleep or being preempted, the wake-ups a relay pays for.
func procSwitches(pid int) int64 {
	dirs, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	var n int64
	for _, d := range dirs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, d.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && strings.HasSuffix(f[0], "ctxt_switches:") {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				n += v
			}
		}
	}
	return n
}

// procStat reads utime+stime from /proc/<pid>/stat and VmRSS from /proc/<pid>/status.
func procStat(pid int) (cpu time.Duration, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("server cpu: %w", err)
	}
	// The command name (field 2) may hold spaces; the fields after its closing paren are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("server cpu: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("server cpu: short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	cpu = time.Duration(utime+stime) * time.Second / clockTicks
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("server rss: %w", err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb * 1024
		}
	}
	return cpu, rss, nil
}

// scrape reads a Prometheus text exposition and sums every series per metric name (labels
// dropped), which is what the figures need, plus the media drop counter by reason.
func scrape(ctx context.Context, url string) (map[string]float64, map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("metrics: %s answered %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

var dropReason = regexp.MustCompile(`^livechat_media_packets_dropped_total\{.*reason="([^"]*)"`)

func parseMetrics(r io.Reader) (map[string]float64, map[string]float64, error) {
	out, drops := map[string]float64{}, map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name := line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		out[name] += v
		if m := dropReason.FindStringSubmatch(line); m != nil {
			drops[m[1]] += v
		}
	}
	return out, drops, sc.Err()
}

// LoadAverage reads the 1-minute load average from /proc/loadavg (0 when unreadable): every
// figure is reported next to it, since the 2 cores are shared.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// MiB converts bytes to mebibytes for reports.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }
