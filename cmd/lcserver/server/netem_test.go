package server

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/peer"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/gateway/wstest"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// The real-network tests (docs/reliability.md, "Networks"): the server runs in one network
// namespace, three pion/webrtc clients in another, over a veth link whose client side is
// impaired per client (impairRelay). The clients' helper process checks what every member saw
// and reports figures; the test checks the server's side (peers, counters) and logs both.

// TestNetemLossAndJitter: 5 % loss and 20 ms ± 10 ms of delay with 25 % of the datagrams
// reordered, in both directions of every client's path. The listeners' streams stay one
// continuous stream: one SSRC (the answer's), no sequence number twice, gaps only where
// packets were lost, timestamps increasing with the sequence; the floor state is right for all.
func TestNetemLossAndJitter(t *testing.T) {
	r := runNetScenario(t, "loss", nil)
	for _, who := range []string{"B", "C"} {
		st := r[who].(map[string]any)
		t.Logf("listener %s: %v", who, st)
	}
	t.Logf("talker B heard by A: %v", r["A"])
}

// TestNetemOutage: a 2-second outage of every client's path mid-burst. The call survives
// (consent: no peer reaped with ReapAfter 6 s), the listeners' stream continues as one stream
// (the rewriter resumes at last + 1 after the silence), nobody sees the floor change; then a
// client that vanishes from the network (no DTLS close) is reaped after ReapAfter while its
// membership stays.
func TestNetemOutage(t *testing.T) {
	var reapedIn time.Duration
	r := runNetScenario(t, "outage", func(srv, cli *helper) {
		cli.await("after-outage", 20*time.Second)
		peers := serverPeers(t, srv)
		if len(peers) != 3 {
			t.Fatalf("after a 2 s outage %d peers remain, want 3 (consent keeps them): %v", len(peers), peers)
		}
		cli.send("vanish C")
		cli.await("vanished", 5*time.Second)
		gone := time.Now()
		for len(serverPeers(t, srv)) != 2 {
			if time.Since(gone) > 12*time.Second {
				t.Fatalf("C's peer not reaped %v after it vanished (ReapAfter 6 s)", time.Since(gone))
			}
			time.Sleep(100 * time.Millisecond) // polling the server helper, not synchronisation
		}
		reapedIn = time.Since(gone)
		if reapedIn < 5*time.Second {
			t.Fatalf("C's peer reaped %v after it vanished, before ReapAfter (6 s)", reapedIn)
		}
		cli.send("members")
		if n := cli.await("members", 5*time.Second)["members"].(float64); n != 3 {
			t.Fatalf("channel has %v members after C's peer was reaped, want 3 (member kept without media)", n)
		}
	})
	t.Logf("outage: listeners %v / %v; C reaped %v after vanishing", r["B"], r["C"], reapedIn)
}

// TestNetemNATRebinding: the talker's and then the listener's path move to a new source port
// mid-call, as a NAT that rebinds does. Both keep their call: media from the new address is
// accepted after its first valid check, media to it resumes once the old address has been
// silent for RebindAfter (2 s here), and the server ends up sending to the new addresses.
func TestNetemNATRebinding(t *testing.T) {
	r := runNetScenario(t, "rebind", func(srv, cli *helper) {
		ev := cli.await("rebound", 30*time.Second)
		want := map[string]string{"A": ev["A"].(string), "B": ev["B"].(string)}
		for _, p := range serverPeers(t, srv) {
			if p.Address != want[p.UserID] {
				t.Fatalf("server sends %s's media to %s, its address after rebinding is %s", p.UserID, p.Address, want[p.UserID])
			}
		}
	})
	t.Logf("rebinding: %v", r)
}

// runNetScenario builds the namespaces, starts the server helper and the clients helper with
// scenario, runs during (may be nil) and returns the clients' result.
func runNetScenario(t *testing.T, scenario string, during func(srv, cli *helper)) map[string]any {
	n := newNetnsPair(t)
	srv := startHelper(t, n.Server, "server", "LC_BIND="+n.ServerIP, "LC_REAP=6s", "LC_REBIND=2s")
	ready := srv.await("ready", 30*time.Second)
	cli := startHelper(t, n.Client, "clients", "LC_SCENARIO="+scenario, "LC_BIND="+n.ClientIP,
		"LC_WS="+ready["ws"].(string), "LC_UDP="+ready["udp"].(string))
	if during != nil {
		during(srv, cli)
	}
	res, _ := cli.await("result", 40*time.Second)["members"].(map[string]any)
	cli.finish(10 * time.Second)
	srv.send("report")
	rep := srv.await("report", 5*time.Second)
	t.Logf("server drops: %v", rep["drops"])
	srv.finish(15 * time.Second)
	return res
}

// serverPeers asks the server helper for its peers.
func serverPeers(t *testing.T, srv *helper) []peerReport {
	t.Helper()
	srv.send("report")
	var out []peerReport
	ps, _ := srv.await("report", 5*time.Second)["peers"].([]any)
	for _, p := range ps {
		m := p.(map[string]any)
		out = append(out, peerReport{UserID: m["user_id"].(string), Address: m["address"].(string)})
	}
	return out
}

type peerReport struct{ UserID, Address string }

// netServerRole is the server helper: a server with a real media plane on LC_BIND, answering
// "report" with its peers and drop counters until stdin closes.
func netServerRole(t *testing.T) {
	bind := netip.MustParseAddr(os.Getenv("LC_BIND"))
	m := metrics.New()
	mp, err := peer.New(peer.Config{Bind: netip.AddrPortFrom(bind, 0), AdvertiseIP: bind, Metrics: m, Logger: testLogger(),
		ReapAfter: envDuration(t, "LC_REAP"), RebindAfter: envDuration(t, "LC_REBIND")})
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.Start(); err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	srv, stop, err := Start(Config{Bind: bind.String(), AdvertiseIP: bind.String(), Secret: testSecret, Logger: testLogger(),
		Media: mp, Metrics: m, FloorPingTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	emit("ready", map[string]any{"ws": fmt.Sprintf("ws://%s/ws", netip.AddrPortFrom(bind, uint16(srv.Port()))), "udp": mp.Host().String()})
	for cmd := range commands() {
		if cmd == "report" {
			drops := map[string]float64{}
			for r := media.DropShort; r <= media.DropWriteError; r++ {
				if v := media.CounterValue(m.PacketsDropped.WithLabelValues(r.String())); v > 0 {
					drops[r.String()] = v
				}
			}
			peers := []map[string]any{}
			for _, p := range mp.Peers() {
				peers = append(peers, map[string]any{"user_id": p.UserID, "address": p.Address})
			}
			emit("report", map[string]any{"peers": peers, "drops": drops})
		}
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func envDuration(t *testing.T, name string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// netClient is one member in the clients helper: WebSocket session, pion peer, relay.
type netClient struct {
	name  string
	ws    *wstest.Client
	pc    *peertest.Client
	relay *impairRelay
	ssrc  uint32
}

// joinThroughRelay identifies name and joins CH_0001 with a pion peer whose media goes
// through a relay with imp; the answer's host candidate is replaced by the relay's.
func joinThroughRelay(t *testing.T, name string, imp impairment, seed uint64) *netClient {
	wsURL, bind := os.Getenv("LC_WS"), os.Getenv("LC_BIND")
	udp := netip.MustParseAddrPort(os.Getenv("LC_UDP"))
	c := &netClient{name: name, relay: newImpairRelay(t, bind, udp, imp, seed)}
	c.ws = wstest.Dial(t, wsURL)
	t.Cleanup(c.ws.Close)
	c.ws.Identify(name, mintFor(t, name, 100), -1)
	c.pc = peertest.NewClient(t, name)
	ack := c.ws.Request(opChannelJoin, d{"channel_id": "CH_0001", "sdp_offer": c.pc.Offer(t)})
	var join struct {
		SDPAnswer string `json:"sdp_answer"`
	}
	if err := ack.Decode(&join); err != nil || join.SDPAnswer == "" {
		t.Fatalf("%s: join ACK without sdp_answer: %v %v", name, ack, err)
	}
	c.pc.Answer(t, relayAnswer(t, join.SDPAnswer, udp, c.relay.Port()))
	var err error
	if c.ssrc, err = peertest.AnswerSSRC(join.SDPAnswer); err != nil {
		t.Fatal(err)
	}
	return c
}

// floorEvent reads c's frames until the next floor event and returns its opcode.
func floorEvent(t *testing.T, c *netClient) int {
	t.Helper()
	for {
		f := c.ws.Next()
		if f.Op >= opFloorGranted && f.Op <= opFloorPong && f.Op != opFloorPong {
			return f.Op
		}
	}
}

// expectFloor asserts the next floor event of each client.
func expectFloor(t *testing.T, op int, cs ...*netClient) {
	t.Helper()
	for _, c := range cs {
		if got := floorEvent(t, c); got != op {
			t.Fatalf("%s: floor event %d, want %d", c.name, got, op)
		}
	}
}

// streamStats describes what one listener received of one talk spurt.
type streamStats struct {
	Received   int     `json:"received"`    // distinct packets
	Sent       int     `json:"sent"`        // packets the talker sent
	Loss       float64 `json:"loss"`        // 1 − received/sent
	SeqSpan    int     `json:"seq_span"`    // last − first + 1 of the listener's sequence numbers
	MaxGap     int     `json:"max_gap"`     // most consecutive sequence numbers missing
	Reordered  int     `json:"reordered"`   // packets that arrived after a higher sequence number
	Duplicates int     `json:"duplicates"`  // sequence numbers received twice
	TSBackward int     `json:"ts_backward"` // packets whose timestamp is not above the one before, in sequence order
	SSRCs      int     `json:"ssrcs"`
}

// analyse checks rs (one listener's packets, in arrival order; those whose tag is in tags
// belong to the spurt) against the stream rules and returns the figures.
func analyse(t *testing.T, who string, rs []peertest.Received, tags string, sent int, ssrc uint32) streamStats {
	t.Helper()
	st := streamStats{Sent: sent}
	ssrcs := map[uint32]bool{}
	type pkt struct {
		ext int64 // extended sequence number (RFC 3550 A.1)
		ts  uint32
	}
	var ps []pkt
	var maxExt int64
	seen := map[int64]bool{}
	for _, r := range rs {
		if len(r.Payload) == 0 || !strings.ContainsRune(tags, rune(r.Payload[0])) {
			continue
		}
		ssrcs[r.SSRC] = true
		ext := int64(r.Seq)
		if len(seen) > 0 {
			ext = maxExt + int64(int16(r.Seq-uint16(maxExt)))
		}
		if len(seen) > 0 && ext < maxExt {
			st.Reordered++
		} else {
			maxExt = ext
		}
		if seen[ext] {
			st.Duplicates++
			continue
		}
		seen[ext] = true
		ps = append(ps, pkt{ext, r.Timestamp})
	}
	st.SSRCs = len(ssrcs)
	st.Received = len(ps)
	if sent > 0 {
		st.Loss = 1 - float64(st.Received)/float64(sent)
	}
	if len(ps) == 0 {
		t.Fatalf("%s received none of the spurt", who)
	}
	slices.SortFunc(ps, func(a, b pkt) int { return int(a.ext - b.ext) })
	st.SeqSpan = int(ps[len(ps)-1].ext - ps[0].ext + 1)
	for i := 1; i < len(ps); i++ {
		st.MaxGap = max(st.MaxGap, int(ps[i].ext-ps[i-1].ext-1))
		if int32(ps[i].ts-ps[i-1].ts) <= 0 {
			st.TSBackward++
		}
	}
	if st.SSRCs != 1 || !ssrcs[ssrc] {
		t.Fatalf("%s received SSRCs %v, want only its answer's %d", who, ssrcs, ssrc)
	}
	if st.Duplicates != 0 || st.TSBackward != 0 {
		t.Fatalf("%s: %d duplicate sequence numbers, %d timestamps not increasing with the sequence", who, st.Duplicates, st.TSBackward)
	}
	if st.Received > st.SeqSpan || st.SeqSpan > st.Sent {
		t.Fatalf("%s: %d packets over a span of %d sequence numbers for %d sent: not one stream", who, st.Received, st.SeqSpan, st.Sent)
	}
	return st
}

// netClientsRole is the clients helper: runs LC_SCENARIO with members A (talker), B and C.
func netClientsRole(t *testing.T) {
	scenario := os.Getenv("LC_SCENARIO")
	imp := impairment{}
	if scenario == "loss" {
		imp = impairment{Loss: 0.05, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Reorder: 0.25}
	}
	names := []string{"A", "B", "C"}
	if scenario == "rebind" {
		names = names[:2]
	}
	cs := map[string]*netClient{}
	var all []*netClient
	for i, n := range names {
		cs[n] = joinThroughRelay(t, n, imp, uint64(i+1))
		all = append(all, cs[n])
	}
	for _, c := range all {
		c.pc.WaitConnected(t, 20*time.Second)
	}
	a, b := cs["A"], cs["B"]
	listeners := all[1:]
	a.ws.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	expectFloor(t, opFloorGranted, a)
	expectFloor(t, opFloorTaken, listeners...)
	const pace = 20 * time.Millisecond
	res := map[string]any{}

	switch scenario {
	case "loss":
		a.pc.Send(t, 250, 'A', pace)
		for _, l := range listeners {
			res[l.name] = analyse(t, l.name, l.pc.WaitReceived(250, time.Second), "A", 250, l.ssrc)
			if st := res[l.name].(streamStats); st.Loss > 0.25 || st.MaxGap > 8 {
				t.Fatalf("%s: loss %.3f, longest gap %d with 5 %% loss each way", l.name, st.Loss, st.MaxGap)
			}
		}
	case "outage":
		a.pc.Send(t, 100, 'P', pace)
		for _, c := range all {
			c.relay.SetDown(true)
		}
		a.pc.Send(t, 100, 'O', pace) // the 2 s that nobody hears
		for _, c := range all {
			c.relay.SetDown(false)
		}
		a.pc.Send(t, 100, 'Q', pace)
		for _, l := range listeners {
			rs := l.pc.WaitReceived(200, 5*time.Second)
			st := analyse(t, l.name, rs, "PQ", 200, l.ssrc)
			if after := peertest.CountTagged(rs, 'Q'); after < 95 || st.MaxGap > 3 {
				t.Fatalf("%s heard %d of the 100 packets sent after the outage, longest gap %d: %+v", l.name, after, st.MaxGap, st)
			}
			res[l.name] = st
		}
	case "rebind":
		a.pc.Send(t, 100, 'P', pace)
		a.relay.rebind(os.Getenv("LC_BIND"))
		// A's next consent check (every ≤ 2 s) latches the new port: the last second is heard.
		a.pc.Send(t, 150, 'Q', pace)
		if got := countFrom(b.pc.Received(), 'Q', 100); got < 48 {
			t.Fatalf("B heard %d of the talker's last 50 packets after the talker's NAT rebound", got)
		}
		// Sending to B moves once its old address has been silent for RebindAfter (2 s) when a
		// check from the new one arrives: within ≈ 4 s; the last 1.5 s is heard.
		b.relay.rebind(os.Getenv("LC_BIND"))
		a.pc.Send(t, 300, 'R', pace)
		if got := countFrom(b.pc.WaitReceived(1<<20, 500*time.Millisecond), 'R', 225); got < 72 {
			t.Fatalf("B heard %d of the talker's last 75 packets after its own NAT rebound", got)
		}
		st := analyse(t, "B", b.pc.Received(), "PQR", 550, b.ssrc)
		res["B"] = st
	}

	// The floor moves to B; everybody sees it, and A hears B.
	a.ws.Send(opFloorRelease, d{"channel_id": "CH_0001"})
	expectFloor(t, opFloorIdle, all...)
	b.ws.Send(opFloorRequest, d{"channel_id": "CH_0001"})
	expectFloor(t, opFloorGranted, b)
	expectFloor(t, opFloorTaken, a)
	expectFloor(t, opFloorTaken, all[2:]...)
	b.pc.Send(t, 100, 'B', pace)
	heard := peertest.CountTagged(a.pc.WaitReceived(100, time.Second), 'B')
	if heard < 80 {
		t.Fatalf("A heard %d of B's 100 packets", heard)
	}
	res["A"] = map[string]int{"heard_of_100": heard}

	switch scenario {
	case "outage":
		emit("after-outage", nil)
		cmds := commands()
		<-cmds // vanish C
		cs["C"].relay.SetDown(true)
		emit("vanished", nil)
		<-cmds // members
		info := a.ws.Request(opChannelInfo, d{"channel_id": "CH_0001"}).Map()
		members, _ := info["members"].([]any)
		emit("members", map[string]any{"members": len(members)})
	case "rebind":
		emit("rebound", map[string]any{"A": a.relay.OutsideAddr(), "B": b.relay.OutsideAddr()})
	}
	emit("result", map[string]any{"members": res})
}

// countFrom counts packets tagged tag whose index in their Send call (payload bytes 1–2, see
// peertest.Client.Send) is at least from.
func countFrom(rs []peertest.Received, tag byte, from int) int {
	n := 0
	for _, r := range rs {
		if len(r.Payload) > 2 && r.Payload[0] == tag && int(r.Payload[1])<<8|int(r.Payload[2]) >= from {
			n++
		}
	}
	return n
}
