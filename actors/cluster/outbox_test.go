package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/minilivechat/minilivechat/media"
)

// A talker's packets reach the channel's media subject in the order it sent them, SendMedia
// allocates nothing (it runs once per talker packet on the UDP reader's goroutine), and the
// outbox's goroutine ends with the node.
func TestOutboxPublishesInOrderAndStopsWithTheNode(t *testing.T) {
	s := startServer(t)
	got := make(chan byte, 512)
	other := connect(t, s.ClientURL())
	if _, err := other.Subscribe(mediaSubject("CH"), func(m *nats.Msg) {
		if _, _, rtp, ok := ParseFrame(m.Data); ok {
			got <- rtp[0]
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := other.Flush(); err != nil {
		t.Fatal(err)
	}
	nc := connect(t, s.ClientURL())
	n, err := Start(context.Background(), Config{ID: "a", Conn: nc, TTL: testTTL, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	l, err := n.Link("CH", func(*ChannelMsg) {})
	if err != nil {
		t.Fatal(err)
	}
	l.SetMedia(MediaConfig{Deliver: func(p *media.RelayPacket) { p.Release() }})

	const sent = 100
	for i := range sent {
		l.SendMedia("alice", []byte{byte(i), 0x80})
	}
	for i := range sent {
		select {
		case b := <-got:
			if b != byte(i) {
				t.Fatalf("packet %d arrived as number %d", b, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("packet %d not published", i)
		}
	}
	rtp := make([]byte, 160)
	if allocs := testing.AllocsPerRun(100, func() { l.SendMedia("alice", rtp) }); allocs != 0 {
		t.Errorf("SendMedia allocates %.1f times per packet", allocs)
	}

	l.Close()
	n.Stop()
	select {
	case <-n.out.done:
	default:
		t.Fatal("the outbox's goroutine runs after Node.Stop returned")
	}
}
