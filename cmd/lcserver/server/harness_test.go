package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// testSecret signs the tokens of every test server.
const testSecret = "integration-secret"

// testServer is one in-process lcserver on ephemeral ports.
type testServer struct {
	t    testing.TB
	srv  *Server
	ws   string // ws://127.0.0.1:port/ws
	http string // http://127.0.0.1:port
}

// start runs a server with test defaults changed by tweak; it is shut down (and Run's error
// checked) when the test ends.
func start(t testing.TB, tweak func(*Config)) *testServer {
	t.Helper()
	cfg := Config{Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1", Secret: testSecret, Logger: testLogger()}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, stop, err := Start(cfg)
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	base := "127.0.0.1:" + strconv.Itoa(srv.Port())
	return &testServer{t: t, srv: srv, ws: "ws://" + base + "/ws", http: "http://" + base}
}

func testLogger() *slog.Logger {
	if os.Getenv("LIVECHAT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func mintFor(t testing.TB, user string, maxPrio int) string {
	t.Helper()
	tok, err := token.Mint([]byte(testSecret), user, maxPrio, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client dials and identifies user with the default priority.
func (s *testServer) client(user string, maxPrio int) *wstest.Client {
	s.t.Helper()
	c := wstest.Dial(s.t, s.ws)
	s.t.Cleanup(c.Close)
	c.Identify(user, mintFor(s.t, user, maxPrio), -1)
	return c
}

// get fetches an HTTP path and returns status and body.
func (s *testServer) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.http + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// goroutines returns the current goroutine count.
func goroutines() int { return runtime.NumGoroutine() }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
