package main

import (
	"slices"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/peer/peertest"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/gateway/token"
	"github.com/minilivechat/minilivechat/gateway/wstest"
)

// member is one user of the media test: signaling client, pion peer and announced SSRC.
type member struct {
	user string
	node *proc
	ws   *wstest.Client
	pc   *peertest.Client
	ssrc uint32
}

func joinWithMedia(t *testing.T, p *proc, user, channel string) *member {
	t.Helper()
	c := wstest.Dial(t, "ws://"+p.addr+"/ws")
	t.Cleanup(c.Close)
	tok, err := token.Mint([]byte(restartSecret), user, 255, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.Identify(user, tok, -1)
	pc := peertest.NewClient(t, user)
	var join struct {
		SDPAnswer string `json:"sdp_answer"`
	}
	if err := c.Request(11, map[string]any{"channel_id": channel, "sdp_offer": pc.Offer(t)}).Decode(&join); err != nil {
		t.Fatal(err)
	}
	pc.Answer(t, join.SDPAnswer)
	ssrc, err := peertest.AnswerSSRC(join.SDPAnswer)
	if err != nil {
		t.Fatal(err)
	}
	return &member{user: user, node: p, ws: c, pc: pc, ssrc: ssrc}
}

// awaitFloor reads m's frames until one of op arrives whose user_id (when want is set) is
// want.
func (m *member) awaitFloor(t *testing.T, op int, want string) map[string]any {
	t.Helper()
	for range 200 {
		f := m.ws.Await(op)
		d := f.Map()
		if want == "" || d["user_id"] == want {
			return d
		}
	}
	t.Fatalf("%s: no op %d for %s", m.user, op, want)
	return nil
}

// TestClusterMediaAcrossNodes (issue 12, must-shows 1 and 2): three lcserver processes and a
// NATS server the test runs. A talker on node a, listeners on b and c of one channel: each
// listener decrypts ≥ 99 % of the talker's packets on the SSRC its answer announced. A member
// on c preempts the talker on a: the floor is arbitrated once. Then the channel's owner node
// is killed: a survivor owns the channel within the bound, a member on a surviving node takes
// the floor again and the other survivor's listener still hears it on its original media
// session.
func TestClusterMediaAcrossNodes(t *testing.T) {
	ids := []string{"node-a", "node-b", "node-c"}
	nodes := startCluster(t, ids...)
	const ch = "CH_0001"
	var owners map[string]string
	actortest.Eventually(t, 15*time.Second, "three nodes agree on the owners", func() bool {
		owners = agreedOwners(t, nodes, []string{ch})
		return owners != nil
	})
	alice := joinWithMedia(t, nodes[0], "alice", ch)
	bob := joinWithMedia(t, nodes[1], "bob", ch)
	carol := joinWithMedia(t, nodes[2], "carol", ch)
	members := []*member{alice, bob, carol}
	for _, m := range members {
		m.pc.WaitConnected(t, 20*time.Second)
		m.node.waitSRTPReady(t, 1)
	}

	// alice (a) talks; bob (b) and carol (c) hear her through their own nodes.
	alice.ws.Send(30, map[string]any{"channel_id": ch})
	alice.awaitFloor(t, 110, "")
	bob.awaitFloor(t, 112, "alice")
	carol.awaitFloor(t, 112, "alice")
	const sent = 200
	alice.pc.Send(t, sent, 'A', 5*time.Millisecond)
	for _, l := range []*member{bob, carol} {
		l.pc.ExpectStream(t, sent, sent*99/100, 'A', l.ssrc, 111, 10*time.Second)
	}
	// /admin/status shows the cross-node traffic: a published each packet once, b and c
	// each received them.
	trunk := func(p *proc) admin.TrunkTraffic {
		st := p.clusterStatus(t)
		if st == nil {
			t.Fatalf("%s: no cluster status", p.addr)
		}
		return st.Trunk
	}
	if tr := trunk(nodes[0]); tr.PacketsOut < sent || tr.PacketsIn != 0 {
		t.Fatalf("talker's node trunk %+v, want %d out and none in", tr, sent)
	}
	for _, p := range nodes[1:] {
		if tr := trunk(p); tr.PacketsIn < sent*99/100 || tr.PacketsOut != 0 {
			t.Fatalf("listener's node trunk %+v, want ≥ %d in and none out", tr, sent*99/100)
		}
	}

	// carol (c) preempts alice (a) at a higher priority: one floor, arbitrated once.
	carol.ws.Send(30, map[string]any{"channel_id": ch, "priority": 200})
	carol.awaitFloor(t, 110, "")
	if r := alice.awaitFloor(t, 114, ""); r["reason"] != "preempted" {
		t.Fatalf("alice revoked with %v", r)
	}
	bob.awaitFloor(t, 112, "carol")

	// Kill the channel's owner node.
	dead := slices.Index(ids, owners[ch])
	if err := nodes[dead].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-nodes[dead].exited
	var survivors []*proc
	var alive []*member
	for i, p := range nodes {
		if i != dead {
			survivors = append(survivors, p)
			alive = append(alive, members[i])
		}
	}
	bound := clusterTTL + clusterTTL/3
	took := actortest.Eventually(t, bound+2*time.Second, "a survivor owns the channel", func() bool {
		o := agreedOwners(t, survivors, []string{ch})
		return o != nil && o[ch] != ids[dead]
	})
	t.Logf("owner %s killed; a survivor owns %s after %v (bound %v)", ids[dead], ch, took, bound)
	talker, listener := alive[0], alive[1]
	// The talker may hear FLOOR_IDLE first (the new owner starts idle); ask until granted.
	actortest.Eventually(t, 5*time.Second, talker.user+" granted after the failover", func() bool {
		talker.ws.Send(30, map[string]any{"channel_id": ch})
		f, err := talker.ws.AwaitErr(110)
		return err == nil && f.Op == 110
	})
	before := len(listener.pc.Received())
	talker.pc.Send(t, sent, 'Z', 5*time.Millisecond)
	got := listener.pc.WaitReceived(before+sent, 10*time.Second)
	if n := peertest.CountTagged(got, 'Z'); n < sent*99/100 {
		t.Fatalf("%s on a surviving node decrypted %d of %d packets after the failover", listener.user, n, sent)
	}
	for _, r := range got {
		if r.SSRC != listener.ssrc {
			t.Fatalf("%s got SSRC %d after the failover; its answer announced %d", listener.user, r.SSRC, listener.ssrc)
		}
	}
}
