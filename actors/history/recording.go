package history

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/minilivechat/minilivechat/actors/msg"
)

// RecordingsDir is where the Ogg Opus files are, inside the data directory.
const RecordingsDir = "recordings"

// Opus in WebRTC is always 48 kHz; the stream is declared stereo as RFC 7587 asks of SDP, and
// decoders play the mono packets the clients send either way.
const (
	opusRate     = 48000
	opusChannels = 2
)

// recorder is one burst's file. oggwriter writes one Ogg page per packet, so what is on disk
// is playable up to the last packet even if the process dies mid-burst.
type recorder struct {
	w    *oggwriter.OggWriter
	file string // relative to the data directory
}

// startRecording opens the file of burst id. A failure is counted, logged once until a
// recording succeeds again, and leaves the burst unrecorded; the call goes on.
func (a *Actor) startRecording(channelID string, id int64) {
	rel := filepath.Join(RecordingsDir, strconv.FormatInt(id, 10)+".ogg")
	err := os.MkdirAll(filepath.Join(a.cfg.Dir, RecordingsDir), 0o750)
	var w *oggwriter.OggWriter
	if err == nil {
		w, err = oggwriter.New(filepath.Join(a.cfg.Dir, rel), opusRate, opusChannels)
	}
	if err != nil {
		a.recordingFailed(channelID, fmt.Errorf("open recording: %w", err))
		return
	}
	if a.fail("recording", a.cfg.Store.SetRecording(id, rel)) {
		_ = w.Close()
		return
	}
	a.rec[channelID] = &recorder{w: w, file: rel}
}

// record writes one packet of a recording channel's burst.
func (a *Actor) record(m *msg.RecordedPacket) {
	defer m.Packet.Release()
	r := a.rec[m.ChannelID]
	if r == nil {
		return
	}
	var p rtp.Packet
	if err := p.Unmarshal(m.Packet.Bytes()); err != nil {
		return // not RTP: the relay passed it on, the recording skips it
	}
	if err := r.w.WriteRTP(&p); err != nil {
		// Disk full or gone: this burst's recording stops; the file holds what was written.
		_ = r.w.Close()
		delete(a.rec, m.ChannelID)
		a.recordingFailed(m.ChannelID, fmt.Errorf("write recording %s: %w", r.file, err))
		return
	}
	a.cfg.Metrics.RecordingPackets.Inc()
	a.failing = false
}

// stopRecording closes the channel's open recording, if any.
func (a *Actor) stopRecording(channelID string) {
	if r := a.rec[channelID]; r != nil {
		if err := r.w.Close(); err != nil {
			a.recordingFailed(channelID, fmt.Errorf("close recording %s: %w", r.file, err))
		}
		delete(a.rec, channelID)
	}
}

func (a *Actor) recordingFailed(channelID string, err error) {
	a.cfg.Metrics.HistoryErrors.WithLabelValues("recording").Inc()
	if !a.failing {
		a.failing = true
		a.log.Error("recording stopped; the call goes on (logged once until a recording succeeds)", "channel_id", channelID, "err", err)
	}
}

// capRecordings removes the oldest closed recordings (lowest burst ids) until the total size
// is within MaxRecordingBytes; open recordings are kept.
func (a *Actor) capRecordings() {
	limit := a.cfg.MaxRecordingBytes
	if limit <= 0 {
		return
	}
	dir := filepath.Join(a.cfg.Dir, RecordingsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		a.fail("prune", err)
		return
	}
	type file struct {
		id   int64
		size int64
	}
	var files []file
	var total int64
	open := map[string]bool{}
	for _, r := range a.rec {
		open[filepath.Base(r.file)] = true
	}
	for _, e := range entries {
		id, perr := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".ogg"), 10, 64)
		info, ierr := e.Info()
		if perr != nil || ierr != nil || !info.Mode().IsRegular() {
			continue
		}
		total += info.Size()
		if !open[e.Name()] {
			files = append(files, file{id: id, size: info.Size()})
		}
	}
	slices.SortFunc(files, func(x, y file) int { return cmp.Compare(x.id, y.id) })
	removed := 0
	for _, f := range files {
		if total <= limit {
			break
		}
		if err := os.Remove(filepath.Join(dir, strconv.FormatInt(f.id, 10)+".ogg")); err != nil {
			a.fail("prune", err)
			continue
		}
		total -= f.size
		removed++
		a.fail("prune", a.cfg.Store.UnlinkRecording(f.id))
	}
	if removed > 0 {
		a.log.Info("oldest recordings removed to stay within the size cap", "files", removed, "limit_bytes", limit)
	}
}

// recordingPath answers GetRecording.
func (a *Actor) recordingPath(id int64) (string, *msg.Error) {
	rel, err := a.cfg.Store.Recording(id)
	if err != nil {
		a.log.Error("looking up a recording", "err", err)
		return "", msg.Errorf(msg.CodeInternal, "reading the burst log failed")
	}
	if rel == "" {
		return "", msg.Errorf(msg.CodeNoSuchRecording, "burst %d has no recording", id)
	}
	return filepath.Join(a.cfg.Dir, rel), nil
}
