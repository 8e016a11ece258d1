package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// registrar answers RegisterSession and drops everything else: the directory as far as an
// idle identified session needs one.
type registrar struct{}

func (registrar) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*msg.RegisterSession); ok {
		ctx.Respond(&msg.Result{})
	}
}

// rawSession is a client of one identified session that starts no goroutine and holds a
// small read buffer, so that what the benchmark measures is the server's side.
type rawSession struct {
	nc net.Conn
	r  *bufio.Reader
}

func dialIdentified(tb testing.TB, addr, user string) rawSession {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		tb.Fatal(err)
	}
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		tb.Fatal(err)
	}
	r := bufio.NewReaderSize(nc, 512)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("upgrade: %v %v", resp, err)
	}
	if f, err := readWireFrame(r); err != nil || f.opcode != 0x1 { // HELLO
		tb.Fatalf("first frame %v %v, want HELLO", f, err)
	}
	tok := mint(tb, user, 100)
	identify, _ := json.Marshal(map[string]any{"op": int(OpIdentify), "d": map[string]any{"user_id": user, "token": tok}})
	frame := append([]byte{0x81, 0x80 | 126, byte(len(identify) >> 8), byte(len(identify)), 0, 0, 0, 0}, identify...) // zero mask
	if _, err := nc.Write(frame); err != nil {
		tb.Fatal(err)
	}
	f, err := readWireFrame(r)
	if err != nil || !strings.Contains(string(f.payload), `"op":`+strconv.Itoa(int(OpReady))) {
		tb.Fatalf("after IDENTIFY: %s %v, want READY", f.payload, err)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		tb.Fatal(err)
	}
	return rawSession{nc: nc, r: r}
}

// memSample is the process's live heap, goroutine stacks and goroutine count after a GC.
type memSample struct{ heap, stacks, goroutines float64 }

func sampleMemory() memSample {
	runtime.GC()
	runtime.GC()
	runtime.GC()
	runtime.GC()
	runtime.GC()
	runtime.GC()
	runtime.GC()
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/sched/goroutines:goroutines"}}
	metrics.Read(s)
	return memSample{heap: float64(s[0].Value.Uint64()), stacks: float64(s[1].Value.Uint64()), goroutines: float64(s[2].Value.Uint64())}
}

// BenchmarkSessionMemory opens b.N identified, idle sessions (HELLO, IDENTIFY, READY, then
// nothing) and reports what each costs the server process: live heap, goroutine stacks and
// goroutines, after a collection. The clients are raw sockets in the same process with no
// goroutine of their own and a 512-byte buffer each, so nearly all of it is the gateway's and
// the session actor's. LIVECHAT_HEAP_PROFILE=file writes a heap profile while they are open.
//
//	go test -run '^$' -bench SessionMemory -benchtime 1000x ./gateway
func BenchmarkSessionMemory(b *testing.B) {
	sys := actor.NewActorSystem()
	dir := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return registrar{} }))
	gw, err := New(Options{System: sys, Directory: dir, Secret: secret})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		srv.Close()
		sys.Shutdown()
	}()
	addr := strings.TrimPrefix(srv.URL, "http://")
	// One session first, so that what is made once per process (pools, the first
	// connection's buffers) is in the baseline.
	warm := dialIdentified(b, addr, "warm")
	defer warm.nc.Close()
	before := sampleMemory()
	b.ResetTimer()
	clients := make([]rawSession, 0, b.N)
	defer func() {
		for _, c := range clients {
			_ = c.nc.Close()
		}
	}()
	for i := 0; i < b.N; i++ {
		clients = append(clients, dialIdentified(b, addr, "u"+strconv.Itoa(i)))
	}
	b.StopTimer()
	after := sampleMemory()
	if path := os.Getenv("LIVECHAT_HEAP_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric((after.heap-before.heap)/n, "heap-B/session")
	b.ReportMetric((after.stacks-before.stacks)/n, "stack-B/session")
	b.ReportMetric((after.goroutines-before.goroutines)/n, "goroutines/session")
	b.ReportMetric(0, "ns/op")
}
