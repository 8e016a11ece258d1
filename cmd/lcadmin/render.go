package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/admin"
)

// Human output of each command. Every view starts with a blank line, as in the seed's
// examples; --json bypasses all of this and prints the server's JSON.

const timeLayout = "2006-01-02 15:04:05 UTC"

func renderStatus(w io.Writer, s *admin.Status) error {
	f := fields{labelWidth: 17}
	f.add("Uptime", "%s", hms(seconds(s.UptimeS)))
	f.add("Users", "%d", s.Users)
	f.add("Channels", "%d", s.Channels)
	f.add("Peers", "%d", s.Peers)
	f.add("Floor Active", "%d", s.FloorActive)
	f.add("Version", "%s", s.Version)
	if c := s.Cluster; c != nil {
		f.add("Node", "%s (%d nodes, lease TTL %s)", sanitize(c.NodeID), len(c.Nodes), short(seconds(c.LeaseTTLS)))
		f.add("Owned Channels", "%d of %d", len(c.Held), len(c.Owners))
		f.add("Lease Changes", "%d", c.LeaseChanges)
		f.add("Trunk Packets", "%d out, %d in", c.Trunk.PacketsOut, c.Trunk.PacketsIn)
	}
	_, err := fmt.Fprintf(w, "\n  mini-livechat Server Status\n%s%s", rule(36), f.b.String())
	if err != nil || s.Cluster == nil {
		return err
	}
	return renderCluster(w, s.Cluster)
}

// renderCluster lists the nodes and which node owns each channel.
func renderCluster(w io.Writer, c *admin.ClusterStatus) error {
	nodes := table{indent: " ", header: []string{"NODE", "ADDRESS", "STARTED"}}
	for _, n := range c.Nodes {
		nodes.add(n.ID, n.Address, n.Started.UTC().Format(timeLayout))
	}
	if _, err := io.WriteString(w, "\n  Nodes"); err != nil {
		return err
	}
	if err := writeTable(w, &nodes, "no node announced"); err != nil {
		return err
	}
	owners := table{indent: " ", header: []string{"CHANNEL", "OWNER"}}
	for _, ch := range slices.Sorted(maps.Keys(c.Owners)) {
		owners.add(ch, c.Owners[ch])
	}
	if _, err := io.WriteString(w, "\n  Channel Owners"); err != nil {
		return err
	}
	return writeTable(w, &owners, "no channel owned")
}

func renderUsers(w io.Writer, l *admin.UserList, now time.Time) error {
	t := table{indent: " ", header: []string{"USER ID", "PRIORITY", "LAST HEARTBEAT", "CONNECTED"}}
	for _, u := range l.Users {
		t.add(u.UserID, strconv.Itoa(u.Priority), short(seconds(u.SinceHeartbeatS))+" ago", hms(now.Sub(u.ConnectedAt)))
	}
	return writeTable(w, &t, "no users connected")
}

func renderUser(w io.Writer, u *admin.UserDetail, now time.Time) error {
	f := fields{labelWidth: 19}
	f.add("Priority", "%d", u.Priority)
	f.add("Connected", "%s (%s ago)", u.ConnectedAt.UTC().Format(timeLayout), hms(now.Sub(u.ConnectedAt)))
	f.add("Last heartbeat", "%s ago", short(seconds(u.SinceHeartbeatS)))
	var b strings.Builder
	fmt.Fprintf(&b, "\n  User: %s\n%s%s\n  Channels\n", sanitize(u.UserID), rule(48), f.b.String())
	bullets(&b, u.Channels)
	_, err := io.WriteString(w, b.String())
	return err
}

// floorMark is the FLOOR column: a filled dot for a taken floor.
func floorMark(fl admin.FloorInfo) string {
	if fl.State == msg.FloorStateTaken {
		return "● TAKEN"
	}
	return "○ idle"
}

func holderOf(fl admin.FloorInfo) string {
	if fl.Holder == nil {
		return "-"
	}
	return *fl.Holder
}

func renderChannels(w io.Writer, l *admin.ChannelList) error {
	t := table{indent: " ", header: []string{"CHANNEL ID", "FREQ", "NAME", "MEMBERS", "CAP", "FLOOR", "HOLDER", "Q"}}
	for _, c := range l.Channels {
		t.add(c.ChannelID, c.Freq, c.ChannelName, strconv.Itoa(c.MemberCount), strconv.Itoa(c.Capacity),
			floorMark(c.Floor), holderOf(c.Floor), strconv.Itoa(c.QueueSize))
	}
	return writeTable(w, &t, "no channels")
}

func renderChannel(w io.Writer, c *admin.AdminChannelDetail, now time.Time) error {
	f := fields{labelWidth: 19}
	f.add("Capacity", "%d/%d", c.MemberCount, c.Capacity)
	f.add("Created", "%s", c.CreatedAt.UTC().Format(timeLayout))
	floor := floorMark(c.Floor)
	if c.Floor.State == msg.FloorStateTaken {
		held := "?"
		if c.Floor.Since != nil {
			held = short(now.Sub(*c.Floor.Since))
		}
		floor += fmt.Sprintf(" (holder: %s, %s elapsed, priority: %d)", holderOf(c.Floor), held, c.Floor.Priority)
	}
	f.add("Floor", "%s", floor)
	if c.Creator != "" {
		f.add("Creator", "%s", c.Creator)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\n  Channel: %s [%s] %s\n%s%s", sanitize(c.ChannelID), sanitize(c.Freq),
		sanitize(c.ChannelName), rule(48), f.b.String())
	b.WriteString("\n  Members\n")
	ids := make([]string, 0, len(c.Members))
	for _, m := range c.Members {
		ids = append(ids, m.UserID)
	}
	bullets(&b, ids)
	b.WriteString("\n  Queue\n")
	if len(c.Queue) == 0 {
		b.WriteString("    (empty)\n")
	}
	for i, q := range c.Queue {
		fmt.Fprintf(&b, "    %d. %s (priority %d)\n", i+1, sanitize(q.UserID), q.Priority)
	}
	b.WriteString("\n  Peers\n")
	if len(c.Peers) == 0 {
		b.WriteString("    (none)\n")
	} else {
		t := table{indent: "   ", header: []string{"UFRAG", "USER ID", "CHANNEL", "IDLE(s)", "SRTP"}}
		for _, p := range c.Peers {
			t.add(p.Ufrag, p.UserID, p.ChannelID, idle(p.IdleS), strconv.FormatBool(p.SRTPReady))
		}
		if err := t.write(&b); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func idle(s float64) string { return strconv.FormatFloat(s, 'f', 0, 64) }

func renderBursts(w io.Writer, l *admin.BurstList) error {
	t := table{indent: " ", header: []string{"ID", "CHANNEL", "TALKER", "PRIO", "GRANTED", "DURATION", "ENDED BY", "PACKETS"}}
	for _, b := range l.Bursts {
		prio := strconv.Itoa(b.Priority)
		if b.Emergency {
			prio += " !"
		}
		dur, reason := "-", b.EndReason
		if b.DurationS != nil {
			dur = strconv.FormatFloat(*b.DurationS, 'f', 1, 64) + " s"
		}
		if reason == "" {
			reason = "(talking)"
		}
		t.add(strconv.FormatInt(b.ID, 10), b.ChannelID, b.UserID, prio, b.GrantedAt.UTC().Format(timeLayout),
			dur, reason, strconv.FormatUint(b.Packets, 10))
	}
	return writeTable(w, &t, "no bursts")
}

func renderPeers(w io.Writer, l *admin.PeerList) error {
	t := table{indent: " ", header: []string{"UFRAG", "USER ID", "CHANNEL", "ADDRESS", "IDLE(s)", "SRTP", "PKTS IN", "PKTS OUT"}}
	for _, p := range l.Peers {
		t.add(p.Ufrag, p.UserID, p.ChannelID, p.Address, idle(p.IdleS), strconv.FormatBool(p.SRTPReady),
			strconv.FormatUint(p.PacketsIn, 10), strconv.FormatUint(p.PacketsOut, 10))
	}
	return writeTable(w, &t, "no media peers")
}

func renderPeer(w io.Writer, p *admin.PeerDetail) error {
	f := fields{labelWidth: 19}
	f.add("User", "%s", p.UserID)
	f.add("Channel", "%s", p.ChannelID)
	f.add("Address", "%s", p.Address)
	f.add("Idle", "%s", short(seconds(p.IdleS)))
	f.add("SRTP ready", "%t", p.SRTPReady)
	f.add("Packets in/out", "%d / %d", p.PacketsIn, p.PacketsOut)
	f.add("Bytes in/out", "%d / %d", p.BytesIn, p.BytesOut)
	f.add("Receiver report", "%.1f%% lost (%d packets), jitter %.1f ms", p.FractionLost*100, p.PacketsLost, p.JitterMs)
	var b strings.Builder
	fmt.Fprintf(&b, "\n  Peer: %s\n%s%s\n  Tracks\n", sanitize(p.Ufrag), rule(48), f.b.String())
	if len(p.Tracks) == 0 {
		b.WriteString("    (none)\n")
	} else {
		t := table{indent: "   ", header: []string{"KIND", "MID", "PT", "SSRC IN", "SSRC OUT"}}
		for _, tr := range p.Tracks {
			t.add(tr.Kind, tr.Mid, strconv.Itoa(int(tr.PayloadType)),
				strconv.FormatUint(uint64(tr.SSRCIn), 10), strconv.FormatUint(uint64(tr.SSRCOut), 10))
		}
		if err := t.write(&b); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderRevoke(w io.Writer, r *admin.RevokeResult) error {
	from := "-"
	if r.RevokedFrom != nil {
		from = *r.RevokedFrom
	}
	_, err := fmt.Fprintf(w, "\n  Floor Revoke OK channel=%s revoked_from=%s\n", sanitize(r.ChannelID), sanitize(from))
	return err
}

func writeTable(w io.Writer, t *table, empty string) error {
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	if len(t.rows) == 0 {
		_, err := fmt.Fprintf(w, " (%s)\n", empty)
		return err
	}
	return t.write(w)
}

func bullets(b *strings.Builder, items []string) {
	if len(items) == 0 {
		b.WriteString("    (none)\n")
	}
	for _, it := range items {
		fmt.Fprintf(b, "    · %s\n", sanitize(it))
	}
}
