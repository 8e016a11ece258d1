package web_test

import (
	"github.com/minilivechat/minilivechat/actors/actortest"

	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coder/websocket"
)

// pressJoinOnFake waits until the page is signed in to the fake server and lists its channel,
// and presses that channel's join button; what the join brings is the test's to wait for.
func (p *page) pressJoinOnFake() {
	p.t.Helper()
	p.waitJS("connected", `lc.state.conn === "ready"`, `lc.state`, 10*time.Second)
	p.waitText("#channel-list", "Fake CH_0001", 5*time.Second)
	p.click(`[data-testid="join-CH_0001"]`)
}

// TestBrowserSignalingAgainstFakeServer drives two pages through sign-in, a join that falls
// back to signaling-only when the offer is refused, floor states, chat, and reconnecting
// after the server drops the connection.
func TestBrowserSignalingAgainstFakeServer(t *testing.T) {
	browser := newBrowser(t, 90*time.Second)
	f := newFakeServer(t)

	a := openPage(t, browser, "alice", f.url("alice", 100))
	b := openPage(t, browser, "bob", f.url("bob", 100))
	for _, p := range []*page{a, b} {
		p.pressJoinOnFake()
		p.waitJS("joined signaling-only", `lc.state.rooms.CH_0001?.media === "signaling-only"`, `lc.state.rooms`, 10*time.Second)
		p.waitText("#media-state", "refused the audio offer", 2*time.Second)
	}
	a.waitText("#members", "bob", 5*time.Second)
	// Chromium's fake microphone beeps: the meter must move.
	a.waitJS("input level meter moves", `Number(document.querySelector("#level").dataset.level) > 0.01`,
		`document.querySelector("#level").dataset.level`, 5*time.Second)

	release := a.holdTalk("#ptt")
	a.waitFloor("talking", "You are talking", 5*time.Second)
	b.waitFloor("taken", "alice is talking", 5*time.Second)
	b.waitJS("talker highlighted", `document.querySelector('#members li.talking')?.dataset.user === "alice"`, `document.querySelector('#members').innerHTML`, 2*time.Second)
	release()
	a.waitFloor("idle", "Idle", 5*time.Second)
	b.waitFloor("idle", "Idle", 5*time.Second)

	// The space bar is a talk button too; a second talker meanwhile is queued.
	a.key("keyDown")
	a.waitFloor("talking", "You are talking", 5*time.Second)
	releaseB := b.holdTalk("#ptt")
	b.waitFloor("queued", "Queued at position 1 of 1 — alice is talking", 5*time.Second)
	releaseB()
	a.key("keyUp")
	a.waitFloor("idle", "Idle", 5*time.Second)
	b.waitFloor("idle", "Idle", 5*time.Second)

	b.chat("hello from bob")
	a.waitText("#chat-log", "hello from bob", 5*time.Second)

	// A screen reader can name every control on screen: a <label>, an aria-label or its text.
	// The join buttons name their channel, since "Leave" alone says nothing in a list.
	unnamed := mustEval[[]any](a, `[...document.querySelectorAll("button, input")]
		.filter((el) => el.offsetParent !== null && !el.labels?.length && !el.getAttribute("aria-label") && !el.textContent.trim())
		.map((el) => el.id || el.outerHTML)`)
	if len(unnamed) != 0 {
		t.Fatalf("controls without an accessible name: %v", unnamed)
	}
	if got := mustEval[string](a, `document.querySelector('[data-testid="join-CH_0001"]').getAttribute("aria-label")`); got != "Leave Fake CH_0001" {
		t.Fatalf("join button of a joined channel is labelled %q, want %q", got, "Leave Fake CH_0001")
	}

	// A server error is shown as a sentence with its code.
	mustEval[any](a, `lc.client.join("CH_NOPE").then(() => null)`)
	a.waitText("#error", "Could not join CH_NOPE: No such channel. (2000: no such channel)", 5*time.Second)

	before := f.identifies()
	f.dropAll(websocket.StatusInternalError, "restart")
	actortest.Eventually(t, 15*time.Second, "both pages IDENTIFY again and re-join", func() bool {
		return f.identifies() >= before+2 && f.isMember("CH_0001", "alice") && f.isMember("CH_0001", "bob")
	})
	a.waitJS("reconnected", `lc.state.conn === "ready" && lc.state.rooms.CH_0001?.media === "signaling-only"`, `lc.state`, 5*time.Second)
	// The re-joined channel works: chat still flows both ways.
	a.chat("back again")
	b.waitText("#chat-log", "back again", 5*time.Second)

	// A reload keeps the sign-in (the token left the address bar for sessionStorage).
	if err := chromedp.Do(a.ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	a.waitJS("signed in again after reload", `lc.state.conn === "ready" && lc.state.userId === "alice" && location.search === ""`,
		`[lc.state.conn, location.href]`, 10*time.Second)
	a.noExceptions()
	b.noExceptions()
}

// TestBrowserAudioAgainstFakeRelay checks the page's WebRTC side against a pion-based relay:
// the offer is answered, the talker's microphone reaches the listener's page, and getStats
// shows it there with a non-zero audio level.
func TestBrowserAudioAgainstFakeRelay(t *testing.T) {
	browser := newBrowser(t, 90*time.Second)
	f := newFakeServer(t)
	f.media = newFakeMedia(t)

	a := openPage(t, browser, "alice", f.url("alice", 100))
	b := openPage(t, browser, "bob", f.url("bob", 100))
	for _, p := range []*page{a, b} {
		p.pressJoinOnFake()
		p.waitJS("joined with audio", `lc.state.rooms.CH_0001?.media === "audio"`, `lc.state.rooms`, 10*time.Second)
		p.waitJS("peer connected", `lc.pc("CH_0001")?.connectionState === "connected"`, `lc.pc("CH_0001")?.connectionState`, 10*time.Second)
	}
	base := mustEval[inbound](b, `lc.inboundAudio("CH_0001")`)
	release := a.holdTalk("#ptt")
	a.waitFloor("talking", "You are talking", 5*time.Second)
	b.waitFloor("taken", "alice is talking", 5*time.Second)
	b.waitJS("100 packets received with sound",
		fmt.Sprintf(`lc.inboundAudio("CH_0001").then(s => s.packetsReceived >= %d && s.audioLevel > 0)`, base.PacketsReceived+100),
		`lc.inboundAudio("CH_0001")`, 10*time.Second)
	release()
	a.waitFloor("idle", "Idle", 5*time.Second)
	b.waitFloor("idle", "Idle", 5*time.Second)
	if n := f.media.packetsIn("CH_0001", "alice"); n < 100 {
		t.Errorf("relay got %d packets from alice's page, want ≥ 100", n)
	}
	a.noExceptions()
	b.noExceptions()
}

// inbound is what lc.inboundAudio reports.
type inbound struct {
	PacketsReceived  uint64  `json:"packetsReceived"`
	BytesReceived    uint64  `json:"bytesReceived"`
	PacketsLost      int64   `json:"packetsLost"`
	AudioLevel       float64 `json:"audioLevel"`
	TotalAudioEnergy float64 `json:"totalAudioEnergy"`
}

// TestBrowserRefusedToken checks the sign-in form: a refused token is explained, the form
// comes back, and the page does not retry in a loop.
func TestBrowserRefusedToken(t *testing.T) {
	browser := newBrowser(t, 60*time.Second)
	f := newFakeServer(t)
	p := openPage(t, browser, "mallory", f.srv.URL+"/")
	p.waitJS("sign-in form shown", `!document.querySelector("#signin").hidden && document.querySelector("#app").hidden`, `document.body.innerText`, 5*time.Second)
	if err := chromedp.Do(p.ctx,
		chromedp.SendKeys(chromedp.CSS("#user-id"), "mallory"),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-jwt"),
		chromedp.Click(chromedp.CSS("#signin-btn")),
	); err != nil {
		t.Fatal(err)
	}
	p.waitText("#error", "The token was refused", 5*time.Second)
	p.waitJS("closed for good", `lc.state.conn === "closed" && !document.querySelector("#signin").hidden`, `lc.state`, 5*time.Second)
	if n := f.identifies(); n != 0 {
		t.Errorf("fake server accepted %d IDENTIFYs of a bad token", n)
	}
	p.noExceptions()
}
