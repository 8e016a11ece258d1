package web_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/minilivechat/minilivechat/admin/tlscert"
	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
	"github.com/minilivechat/minilivechat/gateway/token"
)

// insecureSentence is what the page shows when it is opened over plain HTTP from an address
// other than the browser's own machine (docs/web-client.md).
const insecureSentence = "this page needs https for the microphone; start lcserver with --tls-self-signed"

// lanName is the host name the browser opens the server by: the machine's mDNS name, which
// the self-signed certificate covers, as a phone on the LAN would use it; Chromium resolves
// it to 127.0.0.1 through --host-resolver-rules.
func lanName() string {
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" && !strings.Contains(h, ".") {
		return h + ".local"
	}
	return "lcserver-e2e.test"
}

// pageAt is the --dev style link for user on base (scheme://name:port).
func pageAt(t *testing.T, base, user string) string {
	t.Helper()
	tok, err := token.Mint([]byte(e2eSecret), user, 100, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/?user=%s&token=%s", base, user, tok)
}

// TestBrowserOverHTTPSByHostName is issue 10's "Must show 1": Chromium opens the web client
// by a host name that is not localhost, over HTTPS with lcserver's self-signed certificate,
// trusted by its SPKI hash only (every other certificate check stays on); both pages get the
// (fake) microphone, alice talks, bob hears her. The same page over plain HTTP by that name
// says it needs HTTPS and goes on working without a microphone.
func TestBrowserOverHTTPSByHostName(t *testing.T) {
	requireChromium(t)
	name := lanName()
	s := startServer(t, func(c *server.Config) { c.TLSSelfSigned, c.DataDir = true, t.TempDir() })
	leaf := s.srv.Certificate()
	if leaf == nil || s.srv.Scheme() != "https" {
		t.Fatalf("server is not self-signed HTTPS: %s", s.srv.Scheme())
	}
	plain := startServer(t)

	browser := newBrowser(t, 90*time.Second,
		chromedp.Flag("host-resolver-rules", "MAP "+name+" 127.0.0.1 , MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors-spki-list", tlscert.SPKIHash(leaf)),
	)
	httpsBase := "https://" + name + ":" + strconv.Itoa(s.srv.Port())
	const ch = "CH_0001"

	a := openPage(t, browser, "alice", pageAt(t, httpsBase, "alice"))
	b := openPage(t, browser, "bob", pageAt(t, httpsBase, "bob"))
	for _, p := range []*page{a, b} {
		if got := mustEval[string](p, "location.origin"); got != httpsBase {
			t.Fatalf("%s: page origin %s, want %s", p.name, got, httpsBase)
		}
		if !mustEval[bool](p, "window.isSecureContext") {
			t.Fatalf("%s: HTTPS page is not a secure context", p.name)
		}
		// Connected means wss://: an https page may not open ws:// (mixed content).
		p.mustJoinWithAudio(ch)
		if !mustEval[bool](p, `document.querySelector("#insecure").hidden`) {
			t.Errorf("%s: the HTTPS page shows the plain-HTTP warning", p.name)
		}
		if note := mustEval[string](p, fmt.Sprintf("lc.state.rooms[%q].mediaNote || ''", ch)); note != "" {
			t.Errorf("%s: joined with a media note: %q", p.name, note)
		}
	}
	base := stat[inbound](b, "inboundAudio", ch)
	release := a.holdTalk("#ptt")
	a.waitFloor("talking", "You are talking", 5*time.Second)
	b.waitFloor("taken", "alice is talking", 5*time.Second)
	b.waitJS("≥ 100 packets of alice with sound at bob",
		fmt.Sprintf(`lc.inboundAudio(%q).then(s => s.packetsReceived >= %d && s.audioLevel > 0)`, ch, base.PacketsReceived+100),
		fmt.Sprintf(`lc.inboundAudio(%q)`, ch), 15*time.Second)
	release()
	b.waitFloor("idle", "Idle", 5*time.Second)

	// The same client over plain HTTP by the same name: not a secure context.
	httpBase := "http://" + name + ":" + strconv.Itoa(plain.srv.Port())
	c := openPage(t, browser, "carol", pageAt(t, httpBase, "carol"))
	c.waitJS("plain-HTTP sentence shown",
		fmt.Sprintf(`(() => { const e = document.querySelector("#insecure"); return !e.hidden && e.textContent.toLowerCase().includes(%q); })()`, insecureSentence),
		`document.querySelector("#insecure").outerHTML`, 5*time.Second)
	if mustEval[bool](c, "window.isSecureContext") {
		t.Fatal("plain HTTP by a host name counts as a secure context; the test shows nothing")
	}
	c.waitJS("connected over ws://", `lc.state.conn === "ready"`, `lc.state`, 10*time.Second)
	c.click(fmt.Sprintf(`[data-testid="join-%s"]`, ch))
	room := fmt.Sprintf("lc.state.rooms[%q]", ch)
	c.waitJS("joined, listening only, told why",
		fmt.Sprintf(`(%s?.mediaNote || "").toLowerCase().includes(%q)`, room, insecureSentence), room, 10*time.Second)
	c.waitText("#members", "carol", 5*time.Second)
	for _, p := range []*page{a, b, c} {
		p.noExceptions()
	}
}
