package channel

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/cluster"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
	"github.com/minilivechat/minilivechat/media/metrics"
)

// BenchmarkCrossNodeTrunk measures the two ways a talker's packet can go between nodes
// (docs/cluster.md, "Media between nodes: NATS subject or UDP trunk"): the NATS media
// subject lcserver ships, and a UDP trunk built here for the comparison only — each node a
// UDP socket on loopback, its address and a fresh AES-128-GCM key exchanged over NATS, one
// sealed datagram per node with listeners. The receiving side of both hands the packet to
// the channel actor the same way (a pooled RelayPacket posted to it, then its local fan-out),
// so the two differ only in the way between the nodes. One op is one packet from the talker's
// channel actor until every receiving node's listener stream sealed it: latency-µs/op is
// that time, cpu-µs/op the process CPU time it took (both nodes' actors, the NATS server and
// every goroutine are in this process).
//
// Back to back, every goroutine on the way stays awake. At a talker's 50 packets per second
// each packet finds them asleep, and waking them is most of the cost (docs/performance.md):
// the -50pps runs send one packet every 20 ms, and count the CPU beyond what the same nodes
// spend idle over the same time.
func BenchmarkCrossNodeTrunk(b *testing.B) {
	for _, via := range []string{"nats", "udp"} {
		for _, receivers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%d-nodes", via, receivers), func(b *testing.B) { benchTrunk(b, via == "udp", receivers, 0) })
			b.Run(fmt.Sprintf("%s-50pps/%d-nodes", via, receivers), func(b *testing.B) {
				benchTrunk(b, via == "udp", receivers, 20*time.Millisecond)
			})
		}
	}
}

func benchTrunk(b *testing.B, udp bool, receivers int, pace time.Duration) {
	ns := startNATS(b)
	a := startTrunkNode(b, ns, "a", udp)
	a.node.Want("CH")
	actortest.Eventually(b, wait, "a owns CH", func() bool { return a.node.Status().Owners["CH"] == "a" })
	talker := a.member(b, "talker")
	var logs []chan string
	var far []*clusterNode
	for i := range receivers {
		n := startTrunkNode(b, ns, fmt.Sprintf("r%d", i), udp)
		user := fmt.Sprintf("listener%d", i)
		n.member(b, user)
		logs = append(logs, n.fm.streams[user].log)
		far = append(far, n)
	}
	actortest.Eventually(b, wait, "members known", func() bool { return len(a.detail(b).Members) == 1+receivers })
	a.sys.Root.Send(a.ch, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "talker", Session: talker.PID()}, ChannelID: "CH"})
	for _, n := range far {
		actortest.Eventually(b, wait, "talker holds on "+n.id, func() bool {
			f := n.detail(b).Floor
			return f.Holder != nil && *f.Holder == "talker"
		})
	}
	pool := media.NewRelayPacketPool()
	relay := func() {
		a.sys.Root.Send(a.ch, packet(pool, "talker"))
		for _, log := range logs {
			select {
			case <-log:
			case <-time.After(wait):
				b.Fatal("packet not relayed")
			}
		}
	}
	// Until the first packet arrives everywhere: the subscriptions (NATS) or the listeners'
	// announcements (UDP) have reached the talker's node.
	actortest.Eventually(b, wait, "first packet through", func() bool {
		a.sys.Root.Send(a.ch, packet(pool, "talker"))
		for _, log := range logs {
			select {
			case <-log:
			case <-time.After(50 * time.Millisecond):
				return false
			}
		}
		return true
	})
	for _, log := range logs { // a late copy of a retried first packet
		for len(log) > 0 {
			<-log
		}
	}
	if pace > 0 {
		tick := time.NewTicker(pace)
		defer tick.Stop()
		idle0 := cpuTime()
		for range b.N {
			<-tick.C
		}
		idle := cpuTime() - idle0
		var latency time.Duration
		b.ResetTimer()
		cpu0 := cpuTime()
		for range b.N {
			<-tick.C
			t0 := time.Now()
			relay()
			latency += time.Since(t0)
		}
		b.StopTimer()
		b.ReportMetric(float64(latency.Microseconds())/float64(b.N), "latency-µs/op")
		b.ReportMetric(float64((cpuTime()-cpu0-idle).Microseconds())/float64(b.N), "cpu-µs/op")
		return
	}
	cpu0, t0 := cpuTime(), time.Now()
	b.ResetTimer()
	for range b.N {
		relay()
	}
	b.StopTimer()
	b.ReportMetric(float64(time.Since(t0).Microseconds())/float64(b.N), "latency-µs/op")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// startTrunkNode is startClusterNode (cluster_test.go) with the channel's media going by the
// UDP trunk when udp is set, by the NATS media subject otherwise, and lcserver's default lease
// TTL: with the tests' short one a busy machine can miss a renewal mid-run, and the owner's
// floor restarts idle.
func startTrunkNode(t testing.TB, ns *cluster.Server, id string, udp bool) *clusterNode {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	m := metrics.New()
	node, err := cluster.Start(context.Background(), cluster.Config{ID: id, Conn: nc, TTL: cluster.DefaultTTL,
		Logger: slog.New(slog.DiscardHandler), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	var tr *udpTrunk
	if udp {
		tr = startUDPTrunk(t, nc, id)
	}
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	fm := &fakeMedia{spawn: func(string) *actor.PID { return actortest.NewProbe(t, sys).PID() }}
	pid := sys.Root.Spawn(Props(Config{
		Spec:    msg.ChannelSpec{ChannelID: "CH", Freq: "1", ChannelName: "CH", Capacity: 10},
		Metrics: m, Logger: slog.New(slog.DiscardHandler), Media: fm,
		PingTimeout: time.Hour, MaxDuration: time.Hour, // one talk spurt for the whole run, no FLOOR_PING
		Cluster: func(ch string, post func(any)) (Link, error) {
			l, err := node.Link(ch, func(m *cluster.ChannelMsg) { post(m) })
			if err != nil {
				return nil, err
			}
			deliver := func(p *media.RelayPacket) { post(p) }
			if tr != nil {
				return &udpLink{Link: l, tr: tr, channel: ch, deliver: deliver}, nil
			}
			l.SetMedia(cluster.MediaConfig{Deliver: deliver})
			return l, nil
		},
	}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return &clusterNode{id: id, fm: fm, sys: sys, nc: nc, node: node, ch: pid, m: m}
}

// udpLink is a channel's cluster link whose media goes by the UDP trunk; its floor, members
// and chat go by NATS as lcserver's do.
type udpLink struct {
	*cluster.Link
	tr      *udpTrunk
	channel string
	deliver func(*media.RelayPacket)
}

func (l *udpLink) Listen(on bool)                    { l.tr.listen(l.channel, on, l.deliver) }
func (l *udpLink) SendMedia(user string, rtp []byte) { l.tr.send(l.channel, user, rtp) }
func (l *udpLink) Close()                            { l.Link.Close(); l.tr.listen(l.channel, false, nil) }

// udpTrunk is one node's end of the UDP trunk. Datagram: sender id length, sender id,
// channel length, channel, 8-byte counter (the GCM nonce's last 8 bytes, the first 4 zero),
// then the trunk frame of actors/cluster (node, user, RTP) sealed with the sender's key, the
// header as additional data. Each node seals with its own key, so one seal serves every
// receiving node and no two senders share a nonce space.
type udpTrunk struct {
	id   string
	nc   *nats.Conn
	conn *net.UDPConn
	key  []byte
	aead cipher.AEAD
	ctr  atomic.Uint64
	done chan struct{}

	mu    sync.Mutex // guards the maps the snapshots are built from
	peers map[string]*trunkPeer
	subs  map[string]map[string]bool // channel → nodes with listeners
	local map[string]func(*media.RelayPacket)
	snap  atomic.Pointer[trunkSnapshot]

	// Datagrams refused: authentication failed (bad tag, unknown sender) or replayed.
	badAuth, replayed atomic.Int64

	out   []byte // the sealed datagram; from the channel actor's Receive only
	frame []byte
}

// trunkSnapshot is what the hot paths read, replaced copy-on-write.
type trunkSnapshot struct {
	peers map[string]*trunkPeer
	to    map[string][]netip.AddrPort // channel → the addresses of the other nodes with listeners
	local map[string]func(*media.RelayPacket)
}

type trunkPeer struct {
	addr netip.AddrPort
	aead cipher.AEAD
	// Replay window of the datagrams from this peer: the highest counter accepted and a
	// bitmap of the 64 below it. Used by the reader goroutine only.
	top    uint64
	window uint64
}

// hello is what a node tells the others of its trunk end, over NATS.
type hello struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
	Key  []byte `json:"key"`
}

type listenMsg struct {
	ID string `json:"id"`
	On bool   `json:"on"`
}

const (
	helloSubject  = "lc.trunk.hello"
	listenSubject = "lc.trunk.listen."
)

func startUDPTrunk(t testing.TB, nc *nats.Conn, id string) *udpTrunk {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &udpTrunk{id: id, nc: nc, conn: conn, key: make([]byte, 16), done: make(chan struct{}),
		peers: map[string]*trunkPeer{}, subs: map[string]map[string]bool{}, local: map[string]func(*media.RelayPacket){},
		out: make([]byte, 0, 2048), frame: make([]byte, 0, 2048)}
	_, _ = rand.Read(tr.key)
	tr.aead = newGCM(t, tr.key)
	tr.publishSnapshot()
	go tr.read()
	t.Cleanup(func() { _ = conn.Close(); <-tr.done })

	me, _ := json.Marshal(hello{ID: id, Addr: conn.LocalAddr().String(), Key: tr.key})
	onHello := func(m *nats.Msg) {
		var h hello
		if json.Unmarshal(m.Data, &h) != nil || h.ID == id {
			return
		}
		tr.addPeer(h)
		if m.Reply != "" {
			_ = nc.Publish(m.Reply, me)
		}
	}
	inbox := nats.NewInbox()
	for _, subj := range []string{helloSubject, inbox} {
		if _, err := nc.Subscribe(subj, onHello); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := nc.Subscribe(listenSubject+"*", func(m *nats.Msg) {
		var l listenMsg
		if json.Unmarshal(m.Data, &l) == nil && l.ID != id {
			tr.setListener(m.Subject[len(listenSubject):], l.ID, l.On)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest(helloSubject, inbox, me); err != nil { // the nodes there answer with theirs
		t.Fatal(err)
	}
	return tr
}

func newGCM(t testing.TB, key []byte) cipher.AEAD {
	aead, err := gcm(key)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// addPeer records a node's trunk end; it runs on the hello subscription's goroutine.
func (tr *udpTrunk) addPeer(h hello) {
	addr, err := netip.ParseAddrPort(h.Addr)
	if err != nil {
		return
	}
	aead, err := gcm(h.Key)
	if err != nil || len(h.Key) != 16 {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if _, known := tr.peers[h.ID]; !known {
		tr.peers[h.ID] = &trunkPeer{addr: addr, aead: aead}
		tr.publishSnapshotLocked()
	}
}

// listen tells the other nodes whether this node has listeners in channel (deliver posts
// their packets to the channel actor).
func (tr *udpTrunk) listen(channel string, on bool, deliver func(*media.RelayPacket)) {
	tr.mu.Lock()
	if on {
		tr.local[channel] = deliver
	} else {
		delete(tr.local, channel)
	}
	tr.publishSnapshotLocked()
	tr.mu.Unlock()
	b, _ := json.Marshal(listenMsg{ID: tr.id, On: on})
	_ = tr.nc.Publish(listenSubject+channel, b)
}

func (tr *udpTrunk) setListener(channel, node string, on bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.subs[channel] == nil {
		tr.subs[channel] = map[string]bool{}
	}
	if on {
		tr.subs[channel][node] = true
	} else {
		delete(tr.subs[channel], node)
	}
	tr.publishSnapshotLocked()
}

func (tr *udpTrunk) publishSnapshot() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.publishSnapshotLocked()
}

func (tr *udpTrunk) publishSnapshotLocked() {
	s := &trunkSnapshot{peers: map[string]*trunkPeer{}, to: map[string][]netip.AddrPort{}, local: map[string]func(*media.RelayPacket){}}
	for id, p := range tr.peers {
		s.peers[id] = p
	}
	for ch, nodes := range tr.subs {
		for node := range nodes {
			if p := tr.peers[node]; p != nil {
				s.to[ch] = append(s.to[ch], p.addr)
			}
		}
	}
	for ch, f := range tr.local {
		s.local[ch] = f
	}
	tr.snap.Store(s)
}

// send seals one trunk frame and sends it to every other node with listeners in channel; it
// runs in the talker's channel actor's Receive, as SendMedia does.
func (tr *udpTrunk) send(channel, user string, rtp []byte) {
	to := tr.snap.Load().to[channel]
	if len(to) == 0 {
		return
	}
	ctr := tr.ctr.Add(1)
	hdr := append(tr.out[:0], byte(len(tr.id)))
	hdr = append(hdr, tr.id...)
	hdr = append(hdr, byte(len(channel)))
	hdr = append(hdr, channel...)
	hdr = binary.BigEndian.AppendUint64(hdr, ctr)
	var nonce [12]byte
	binary.BigEndian.PutUint64(nonce[4:], ctr)
	tr.frame = cluster.AppendFrame(tr.frame[:0], tr.id, user, rtp)
	tr.out = tr.aead.Seal(hdr, nonce[:], tr.frame, hdr)
	for _, addr := range to {
		_, _ = tr.conn.WriteToUDPAddrPort(tr.out, addr)
	}
}

// read opens the datagrams of the other nodes and hands each packet to its channel as the
// NATS subscription's handler does (actors/cluster/media.go): a pooled RelayPacket posted to
// the channel actor.
func (tr *udpTrunk) read() {
	defer close(tr.done)
	pool := media.NewRelayPacketPool()
	buf := make([]byte, 2048)
	plain := make([]byte, 0, 2048)
	var talker string
	for {
		n, _, err := tr.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		d := buf[:n]
		if len(d) < 1 || len(d) < 1+int(d[0]) {
			continue
		}
		sender, rest := d[1:1+int(d[0])], d[1+int(d[0]):]
		if len(rest) < 1 || len(rest) < 1+int(rest[0])+8 {
			continue
		}
		channel, rest := rest[1:1+int(rest[0])], rest[1+int(rest[0]):]
		ctr, sealed := binary.BigEndian.Uint64(rest), rest[8:]
		hdr := d[:n-len(sealed)]
		s := tr.snap.Load()
		p := s.peers[string(sender)]
		if p == nil {
			tr.badAuth.Add(1)
			continue
		}
		if !p.fresh(ctr) {
			tr.replayed.Add(1)
			continue
		}
		var nonce [12]byte
		binary.BigEndian.PutUint64(nonce[4:], ctr)
		frame, err := p.aead.Open(plain[:0], nonce[:], sealed, hdr)
		if err != nil {
			tr.badAuth.Add(1)
			continue
		}
		p.accept(ctr)
		node, user, rtp, ok := cluster.ParseFrame(frame)
		deliver := s.local[string(channel)]
		if !ok || string(node) == tr.id || deliver == nil {
			continue
		}
		if string(user) != talker {
			talker = string(user)
		}
		pkt := pool.Get()
		pkt.From, pkt.N = talker, copy(pkt.Buf[:], rtp)
		deliver(pkt)
	}
}

// fresh reports whether counter c is neither replayed nor older than the 64-datagram window.
func (p *trunkPeer) fresh(c uint64) bool {
	switch {
	case c > p.top:
		return true
	case p.top-c >= 64:
		return false
	default:
		return p.window&(1<<(p.top-c)) == 0
	}
}

// accept records c, once its datagram authenticated.
func (p *trunkPeer) accept(c uint64) {
	if c > p.top {
		shift := c - p.top
		if shift >= 64 {
			p.window = 0
		} else {
			p.window <<= shift
		}
		p.window |= 1
		p.top = c
		return
	}
	p.window |= 1 << (p.top - c)
}

// The benchmark's UDP trunk is faithful on receipt: a datagram replayed or with a broken tag
// is refused, and the next fresh one is delivered.
func TestUDPTrunkRefusesReplayAndForgery(t *testing.T) {
	ns := startNATS(t)
	connect := func() *nats.Conn {
		nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	from := startUDPTrunk(t, connect(), "a")
	to := startUDPTrunk(t, connect(), "b")
	got := make(chan string, 4)
	to.listen("CH", true, func(p *media.RelayPacket) { got <- string(p.Bytes()); p.Release() })
	actortest.Eventually(t, wait, "a knows b listens", func() bool { return len(from.snap.Load().to["CH"]) == 1 })
	next := func(what string) string {
		select {
		case s := <-got:
			return s
		case <-time.After(wait):
			t.Fatalf("%s: nothing delivered", what)
			return ""
		}
	}
	from.send("CH", "alice", []byte("rtp-1"))
	if s := next("first packet"); s != "rtp-1" {
		t.Fatalf("delivered %q", s)
	}
	addr := from.snap.Load().to["CH"][0]
	sent := append([]byte(nil), from.out...)
	_, _ = from.conn.WriteToUDPAddrPort(sent, addr)
	actortest.Eventually(t, wait, "replay refused", func() bool { return to.replayed.Load() == 1 })
	// A counter far ahead, its tag no longer matching: refused, and the window stays where it
	// was, so the next genuine datagram goes through.
	forged := append([]byte(nil), sent...)
	binary.BigEndian.PutUint64(forged[1+len("a")+1+len("CH"):], 1000)
	_, _ = from.conn.WriteToUDPAddrPort(forged, addr)
	actortest.Eventually(t, wait, "broken tag refused", func() bool { return to.badAuth.Load() == 1 })
	from.send("CH", "alice", []byte("rtp-2"))
	if s := next("second packet"); s != "rtp-2" {
		t.Fatalf("delivered %q", s)
	}
	select {
	case s := <-got:
		t.Fatalf("a replayed or forged datagram was delivered: %q", s)
	default:
	}
}
