package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/minilivechat/minilivechat/admin"
)

// talker is what the interop tests need of a page in either browser.
type talker interface {
	holdTalk(sel string) (release func())
	waitFloor(state, text string, within time.Duration)
	noExceptions()
}

// chromiumInbound and firefoxInbound read lc.inboundAudio of a page.
func chromiumInbound(p *page, ch string) inbound { return stat[inbound](p, "inboundAudio", ch) }

func firefoxInbound(p *ffPage, ch string) inbound {
	return ffEval[inbound](p, fmt.Sprintf("lc.inboundAudio(%q)", ch))
}

// hearsWithoutLoss holds the talk button of who, waits until listen (reading the listener's
// inbound-rtp figures) has received ≥ n more packets with a sound level, lets go, and then
// checks that the listener received every RTP packet the server sent its peer (packets_out)
// and lost none: 0 loss on loopback.
func hearsWithoutLoss(t *testing.T, s *liveServer, ch string, who talker, whoName string,
	listeners map[string]func() inbound, n uint64) {
	t.Helper()
	base := map[string]inbound{}
	for name, read := range listeners {
		base[name] = read()
	}
	release := who.holdTalk("#ptt")
	who.waitFloor("talking", "You are talking", 5*time.Second)
	for name, read := range listeners {
		deadline := time.Now().Add(15 * time.Second)
		for {
			got := read()
			if got.PacketsReceived >= base[name].PacketsReceived+n && got.AudioLevel > 0 {
				t.Logf("%s heard %s: %d packets, audio level %.3f", name, whoName, got.PacketsReceived-base[name].PacketsReceived, got.AudioLevel)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not hear %s: %+v (before: %+v)", name, whoName, got, base[name])
			}
			time.Sleep(pollEvery) // polling getStats, bounded by deadline
		}
	}
	release()
	who.waitFloor("idle", "Idle", 5*time.Second)
	for name, read := range listeners {
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := read()
			peers, i := s.peerOf(name, ch)
			if i < 0 {
				t.Fatalf("server lists no peer of %s: %+v", name, peers)
			}
			out := peers.Peers[i].PacketsOut
			if got.PacketsReceived == out && got.PacketsLost == 0 {
				t.Logf("%s: server sent %d RTP packets, page received %d, lost %d", name, out, got.PacketsReceived, got.PacketsLost)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("loss at %s: server sent %d RTP packets, page received %d and reports %d lost",
					name, out, got.PacketsReceived, got.PacketsLost)
			}
			time.Sleep(pollEvery) // stats and counters settle within a moment, bounded by deadline
		}
	}
}

// startInterop is the start of a test with pages in both browsers: it skips without Firefox,
// starts the shared Firefox in the background and meanwhile a Chromium and the real server.
func startInterop(t *testing.T) (chromium context.Context, s *liveServer) {
	t.Helper()
	requireFirefox(t)
	warmFirefox()
	chromium = newBrowser(t, 120*time.Second)
	s = startServer(t)
	return chromium, s
}

// TestBrowserFirefoxChromiumTalk: a Firefox page and a Chromium page in one channel of the
// real server; Firefox talks and Chromium hears, then Chromium talks and Firefox hears, each
// with every packet the server sent arriving.
func TestBrowserFirefoxChromiumTalk(t *testing.T) {
	chromium, s := startInterop(t)
	const ch = "CH_0001"

	fx := openFirefoxPage(t, "fiona", s.pageURL("fiona", 100))
	cr := openPage(t, chromium, "carl", s.pageURL("carl", 100))
	fx.mustJoin(ch)
	cr.mustJoinWithAudio(ch)

	hearsWithoutLoss(t, s, ch, fx, "fiona (Firefox)", map[string]func() inbound{
		"carl": func() inbound { return chromiumInbound(cr, ch) },
	}, 100)
	hearsWithoutLoss(t, s, ch, cr, "carl (Chromium)", map[string]func() inbound{
		"fiona": func() inbound { return firefoxInbound(fx, ch) },
	}, 100)
	fx.noExceptions()
	cr.noExceptions()
	closeAll(t, s, []*page{cr}, []*ffPage{fx})
}

// closeAll closes the pages like people closing their tabs and waits until the server is
// back to no users, peers and floors.
func closeAll(t *testing.T, s *liveServer, chromium []*page, firefox []*ffPage) {
	t.Helper()
	for _, p := range chromium {
		if err := chromedp.Cancel(p.ctx); err != nil {
			t.Errorf("close %s: %v", p.name, err)
		}
	}
	for _, p := range firefox {
		p.close()
	}
	s.waitEmpty(t)
}

// TestBrowserListenOnlyHears: two listen-only pages — Chromium refused the microphone, Firefox signed in with "listen only" — offer recvonly, accept the server's answer
// and hear a Firefox talker, losing nothing; the server lists them as listen-only and their
// talk buttons say so.
func TestBrowserListenOnlyHears(t *testing.T) {
	chromium, s := startInterop(t)
	const ch = "CH_0002"
	tom := openFirefoxPage(t, "tom", s.pageURL("tom", 100))
	tom.mustJoin(ch)
	// lena's browser refuses her the microphone, as when she clicks "Block": Chromium's fake
	// capture UI (which the suite needs for the talkers) accepts every request, so the
	// refusal is made in the page, before any of its scripts runs.
	lena := openPage(t, chromium, "lena", "about:blank")
	if _, err := chromedp.Call(lena.ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("Permission denied", "NotAllowedError"));`,
	}); err != nil {
		t.Fatalf("lena: refuse the microphone: %v", err)
	}
	if err := chromedp.Do(lena.ctx, chromedp.Navigate(s.pageURL("lena", 100))); err != nil {
		t.Fatalf("lena: open the client: %v", err)
	}
	lena.mustJoinWithAudio(ch)
	fay := openFirefoxPage(t, "fay", s.pageURL("fay", 100)+"&listen=1")
	fay.mustJoin(ch)

	for name, offer := range map[string]string{
		"lena": mustEval[string](lena, fmt.Sprintf("lc.pc(%q).localDescription.sdp", ch)),
		"fay":  ffEval[string](fay, fmt.Sprintf("lc.pc(%q).localDescription.sdp", ch)),
	} {
		if !strings.Contains(offer, "a=recvonly") {
			t.Errorf("%s's offer is not recvonly:\n%s", name, offer)
		}
	}
	for name, answer := range map[string]string{
		"lena": mustEval[string](lena, fmt.Sprintf("lc.pc(%q).remoteDescription.sdp", ch)),
		"fay":  ffEval[string](fay, fmt.Sprintf("lc.pc(%q).remoteDescription.sdp", ch)),
	} {
		if !strings.Contains(answer, "a=sendonly") || !strings.Contains(answer, "a=ssrc:") {
			t.Errorf("%s's answer is not sendonly with the server's SSRC:\n%s", name, answer)
		}
	}
	lena.waitText("#media-state", "listening only", 2*time.Second)
	lena.waitText("#media-state", "NotAllowedError", time.Second)
	lena.waitText("#ptt .ptt-label", "Listening only", time.Second)
	if !mustEval[bool](lena, `document.querySelector("#ptt").disabled`) {
		t.Error("lena's talk button is enabled on a listen-only join")
	}
	fay.waitJS("listen-only shown", `document.querySelector("#media-state").textContent.includes("listening only")`,
		`document.querySelector("#media-state").textContent`, 2*time.Second)

	for _, u := range []string{"lena", "fay", "tom"} {
		peers, i := s.peerOf(u, ch)
		if i < 0 || peers.Peers[i].ListenOnly != (u != "tom") {
			t.Fatalf("server's peer of %s: %+v", u, peers)
		}
	}
	detail := getJSON[admin.AdminChannelDetail](s, "/admin/channels/"+ch)
	for _, m := range detail.Members {
		if m.ListenOnly != (m.UserID != "tom") {
			t.Errorf("admin member %+v", m)
		}
	}

	hearsWithoutLoss(t, s, ch, tom, "tom (Firefox)", map[string]func() inbound{
		"lena": func() inbound { return chromiumInbound(lena, ch) },
		"fay":  func() inbound { return firefoxInbound(fay, ch) },
	}, 100)

	// The pages never send: nothing was dropped as listen-only RTP.
	res, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `livechat_media_packets_dropped_total{reason="listen_only"} 0`) {
		t.Errorf("/metrics lacks a zero listen_only drop counter")
	}
	for _, p := range []interface{ noExceptions() }{tom, lena, fay} {
		p.noExceptions()
	}
	closeAll(t, s, []*page{lena}, []*ffPage{tom, fay})
}
