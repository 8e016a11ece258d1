package channel

import (
	"syscall"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/actortest"
	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/media"
)

// BenchmarkCrossNodeRelay: one packet from the holder to one listener, and the wait until the
// listener's stream sealed it — on the talker's node (local) or on another node through the
// NATS media subject (cross-node; NATS server in this process). ns/op is the latency of one
// relayed packet; cpu-µs/op the process CPU time it took (docs/cluster.md, "Figures").
func BenchmarkCrossNodeRelay(b *testing.B) {
	for _, where := range []string{"local", "cross-node"} {
		b.Run(where, func(b *testing.B) {
			ns := startNATS(b)
			a := startClusterNode(b, ns, "a", "CH")
			a.node.Want("CH")
			actortest.Eventually(b, wait, "a owns CH", func() bool { return a.node.Status().Owners["CH"] == "a" })
			o := startClusterNode(b, ns, "o", "CH")
			talker := a.member(b, "talker")
			listenerNode := a
			if where == "cross-node" {
				listenerNode = o
			}
			listenerNode.member(b, "listener")
			actortest.Eventually(b, wait, "members known", func() bool { return len(a.detail(b).Members) == 2 })
			a.sys.Root.Send(a.ch, &msg.RequestFloor{Call: msg.Call{Op: 30, UserID: "talker", Session: talker.PID()}, ChannelID: "CH"})
			actortest.Eventually(b, wait, "talker holds", func() bool {
				f := listenerNode.detail(b).Floor
				return f.Holder != nil && *f.Holder == "talker"
			})
			log := listenerNode.fm.streams["listener"].log
			pool := media.NewRelayPacketPool()
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				a.sys.Root.Send(a.ch, packet(pool, "talker"))
				select {
				case <-log:
				case <-time.After(wait):
					b.Fatal("packet not relayed")
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
