package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Firefox is driven over WebDriver BiDi, the W3C protocol Firefox speaks natively when started
// with --remote-debugging-port (no geckodriver, which Debian does not package). The handful of
// commands the tests need (session.new, browsingContext.create/navigate, script.evaluate,
// input.performActions, log events) are JSON over one WebSocket; no maintained Go client of
// the protocol exists, so this file holds the small one the tests use.

// firefoxPath is Debian's firefox-esr binary itself (/usr/bin/firefox-esr is a wrapper script).
const firefoxPath = "/usr/lib/firefox-esr/firefox-esr"

// firefoxPrefs make a headless Firefox usable for WebRTC on loopback without a person:
// a fake microphone with no permission prompt, host candidates on 127.0.0.1 as plain
// addresses (not mDNS names), and none of the background traffic a fresh profile starts.
var firefoxPrefs = map[string]any{
	"media.navigator.streams.fake":        true,
	"media.navigator.permission.disabled": true,
	// The site has microphone permission, as after a user allowed it once: without it
	// Firefox gathers only its default-route address, no 127.0.0.1 candidate, and ICE with a
	// server advertised on 127.0.0.1 fails (docs/web-client.md).
	"permissions.default.microphone":                    1,
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	"media.peerconnection.ice.default_address_only":     false,
	"media.peerconnection.ice.no_host":                  false,
	"media.autoplay.default":                            0, // allow audible autoplay
	"media.autoplay.blocking_policy":                    0,
	"browser.shell.checkDefaultBrowser":                 false,
	"browser.startup.homepage_override.mstone":          "ignore",
	"browser.aboutwelcome.enabled":                      false,
	"datareporting.policy.dataSubmissionEnabled":        false,
	"datareporting.healthreport.uploadEnabled":          false,
	"toolkit.telemetry.enabled":                         false,
	"toolkit.telemetry.reportingpolicy.firstRun":        false,
	"app.update.disabledForTesting":                     true,
	"app.normandy.enabled":                              false,
	"extensions.update.enabled":                         false,
	"browser.safebrowsing.malware.enabled":              false,
	"browser.safebrowsing.phishing.enabled":             false,
	"browser.safebrowsing.downloads.enabled":            false,
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"services.settings.server":                          "http://127.0.0.1:9/",
	"network.dns.disablePrefetch":                       true,
	"network.prefetch-next":                             false,
	"dom.min_background_timeout_value":                  10,
	"dom.timeout.enable_budget_timer_throttling":        false,
}

// requireFirefox skips the test when Firefox is missing, unless LIVECHAT_E2E=require.
func requireFirefox(t *testing.T) {
	t.Helper()
	requireBrowser(t, "Firefox", firefoxPath, "firefox-esr")
}

// firefox is one headless Firefox process with its own profile and a BiDi session. The tests
// share one (started by the first test that needs it, stopped by TestMain): a Firefox start
// costs several seconds, and every test gets its own tabs.
type firefox struct {
	conn *websocket.Conn
	ctx  context.Context // ends when the process is stopped

	mu      sync.Mutex
	nextID  int
	pending map[int]chan bidiReply
	pages   map[string]*ffPage // by browsing context id, for log events
}

type bidiReply struct {
	Type    string          `json:"type"` // "success" or "error"
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

// shared is the package's Firefox; TestMain stops it after the last test.
var shared struct {
	once sync.Once
	f    *firefox
	err  error
	stop func()
}

// TestMain stops the shared Firefox (process group killed, profile removed) after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	shared.once.Do(func() {}) // waits for a start still in flight (warmFirefox)
	if shared.stop != nil {
		shared.stop()
	}
	os.Exit(code)
}

// sharedFirefox returns the package's Firefox, starting it on first use (bounded by 60 s on a
// loaded machine); the test is skipped when Firefox is not installed.
func sharedFirefox(t *testing.T) *firefox {
	t.Helper()
	requireFirefox(t)
	shared.once.Do(startShared)
	if shared.err != nil {
		t.Fatalf("start Firefox: %v", shared.err)
	}
	return shared.f
}

func startShared() { shared.f, shared.stop, shared.err = startFirefox(60 * time.Second) }

// warmFirefox starts the shared Firefox in the background (when installed), so that a test
// can start Chromium meanwhile; sharedFirefox then waits for it.
func warmFirefox() {
	if _, err := os.Stat(firefoxPath); err == nil {
		go shared.once.Do(startShared)
	}
}

// startFirefox starts Firefox headless with a fresh profile holding firefoxPrefs and opens a
// BiDi session. stop kills its process group, waits for it and removes the profile.
func startFirefox(timeout time.Duration) (f *firefox, stop func(), err error) {
	profile, err := os.MkdirTemp("", "lc-firefox-")
	if err != nil {
		return nil, nil, err
	}
	var prefs strings.Builder
	for k, v := range firefoxPrefs {
		fmt.Fprintf(&prefs, "user_pref(%q, %s);\n", k, jsValue(v))
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(prefs.String()), 0o644); err != nil {
		os.RemoveAll(profile)
		return nil, nil, err
	}
	cmd := exec.Command(firefoxPath, "--headless", "--no-remote", "--new-instance", "--profile", profile,
		"--remote-debugging-port", "0", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_HEADLESS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its content processes go with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(profile)
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	urls := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	readerDone := make(chan struct{})
	close(readerDone) // replaced once the reader runs
	stop = func() {
		cancel()
		<-readerDone
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "Firefox (pid %d) did not exit after SIGKILL\n", cmd.Process.Pid)
		}
		os.RemoveAll(profile)
	}
	fail := func(err error) (*firefox, func(), error) {
		stop()
		return nil, nil, err
	}
	deadline := time.After(timeout)
	var url string
	select {
	case url = <-urls:
	case <-exited:
		return fail(errors.New("Firefox exited before it opened WebDriver BiDi"))
	case <-deadline:
		return fail(fmt.Errorf("Firefox did not open WebDriver BiDi within %v", timeout))
	}
	dctx, dcancel := context.WithTimeout(ctx, timeout)
	defer dcancel()
	conn, _, err := websocket.Dial(dctx, url+"/session", nil)
	if err != nil {
		return fail(fmt.Errorf("connect to WebDriver BiDi at %s: %w", url, err))
	}
	conn.SetReadLimit(32 << 20)
	f = &firefox{conn: conn, ctx: ctx, pending: map[int]chan bidiReply{}, pages: map[string]*ffPage{}}
	readerDone = make(chan struct{})
	go f.read(readerDone)
	if err := f.call(timeout, "session.new", map[string]any{"capabilities": map[string]any{}}, nil); err != nil {
		return fail(err)
	}
	if err := f.call(timeout, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}, nil); err != nil {
		return fail(err)
	}
	return f, stop, nil
}

func jsValue(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// read dispatches command results to their callers and log entries to their pages.
func (f *firefox) read(done chan struct{}) {
	defer close(done)
	for {
		_, b, err := f.conn.Read(f.ctx)
		if err != nil {
			f.mu.Lock()
			for id, ch := range f.pending {
				ch <- bidiReply{Type: "error", Error: "connection", Message: err.Error()}
				delete(f.pending, id)
			}
			f.mu.Unlock()
			return
		}
		var m struct {
			bidiReply
			ID     *int            `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.ID != nil {
			f.mu.Lock()
			ch := f.pending[*m.ID]
			delete(f.pending, *m.ID)
			f.mu.Unlock()
			if ch != nil {
				ch <- m.bidiReply
			}
			continue
		}
		if m.Method == "log.entryAdded" {
			f.logEntry(m.Params)
		}
	}
}

func (f *firefox) logEntry(params json.RawMessage) {
	var e struct {
		Level  string `json:"level"`
		Text   string `json:"text"`
		Type   string `json:"type"` // "console" or "javascript" (an uncaught error)
		Source struct {
			Context string `json:"context"`
		} `json:"source"`
	}
	if json.Unmarshal(params, &e) != nil {
		return
	}
	f.mu.Lock()
	p := f.pages[e.Source.Context]
	f.mu.Unlock()
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return // the test that owned the tab may have ended
	}
	if e.Type == "javascript" {
		p.exceptions = append(p.exceptions, e.Text)
	}
	p.t.Logf("%s console %s: %s", p.name, e.Level, e.Text)
}

// call sends one BiDi command, waits at most within for its result and decodes it into out
// (when not nil).
func (f *firefox) call(within time.Duration, method string, params any, out any) error {
	f.mu.Lock()
	f.nextID++
	id := f.nextID
	ch := make(chan bidiReply, 1)
	f.pending[id] = ch
	f.mu.Unlock()
	b, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(f.ctx, within)
	defer cancel()
	if err := f.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Type == "error" {
			return fmt.Errorf("%s: %s: %s", method, r.Error, r.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		delete(f.pending, id)
		f.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// ffPage is one Firefox tab showing the web client as one user.
type ffPage struct {
	f       *firefox
	t       *testing.T
	name    string
	context string // BiDi browsing context id

	mu         sync.Mutex
	exceptions []string
	closed     bool // the tab is closed: its test may have ended, log nothing more
}

// bidiTimeout bounds every BiDi command of a page (a script that awaits a promise included).
const bidiTimeout = 20 * time.Second

// openFirefoxPage opens a new tab of the shared Firefox at url and waits for it to load; the
// tab is closed when the test ends.
func openFirefoxPage(t *testing.T, name, url string) *ffPage {
	t.Helper()
	var created struct {
		Context string `json:"context"`
	}
	f := sharedFirefox(t)
	if err := f.call(bidiTimeout, "browsingContext.create", map[string]any{"type": "tab"}, &created); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	p := &ffPage{f: f, t: t, name: name, context: created.Context}
	f.mu.Lock()
	f.pages[p.context] = p
	f.mu.Unlock()
	t.Cleanup(p.close)
	if err := f.call(bidiTimeout, "browsingContext.navigate", map[string]any{"context": p.context, "url": url, "wait": "complete"}, nil); err != nil {
		t.Fatalf("%s: open %s: %v", name, url, err)
	}
	return p
}

// eval runs a JavaScript expression (awaiting a promise) and decodes its value, which must be
// JSON-serialisable, into out.
func (p *ffPage) eval(expr string, out any) error {
	var r struct {
		Type   string `json:"type"`
		Result struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	wrapped := fmt.Sprintf("(async () => JSON.stringify(await (%s)) ?? 'null')()", expr)
	if err := p.f.call(bidiTimeout, "script.evaluate", map[string]any{
		"expression": wrapped, "target": map[string]any{"context": p.context},
		"awaitPromise": true, "resultOwnership": "none",
	}, &r); err != nil {
		return err
	}
	if r.Type == "exception" {
		return errors.New(r.ExceptionDetails.Text)
	}
	s, ok := r.Result.Value.(string)
	if !ok {
		return fmt.Errorf("eval %s: got a %s", expr, r.Result.Type)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal([]byte(s), out)
}

// ffEval is eval that fails the test on error.
func ffEval[T any](p *ffPage, expr string) T {
	p.t.Helper()
	var v T
	if err := p.eval(expr, &v); err != nil {
		p.t.Fatalf("%s: eval %s: %v", p.name, expr, err)
	}
	return v
}

// waitJS polls a boolean expression until it is true, at most for within; on failure it
// reports describe's value as what the page shows.
func (p *ffPage) waitJS(what, cond, describe string, within time.Duration) {
	p.t.Helper()
	pollPage(p.f.ctx, p.t, p.name, what, within,
		func() (bool, error) {
			var ok bool
			err := p.eval(cond, &ok)
			return ok, err
		},
		func() any {
			var got any
			_ = p.eval(describe, &got)
			return got
		})
}

// pointer runs one sequence of mouse actions on the page (trusted events, as from a person).
func (p *ffPage) pointer(actions ...map[string]any) {
	p.t.Helper()
	if err := p.f.call(bidiTimeout, "input.performActions", map[string]any{
		"context": p.context,
		"actions": []any{map[string]any{
			"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"}, "actions": actions,
		}},
	}, nil); err != nil {
		p.t.Fatalf("%s: pointer %v: %v", p.name, actions, err)
	}
}

// centre returns the centre of the visible element sel in viewport pixels.
func (p *ffPage) centre(sel string) (x, y int) {
	p.t.Helper()
	p.waitJS(sel+" visible", fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.offsetParent !== null && !e.disabled; })()`, sel),
		fmt.Sprintf(`document.querySelector(%q)?.outerHTML`, sel), 5*time.Second)
	pt := ffEval[[]float64](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`, sel))
	return int(pt[0]), int(pt[1])
}

// click clicks the element like a person once visible.
func (p *ffPage) click(sel string) {
	p.t.Helper()
	x, y := p.centre(sel)
	p.pointer(map[string]any{"type": "pointerMove", "x": x, "y": y},
		map[string]any{"type": "pointerDown", "button": 0}, map[string]any{"type": "pointerUp", "button": 0})
}

// holdTalk presses the button sel and keeps it pressed; the returned func releases it.
func (p *ffPage) holdTalk(sel string) (release func()) {
	p.t.Helper()
	x, y := p.centre(sel)
	p.pointer(map[string]any{"type": "pointerMove", "x": x, "y": y}, map[string]any{"type": "pointerDown", "button": 0})
	return func() {
		p.t.Helper()
		p.pointer(map[string]any{"type": "pointerUp", "button": 0})
	}
}

// waitFloor waits until #floor-state is visible with the given data-state and text.
func (p *ffPage) waitFloor(state, text string, within time.Duration) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("floor state %s %q", state, text),
		fmt.Sprintf(`(() => { const e = document.querySelector("#floor-state"); return !!e && !e.closest("[hidden]") && e.dataset.state === %q && e.textContent.includes(%q); })()`, state, text),
		`(() => { const e = document.querySelector("#floor-state"); return e && (e.dataset.state + ": " + e.textContent); })()`, within)
}

// noExceptions fails the test when the page threw an uncaught exception.
func (p *ffPage) noExceptions() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.exceptions) > 0 {
		p.t.Errorf("%s: uncaught exceptions in the page: %q", p.name, p.exceptions)
	}
}

// close closes the tab, as a person closing it would (once; also when the test ends).
func (p *ffPage) close() {
	p.mu.Lock()
	done := p.closed
	p.closed = true
	p.mu.Unlock()
	if done {
		return
	}
	p.f.mu.Lock()
	delete(p.f.pages, p.context)
	p.f.mu.Unlock()
	if err := p.f.call(bidiTimeout, "browsingContext.close", map[string]any{"context": p.context}, nil); err != nil {
		p.t.Errorf("%s: close tab: %v", p.name, err)
	}
}

// mustJoin is joinWithAudio for a Firefox page.
func (p *ffPage) mustJoin(channel string) {
	p.t.Helper()
	joinWithAudio(p, channel)
}
