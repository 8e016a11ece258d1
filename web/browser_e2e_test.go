package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// e2eSecret signs the tokens of the in-process server.
const e2eSecret = "browser-e2e-secret"

// liveServer is a real lcserver started in-process on ephemeral ports, advertising 127.0.0.1.
type liveServer struct {
	t    *testing.T
	srv  *server.Server
	base string // http://127.0.0.1:port
}

// startServer starts the server; tweak, when given, adjusts its configuration first.
func startServer(t *testing.T, tweak ...func(*server.Config)) *liveServer {
	t.Helper()
	cfg := server.Config{
		Port: 0, UDPPort: 0, Bind: "127.0.0.1", AdvertiseIP: "127.0.0.1",
		Secret: e2eSecret, Version: "e2e",
		// Shorter than the 6 s default so that holding past it shows the page's pings keep
		// the floor, without making the test slow.
		FloorPingTimeout: 3 * time.Second,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, stop, err := server.Start(cfg)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return &liveServer{t: t, srv: srv, base: "http://127.0.0.1:" + strconv.Itoa(srv.Port())}
}

// pageURL is the link `lcserver --dev` prints for user, with a token allowing maxPriority.
func (s *liveServer) pageURL(user string, maxPriority int) string {
	tok, err := token.Mint([]byte(e2eSecret), user, maxPriority, time.Hour, time.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return fmt.Sprintf("%s/?user=%s&token=%s", s.base, user, tok)
}

// getJSON reads an admin or public route of the server (loopback needs no admin token).
func getJSON[T any](s *liveServer, path string) T {
	s.t.Helper()
	var out T
	res, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: status %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	return out
}

// peerOf returns the server's view of user's media peer in channel.
func (s *liveServer) peerOf(user, channel string) (admin.PeerList, int) {
	peers := getJSON[admin.PeerList](s, "/admin/peers")
	for i, p := range peers.Peers {
		if p.UserID == user && p.ChannelID == channel {
			return peers, i
		}
	}
	return peers, -1
}

// shots collects screenshots: always into a temp dir, and the ones meant for the docs also
// into $LIVECHAT_SCREENSHOTS (e.g. docs/screenshots) when it is set.
type shots struct {
	t    *testing.T
	dir  string
	docs string
}

func newShots(t *testing.T) *shots {
	docs := os.Getenv("LIVECHAT_SCREENSHOTS")
	if docs != "" && !filepath.IsAbs(docs) {
		// go test runs in the package directory; a relative path means the repository root.
		docs = filepath.Join("..", docs)
	}
	return &shots{t: t, dir: t.TempDir(), docs: docs}
}

func (s *shots) take(p *page, name string, forDocs bool) {
	s.t.Helper()
	path := p.screenshot(s.dir, name)
	s.t.Logf("screenshot %s", path)
	if forDocs && s.docs != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			err = os.WriteFile(filepath.Join(s.docs, name+".png"), b, 0o644)
		}
		if err != nil {
			s.t.Errorf("copy screenshot to %s: %v", s.docs, err)
		}
	}
}

// phone makes the page a 390×844 touch screen.
func (p *page) phone() {
	p.t.Helper()
	err := chromedp.Do(p.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true,
		})
		if err == nil {
			_, err = cdp.Call(ctx, tg, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 1})
		}
		return err
	}))
	if err != nil {
		p.t.Fatalf("%s: phone viewport: %v", p.name, err)
	}
}

// holdTouch puts a finger on the element sel and keeps it there; the returned func lifts it.
func (p *page) holdTouch(sel string) (lift func()) {
	p.t.Helper()
	x, y := p.centre(sel)
	touch := func(typ input.DispatchTouchEventType, points []*input.TouchPoint) {
		p.t.Helper()
		err := chromedp.Do(p.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: typ, TouchPoints: points})
			return err
		}))
		if err != nil {
			p.t.Fatalf("%s: touch %s: %v", p.name, typ, err)
		}
	}
	touch(input.DispatchTouchEventTypeTouchStart, []*input.TouchPoint{{X: x, Y: y}})
	return func() {
		p.t.Helper()
		touch(input.DispatchTouchEventTypeTouchEnd, []*input.TouchPoint{})
	}
}

// pageDriver is what the Chromium (page) and Firefox (ffPage) drivers share, so the steps a
// user takes in the web client are written once.
type pageDriver interface {
	waitJS(what, cond, describe string, within time.Duration)
	click(sel string)
}

// joinWithAudio waits for sign-in (from the URL), joins channel from the list, and waits
// until the server answered the page's offer (room media "audio") and the peer connection is
// up.
func joinWithAudio(p pageDriver, channel string) {
	p.waitJS("connected", `lc.state.conn === "ready"`, `lc.state`, 10*time.Second)
	p.waitJS("channel listed", fmt.Sprintf(`!!document.querySelector('[data-testid="join-%s"]')`, channel), `document.querySelector("#channel-list").innerText`, 5*time.Second)
	p.click(fmt.Sprintf(`[data-testid="join-%s"]`, channel))
	room := fmt.Sprintf("lc.state.rooms[%q]", channel)
	p.waitJS("joined with audio", fmt.Sprintf(`%s?.media === "audio"`, room), room, 10*time.Second)
	p.waitJS("peer connected", fmt.Sprintf(`lc.pc(%q)?.connectionState === "connected"`, channel),
		fmt.Sprintf(`lc.pc(%q)?.connectionState`, channel), 10*time.Second)
}

// mustJoinWithAudio is joinWithAudio for a Chromium page.
func (p *page) mustJoinWithAudio(channel string) {
	p.t.Helper()
	joinWithAudio(p, channel)
}

// stat reads lc.inboundAudio or lc.outboundAudio of channel.
func stat[T any](p *page, fn, channel string) T {
	p.t.Helper()
	return mustEval[T](p, fmt.Sprintf("lc.%s(%q)", fn, channel))
}

type outbound struct {
	PacketsSent uint64 `json:"packetsSent"`
	BytesSent   uint64 `json:"bytesSent"`
}

// TestBrowserPushToTalk is the end-to-end walk of the web client against the real server:
// two users talk and chat in one channel, a third with emergency priority preempts, the pages
// and the server's counters agree, and everyone leaving returns the server to empty.
func TestBrowserPushToTalk(t *testing.T) {
	browser := newBrowser(t, 150*time.Second)
	s := startServer(t)
	shot := newShots(t)
	const ch = "CH_0001"

	a := openPage(t, browser, "alice", s.pageURL("alice", 100))
	a.phone()
	b := openPage(t, browser, "bob", s.pageURL("bob", 100))
	for _, p := range []*page{a, b} {
		p.mustJoinWithAudio(ch)
	}
	if q := mustEval[string](a, "location.search"); q != "" {
		t.Errorf("alice's address bar still carries %q after sign-in", q)
	}
	a.waitText("#members", "bob", 5*time.Second)
	b.waitText("#members", "alice", 5*time.Second)
	b.waitText(fmt.Sprintf(`#channel-list li[data-channel=%q] .count`, ch), "2/", 5*time.Second)
	a.waitFloor("idle", "Idle", 2*time.Second)
	shot.take(a, "idle-phone", false)

	// (a) alice talks, bob hears her.
	base := stat[inbound](b, "inboundAudio", ch)
	release := a.holdTalk("#ptt")
	a.waitFloor("talking", "You are talking", 5*time.Second)
	b.waitFloor("taken", "alice is talking", 5*time.Second)
	b.waitJS("talker highlighted", `document.querySelector("#members li.talking")?.dataset.user === "alice"`,
		`document.querySelector("#members").innerHTML`, 2*time.Second)
	b.waitText(fmt.Sprintf(`#channel-list li[data-channel=%q] .floor`, ch), "alice talking", 2*time.Second)
	b.waitJS("≥ 100 packets of alice with sound at bob",
		fmt.Sprintf(`lc.inboundAudio(%q).then(s => s.packetsReceived >= %d && s.audioLevel > 0)`, ch, base.PacketsReceived+100),
		fmt.Sprintf(`lc.inboundAudio(%q)`, ch), 15*time.Second)
	// alice keeps the floor past the ping timeout: her page pings every 2 s.
	pongs := mustEval[int](a, "lc.state.pongs")
	a.waitJS("two pongs while talking", fmt.Sprintf("lc.state.pongs >= %d", pongs+2), "lc.state.pongs", 6*time.Second)
	a.waitFloor("talking", "You are talking", time.Second)
	b.waitJS("speaker meter moves", `Number(document.querySelector("#rx-level").dataset.level) > 0`,
		`document.querySelector("#rx-level").dataset.level`, 5*time.Second)
	shot.take(a, "talking-phone", true)
	shot.take(b, "listening", false)
	release()
	a.waitFloor("idle", "Idle", 5*time.Second)
	b.waitFloor("idle", "Idle", 5*time.Second)

	// The server's counters agree with the pages. packets_out counts RTP only: what bob's
	// page received is what the server sent bob's peer (no loss on loopback; stats and
	// counters settle within a moment of each other). packets_in counts every datagram but
	// STUN (RTP, RTCP, DTLS records): at least the RTP alice's page sent, and not much more.
	deadline := time.Now().Add(5 * time.Second)
	for {
		peers, ib := s.peerOf("bob", ch)
		_, ia := s.peerOf("alice", ch)
		got := stat[inbound](b, "inboundAudio", ch)
		sent := stat[outbound](a, "outboundAudio", ch)
		if ib < 0 || ia < 0 {
			t.Fatalf("server lists no peer of alice or bob in %s: %+v", ch, peers)
		}
		outBob := peers.Peers[ib].PacketsOut
		inAlice := peers.Peers[ia].PacketsIn
		agree := got.PacketsReceived > 0 && got.PacketsReceived <= outBob && outBob-got.PacketsReceived <= 5 &&
			sent.PacketsSent > 0 && inAlice >= sent.PacketsSent && inAlice <= sent.PacketsSent+sent.PacketsSent/10+20
		if agree {
			t.Logf("bob: page received %d, server sent %d; alice: page sent %d, server received %d",
				got.PacketsReceived, outBob, sent.PacketsSent, inAlice)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pages and server disagree: bob's page received %d, server sent bob %d; alice's page sent %d, server received %d",
				got.PacketsReceived, outBob, sent.PacketsSent, inAlice)
		}
		time.Sleep(pollEvery) // polling two independent counters, bounded by deadline
	}

	// bob asks while alice talks (by touch this time): queued, then granted when she lets go.
	release = a.holdTouch("#ptt")
	a.waitFloor("talking", "You are talking", 5*time.Second)
	releaseB := b.holdTalk("#ptt")
	b.waitFloor("queued", "Queued at position 1 of 1 — alice is talking", 5*time.Second)
	release()
	b.waitFloor("talking", "You are talking", 5*time.Second)
	a.waitFloor("taken", "bob is talking", 5*time.Second)
	releaseB()
	a.waitFloor("idle", "Idle", 5*time.Second)
	b.waitFloor("idle", "Idle", 5*time.Second)

	// Chat from bob reaches alice.
	b.chat("hello from bob")
	a.waitText("#chat-log", "hello from bob", 5*time.Second)
	a.waitJS("sender shown", `document.querySelector("#chat-log li:last-child")?.dataset.user === "bob"`,
		`document.querySelector("#chat-log").innerHTML`, 2*time.Second)

	// (b) carol may use emergency priority; alice may not.
	c := openPage(t, browser, "carol", s.pageURL("carol", 255))
	c.mustJoinWithAudio(ch)
	c.waitJS("emergency button shown", `!document.querySelector("#emergency").hidden`, `lc.state.maxPriority`, 2*time.Second)
	if hidden := mustEval[bool](a, `document.querySelector("#emergency").hidden`); !hidden {
		t.Errorf("alice's page shows the emergency button, but her token allows only 100")
	}

	releaseA := a.holdTalk("#ptt")
	a.waitFloor("talking", "You are talking", 5*time.Second)
	c.waitFloor("taken", "alice is talking", 5*time.Second)
	releaseC := c.holdTalk("#emergency")
	c.waitFloor("talking", "You are talking", 5*time.Second)
	a.waitFloor("revoked", "Revoked (preempted) — carol is talking", 5*time.Second)
	b.waitFloor("taken", "carol is talking (emergency)", 5*time.Second)
	base = stat[inbound](b, "inboundAudio", ch)
	b.waitJS("carol's audio reaches bob",
		fmt.Sprintf(`lc.inboundAudio(%q).then(s => s.packetsReceived >= %d && s.audioLevel > 0)`, ch, base.PacketsReceived+50),
		fmt.Sprintf(`lc.inboundAudio(%q)`, ch), 10*time.Second)
	shot.take(a, "revoked-phone", false)
	shot.take(b, "web-client", true)
	releaseA() // alice lets go after losing the floor: nothing to release
	releaseC()
	for _, p := range []*page{a, b, c} {
		p.waitFloor("idle", "Idle", 5*time.Second)
	}

	// alice leaves: the others see it, and the server forgets her peer.
	a.click(fmt.Sprintf(`[data-testid="join-%s"]`, ch))
	b.waitJS("alice gone from members", `!document.querySelector('#members li[data-user="alice"]')`,
		`document.querySelector("#members").innerText`, 5*time.Second)

	for _, p := range []*page{a, b, c} {
		p.noExceptions()
	}

	// Everyone leaving returns the server to empty.
	for _, p := range []*page{a, b, c} {
		if err := chromedp.Cancel(p.ctx); err != nil {
			t.Errorf("close %s: %v", p.name, err)
		}
	}
	s.waitEmpty(t)
}

// TestBrowserSignedInElsewhere opens the same user twice: the first page stops and says why,
// instead of reconnecting and pushing the second one out in turn. The server runs a short
// heartbeat, so the second page staying on one session also shows that it sends HEARTBEAT at
// HELLO's interval.
func TestBrowserSignedInElsewhere(t *testing.T) {
	browser := newBrowser(t, 60*time.Second)
	s := startServer(t, func(c *server.Config) {
		// A page that missed HEARTBEATs would be closed as a zombie within 0.9 s.
		c.HeartbeatInterval = 300 * time.Millisecond
		c.HeartbeatGrace = 300 * time.Millisecond
	})
	first := openPage(t, browser, "alice-1", s.pageURL("alice", 100))
	first.waitJS("connected", `lc.state.conn === "ready"`, `lc.state`, 10*time.Second)
	second := openPage(t, browser, "alice-2", s.pageURL("alice", 100))
	second.waitJS("connected", `lc.state.conn === "ready"`, `lc.state`, 10*time.Second)

	first.waitJS("first page gave up", `lc.state.conn === "closed"`, `lc.state`, 30*time.Second)
	// The browser sees the server's own close code, not 1006: the gateway sends one close
	// frame per connection (gateway TestServerSendsOneCloseFrame).
	if got := mustEval[float64](first, "lc.client.lastClose ? lc.client.lastClose.code : 0"); got != 4002 {
		t.Errorf("first page's WebSocket closed with %v, want 4002 (session replaced)", got)
	}
	first.waitJS("first page says why", `/signed in somewhere else/i.test(document.querySelector("#conn-state").textContent)`,
		`document.querySelector("#conn-state").textContent`, 2*time.Second)
	first.waitJS("reconnect offered", `!document.querySelector("#reconnect").hidden`, `document.body.innerText`, 2*time.Second)
	second.waitJS("second page connected", `lc.state.conn === "ready"`, `lc.state`, 10*time.Second)
	session := mustEval[string](second, "lc.state.sessionId")
	acks := mustEval[int](second, "lc.state.heartbeatAcks")
	second.waitJS("heartbeats answered", fmt.Sprintf("lc.state.heartbeatAcks >= %d", acks+8), "lc.state.heartbeatAcks", 5*time.Second)
	if now := mustEval[string](second, "lc.state.sessionId"); now != session || mustEval[string](second, "lc.state.conn") != "ready" {
		t.Errorf("the second page's session changed from %s to %s: it was dropped", session, now)
	}
	users := getJSON[struct {
		Users []struct {
			UserID string `json:"user_id"`
		} `json:"users"`
	}](s, "/admin/users")
	if len(users.Users) != 1 || users.Users[0].UserID != "alice" {
		t.Errorf("server users = %+v, want alice once", users.Users)
	}
	first.noExceptions()
	second.noExceptions()
}

// TestBrowserChannelListLive checks that the channel list follows other users' changes: a
// channel created elsewhere appears, its new name shows, and its deletion removes it and
// tells a page that had joined it.
func TestBrowserChannelListLive(t *testing.T) {
	browser := newBrowser(t, 60*time.Second)
	s := startServer(t)
	p := openPage(t, browser, "bob", s.pageURL("bob", 100))
	p.waitJS("connected", `lc.state.conn === "ready"`, `lc.state`, 10*time.Second)
	p.waitJS("presets listed", `!!document.querySelector('#channel-list li[data-channel="CH_0001"]')`,
		`document.querySelector("#channel-list").innerText`, 5*time.Second)

	tok, err := token.Mint([]byte(e2eSecret), "dave", 100, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dave := wstest.Dial(t, "ws://127.0.0.1:"+strconv.Itoa(s.srv.Port())+"/ws")
	defer dave.Close()
	dave.Identify("dave", tok, -1)
	dave.Request(10, map[string]any{"channel_id": "CH_TEST", "freq": "0042", "channel_name": "Night shift", "capacity": 5})

	row := `#channel-list li[data-channel="CH_TEST"]`
	p.waitText(row, "Night shift", 5*time.Second)
	p.waitText(row, "0/5", 2*time.Second)
	p.click(`[data-testid="join-CH_TEST"]`)
	p.waitJS("joined", `lc.state.rooms.CH_TEST?.media === "audio"`, `lc.state.rooms`, 10*time.Second)
	p.waitText(row, "1/5", 5*time.Second)

	dave.Request(13, map[string]any{"channel_id": "CH_TEST", "channel_name": "Day shift"})
	p.waitText(row, "Day shift", 5*time.Second)
	p.waitText("#room-title", "Day shift", 2*time.Second)

	dave.Request(14, map[string]any{"channel_id": "CH_TEST"})
	p.waitJS("deleted channel gone", `!document.querySelector('#channel-list li[data-channel="CH_TEST"]') && !lc.state.rooms.CH_TEST`,
		`document.querySelector("#channel-list").innerText`, 5*time.Second)
	p.waitText("#error", "Channel CH_TEST was deleted", 2*time.Second)
	p.noExceptions()
}

// TestBrowserFloorDeniedAndRevoked shows the two refusals a talker can meet: a full queue
// (denied) and an operator's revoke, which stays on screen while the button is held.
func TestBrowserFloorDeniedAndRevoked(t *testing.T) {
	browser := newBrowser(t, 90*time.Second)
	s := startServer(t, func(c *server.Config) { c.QueueLimit = 1 })
	const ch = "CH_0002"
	a := openPage(t, browser, "alice", s.pageURL("alice", 100))
	b := openPage(t, browser, "bob", s.pageURL("bob", 100))
	c := openPage(t, browser, "carol", s.pageURL("carol", 100))
	for _, p := range []*page{a, b, c} {
		p.mustJoinWithAudio(ch)
	}

	releaseA := a.holdTalk("#ptt")
	a.waitFloor("talking", "You are talking", 5*time.Second)
	releaseB := b.holdTalk("#ptt")
	b.waitFloor("queued", "Queued at position 1 of 1", 5*time.Second)
	releaseC := c.holdTalk("#ptt")
	c.waitFloor("denied", "Denied (queue full)", 5*time.Second)
	releaseC()
	releaseB()
	b.waitFloor("taken", "alice is talking", 5*time.Second)
	c.waitFloor("taken", "alice is talking", 5*time.Second)

	res, err := http.Post(s.base+"/admin/floor-revoke/"+ch, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var revoked struct {
		RevokedFrom *string `json:"revoked_from"`
	}
	err = json.NewDecoder(res.Body).Decode(&revoked)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || revoked.RevokedFrom == nil || *revoked.RevokedFrom != "alice" {
		t.Fatalf("admin revoke: status %d, %+v, %v", res.StatusCode, revoked, err)
	}
	a.waitFloor("revoked", "Revoked (revoked by an operator)", 5*time.Second)
	b.waitFloor("idle", "Idle", 5*time.Second)
	if st := mustEval[string](a, `document.querySelector("#floor-state").dataset.state`); st != "revoked" {
		t.Errorf("alice's page dropped the revoke notice while she still holds the button: %s", st)
	}
	releaseA()
	a.waitFloor("idle", "Idle", 5*time.Second)
	for _, p := range []*page{a, b, c} {
		p.noExceptions()
	}
}

// waitEmpty waits until the server has no user, peer or floor left: pages that closed took
// everything of theirs with them.
func (s *liveServer) waitEmpty(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := getJSON[admin.Status](s, "/admin/status")
		if st.Users == 0 && st.Peers == 0 && st.FloorActive == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not back to empty after the pages closed: %+v", st)
		}
		time.Sleep(pollEvery) // polling the server's counts, bounded by deadline
	}
}
