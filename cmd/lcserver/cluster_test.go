package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minilivechat/minilivechat/actors/cluster"
	"github.com/minilivechat/minilivechat/admin"
)

const clusterTTL = time.Second

// startNode runs the binary as cluster node id joined to natsURL, and waits for its address.
func startNode(t *testing.T, bin, natsURL, id string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "--port", "0", "--udp-port", "0", "--bind", "127.0.0.1", "--advertise-ip", "127.0.0.1",
		"--nats", natsURL, "--node-id", id, "--cluster-lease-ttl", clusterTTL.String())
	cmd.Env = append(os.Environ(), "LIVECHAT_SECRET="+restartSecret, "LIVECHAT_DATA_DIR="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		<-drained
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	select {
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("node %s exited before listening: %v", id, p.err)
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not report its address", id)
	}
	return p
}

// clusterStatus is the node's GET /admin/status cluster part, nil if it cannot be had.
func (p *proc) clusterStatus(t *testing.T) *admin.ClusterStatus {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/admin/status")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st admin.Status
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return nil
	}
	return st.Cluster
}

// agreedOwners is the channel → owner map that every node reports alike, with every node
// listing all of them as alive; nil while they disagree.
func agreedOwners(t *testing.T, nodes []*proc, channels []string) map[string]string {
	var first map[string]string
	for _, p := range nodes {
		st := p.clusterStatus(t)
		if st == nil || len(st.Nodes) != len(nodes) {
			return nil
		}
		for _, ch := range channels {
			if st.Owners[ch] == "" {
				return nil
			}
		}
		if first == nil {
			first = st.Owners
		} else if fmt.Sprint(first) != fmt.Sprint(st.Owners) {
			return nil
		}
	}
	return first
}

func pollFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
	return time.Since(start)
}

// TestClusterOwnersAndFailover: three lcserver processes joined to a NATS server the test
// runs agree on one owner per channel in /admin/status; when the owner of a channel is killed
// (SIGKILL: no lease released) a surviving node owns it within the documented bound
// (TTL + TTL/3, plus slack for a shared machine).
func TestClusterOwnersAndFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ns, err := cluster.StartServer(cluster.ServerConfig{Dir: t.TempDir(), JetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	bin := filepath.Join(t.TempDir(), "lcserver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ids := []string{"node-a", "node-b", "node-c"}
	var nodes []*proc
	for _, id := range ids {
		nodes = append(nodes, startNode(t, bin, ns.ClientURL(), id))
	}
	channels := []string{"CH_0001", "CH_0002", "CH_0003"}
	var owners map[string]string
	pollFor(t, 15*time.Second, "three nodes agree on the owners", func() bool {
		owners = agreedOwners(t, nodes, channels)
		return owners != nil
	})
	dead := owners["CH_0001"]
	i := slices.Index(ids, dead)
	if i < 0 {
		t.Fatalf("owner %q is no node", dead)
	}
	if err := nodes[i].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-nodes[i].exited
	survivors := slices.Delete(slices.Clone(nodes), i, i+1)
	bound := clusterTTL + clusterTTL/3
	took := pollFor(t, bound+2*time.Second, "survivors own every channel", func() bool {
		o := agreedOwners(t, survivors, channels)
		if o == nil {
			return false
		}
		for _, ch := range channels {
			if o[ch] == dead {
				return false
			}
		}
		return true
	})
	t.Logf("owner %s killed; survivors own its channels after %v (bound %v)", dead, took, bound)
}
