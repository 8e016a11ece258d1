package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium binary itself: the /usr/bin/chromium wrapper adds flags
// and keys of its own (docs/web-client.md, "Browser tests").
const chromiumPath = "/usr/lib/chromium/chromium"

// pollEvery is how often a wait re-reads page state. Waiting for a condition is bounded by
// the context's deadline, never a fixed sleep.
const pollEvery = 50 * time.Millisecond

// disabledFeatures is the ONE --disable-features list: Chromium honours only the last such
// switch, so chromedp's defaults (Translate, BlinkGenPropertyTrees) are merged with ours.
// WebRtcHideLocalIpsWithMdns keeps host candidates as plain loopback addresses.
var disabledFeatures = []string{
	"Translate",
	"BlinkGenPropertyTrees",
	"WebRtcHideLocalIpsWithMdns",
	"OptimizationHints",
	"MediaRouter",
	"DialMediaRouteProvider",
	"AutofillServerCommunication",
}

// requireChromium skips the test when Chromium is missing, unless LIVECHAT_E2E=require
// (what `make e2e` sets), when a missing Chromium fails it.
func requireChromium(t *testing.T) {
	t.Helper()
	requireBrowser(t, "Chromium", chromiumPath, "chromium")
}

// requireBrowser skips the test when the browser binary at path is missing, or fails it under
// LIVECHAT_E2E=require; pkg is the Debian package that installs it.
func requireBrowser(t *testing.T, name, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := fmt.Sprintf("browser test needs %s at %s (apt-get install %s)", name, path, pkg)
	if os.Getenv("LIVECHAT_E2E") == "require" {
		t.Fatalf("%s; LIVECHAT_E2E=require makes that a failure", msg)
	}
	t.Skipf("skipping: %s; set LIVECHAT_E2E=require to fail instead", msg)
}

// allocatorOptions builds the Chromium command line by hand rather than from
// chromedp.DefaultExecAllocatorOptions, so that every flag docs/web-client.md ("Browser tests")
// names is there once.
func allocatorOptions(userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(userDataDir),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1000, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", strings.Join(disabledFeatures, ",")),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
	}
}

// newBrowser starts one headless Chromium with a fresh profile for the test; it is stopped
// when the test ends. Every page of the test is a tab of it. extra flags are added to (or, for
// the same switch, replace) those of allocatorOptions.
func newBrowser(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	requireChromium(t)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(allocatorOptions(t.TempDir()), extra...)...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	// Start the browser now so a launch failure is reported as such.
	if err := chromedp.Do(browserCtx); err != nil {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	return browserCtx
}

// page is one tab showing the web client as one user.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu         sync.Mutex
	exceptions []string // uncaught exceptions of the page, as the console reports them
}

// openPage opens a new tab at url. The page's console is copied into the test log, and its
// uncaught exceptions are kept for noExceptions.
func openPage(t *testing.T, browser context.Context, name, url string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	p := &page{t: t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		t.Fatalf("%s: open tab: %v", name, err)
	}
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() {
				p.mu.Lock()
				p.exceptions = append(p.exceptions, m.String())
				p.mu.Unlock()
			}
			t.Logf("%s console %s: %s", name, m.Type, m.Text)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-consoleDone
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: open %s: %v", name, url, err)
	}
	return p
}

// noExceptions fails the test when the page threw an uncaught exception.
func (p *page) noExceptions() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.exceptions) > 0 {
		p.t.Errorf("%s: uncaught exceptions in the page: %q", p.name, p.exceptions)
	}
}

// evalJS runs a JavaScript expression (awaiting a promise) and decodes its value.
func evalJS[T any](p *page, expr string) (T, error) {
	return chromedp.Run(p.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// mustEval is evalJS that fails the test on error.
func mustEval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := evalJS[T](p, expr)
	if err != nil {
		p.t.Fatalf("%s: eval %s: %v", p.name, expr, err)
	}
	return v
}

// waitJS polls a boolean JavaScript expression until it is true, at most for within. On
// failure it reports the value of describe (another expression) as what the page shows.
func (p *page) waitJS(what, cond, describe string, within time.Duration) {
	p.t.Helper()
	pollPage(p.ctx, p.t, p.name, what, within,
		func() (bool, error) { return evalJS[bool](p, cond) },
		func() any { got, _ := evalJS[any](p, describe); return got })
}

// pollPage is waitJS of both browsers' drivers: it calls holds every pollEvery until that
// answers true; when within passes or the browser's ctx ends first, it fails t with what shows
// reads from the page.
func pollPage(ctx context.Context, t *testing.T, page, what string, within time.Duration,
	holds func() (bool, error), shows func() any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := holds()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: %s: not reached within %v (last error %v); page shows %v", page, what, within, err, shows())
		}
		select {
		case <-time.After(pollEvery):
		case <-ctx.Done():
		}
	}
}

// waitText waits until the element's text contains want.
func (p *page) waitText(sel, want string, within time.Duration) {
	p.t.Helper()
	q := fmt.Sprintf("document.querySelector(%q)", sel)
	p.waitJS(fmt.Sprintf("%s shows %q", sel, want),
		fmt.Sprintf("(%s?.textContent || '').includes(%q)", q, want),
		fmt.Sprintf("%s?.textContent", q), within)
}

// waitFloor waits until #floor-state is visible with the given data-state and text.
func (p *page) waitFloor(state, text string, within time.Duration) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("floor state %s %q", state, text),
		fmt.Sprintf(`(() => { const e = document.querySelector("#floor-state"); return !!e && !e.closest("[hidden]") && e.dataset.state === %q && e.textContent.includes(%q); })()`, state, text),
		`(() => { const e = document.querySelector("#floor-state"); return e && (e.dataset.state + ": " + e.textContent); })()`, within)
}

// click clicks the element like a person (mouse down and up at its centre) once visible.
func (p *page) click(sel string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		p.t.Fatalf("%s: click %s: %v", p.name, sel, err)
	}
}

// centre returns the element's centre in CSS pixels.
func (p *page) centre(sel string) (x, y float64) {
	p.t.Helper()
	expr := fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`, sel)
	pt := mustEval[[]float64](p, expr)
	if len(pt) != 2 {
		p.t.Fatalf("%s: locate %s: got %v", p.name, sel, pt)
	}
	return pt[0], pt[1]
}

// mouse sends a real left-button event at (x, y) through the DevTools input domain, so the
// page sees trusted pointer events as from a person's mouse.
func (p *page) mouse(typ input.DispatchMouseEventType, x, y float64) {
	p.t.Helper()
	opts := []chromedp.MouseOption{chromedp.ButtonLeft, chromedp.ClickCount(1)}
	if typ == input.DispatchMouseEventTypeMousePressed {
		opts = append(opts, func(e *input.DispatchMouseEventParams) { e.Buttons = 1 })
	}
	if err := chromedp.Do(p.ctx, chromedp.MouseEvent(typ, x, y, opts...)); err != nil {
		p.t.Fatalf("%s: mouse %s: %v", p.name, typ, err)
	}
}

// holdTalk presses the button sel and keeps it pressed; the returned func releases it.
func (p *page) holdTalk(sel string) (release func()) {
	p.t.Helper()
	x, y := p.centre(sel)
	p.mouse(input.DispatchMouseEventTypeMouseMoved, x, y)
	p.mouse(input.DispatchMouseEventTypeMousePressed, x, y)
	return func() {
		p.t.Helper()
		p.mouse(input.DispatchMouseEventTypeMouseReleased, x, y)
	}
}

// key presses (typ "keyDown") or releases ("keyUp") the space bar on the page's body.
func (p *page) key(typ input.DispatchKeyEventType) {
	p.t.Helper()
	ev := input.DispatchKeyEventParams{Type: typ, Key: " ", Code: "Space", WindowsVirtualKeyCode: 32, NativeVirtualKeyCode: 32}
	if err := chromedp.Do(p.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, ev)
		return err
	})); err != nil {
		p.t.Fatalf("%s: key %s: %v", p.name, typ, err)
	}
}

// chat sends a chat message through the chat form like a person typing.
func (p *page) chat(text string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx,
		chromedp.SendKeys(chromedp.CSS("#chat-input"), text, chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS("#chat-send"), chromedp.NodeVisible),
	); err != nil {
		p.t.Fatalf("%s: chat: %v", p.name, err)
	}
}

// screenshot saves a PNG of the page as dir/name.png and returns the path.
func (p *page) screenshot(dir, name string) string {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatalf("write screenshot: %v", err)
	}
	return path
}
