package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/cmd/lcserver/server"
)

// replayState is lc.state.replay: what the page's replay player did.
type replayState struct {
	ID     *int64  `json:"id"`
	Paused bool    `json:"paused"`
	Ended  bool    `json:"ended"`
	Played float64 `json:"played"` // seconds in the <audio> element's played ranges
	Error  *int    `json:"error"`
}

// TestBrowserLateListenerReplays (docs/web-client.md, "Recent transmissions"): on a recorded
// channel alice talks twice from her page; her list gains each burst when it ends. bob joins
// afterwards, sees both bursts newest first, presses play on alice's first one and his page
// reports the recording played (the <audio> element's played range).
func TestBrowserLateListenerReplays(t *testing.T) {
	browser := newBrowser(t, 120*time.Second)
	s := startServer(t, func(c *server.Config) { c.DataDir, c.RecordChannels = t.TempDir(), []string{"CH_0001"} })
	const ch = "CH_0001"
	room := fmt.Sprintf("lc.state.rooms[%q]", ch)

	a := openPage(t, browser, "alice", s.pageURL("alice", 100))
	a.mustJoinWithAudio(ch)
	a.waitText("#history-note", "No transmissions yet", 5*time.Second)
	for i, packets := range []int{100, 25} { // 2 s, then 0.5 s of the fake microphone's tone
		base := stat[outbound](a, "outboundAudio", ch)
		release := a.holdTalk("#ptt")
		a.waitFloor("talking", "You are talking", 5*time.Second)
		a.waitJS(fmt.Sprintf("%d packets sent", packets),
			fmt.Sprintf(`lc.outboundAudio(%q).then(s => s.packetsSent >= %d)`, ch, int(base.PacketsSent)+packets),
			fmt.Sprintf(`lc.outboundAudio(%q)`, ch), 10*time.Second)
		release()
		a.waitFloor("idle", "Idle", 5*time.Second)
		a.waitJS(fmt.Sprintf("burst %d listed at its end", i+1), fmt.Sprintf(`%s.history.length === %d`, room, i+1),
			room+".history", 5*time.Second)
	}
	bursts := getJSON[admin.BurstList](s, "/admin/bursts?channel="+ch)
	if len(bursts.Bursts) != 2 || bursts.Bursts[1].Recording == "" || bursts.Bursts[1].Packets < 50 {
		t.Fatalf("burst log after two recorded bursts: %+v", bursts)
	}
	first := bursts.Bursts[1] // newest first: the older, 2 s burst is second

	b := openPage(t, browser, "bob", s.pageURL("bob", 100))
	b.mustJoinWithAudio(ch)
	b.waitJS("both bursts listed", `document.querySelectorAll("#history li[data-burst]").length === 2`,
		`document.querySelector("#history").innerText`, 5*time.Second)
	order := mustEval[[]string](b, `[...document.querySelectorAll("#history li[data-burst]")].map(li => li.dataset.burst)`)
	if want := []string{fmt.Sprint(bursts.Bursts[0].ID), fmt.Sprint(first.ID)}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("bob's list is in order %v, want newest first %v", order, want)
	}
	row := fmt.Sprintf(`#history li[data-burst="%d"]`, first.ID)
	b.waitText(row, "alice", time.Second)
	b.waitText(row+" .duration", " s", time.Second)

	b.click(fmt.Sprintf(`[data-testid="play-%d"]`, first.ID))
	b.waitJS("playing, its button now stops", fmt.Sprintf(`!lc.state.replay.paused && document.querySelector('[data-testid="play-%d"]')?.textContent === "■"`, first.ID),
		`lc.state.replay`, 5*time.Second)
	b.waitJS("the recording plays to its end", `lc.state.replay.ended && lc.state.replay.played > 1.5`,
		`lc.state.replay`, 15*time.Second)
	r := mustEval[replayState](b, "lc.state.replay")
	if r.ID == nil || *r.ID != first.ID || r.Error != nil {
		t.Errorf("replay state %+v, want burst %d played without error", r, first.ID)
	}
	want := *first.DurationS
	if diff := r.Played - want; diff < -0.2 || diff > 0.2 {
		t.Errorf("the page played %.2f s of a %.2f s burst", r.Played, want)
	}
	t.Logf("bob's page played %.2f s of alice's %.2f s burst (%d packets)", r.Played, want, first.Packets)
	for _, p := range []*page{a, b} {
		p.noExceptions()
		if err := chromedp.Cancel(p.ctx); err != nil {
			t.Errorf("close %s: %v", p.name, err)
		}
	}
}
