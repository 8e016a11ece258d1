package server

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/channel"
	"github.com/minilivechat/minilivechat/actors/directory"
	"github.com/minilivechat/minilivechat/actors/history"
	"github.com/minilivechat/minilivechat/actors/history/store"
	"github.com/minilivechat/minilivechat/actors/msg"
)

// restored is what the database held at start.
type restored struct {
	channels []msg.StoredChannel
	recent   map[string][]msg.MessageEvent
}

// startHistory opens the database in the data directory, reads the stored channels and recent
// chat, and hands the database to a new history actor, its one owner from then on. Without a
// data directory there is no history.
func (s *Server) startHistory() (restored, error) {
	if s.cfg.DataDir == "" {
		return restored{}, nil
	}
	st, err := store.Open(s.cfg.DataDir)
	if err != nil {
		return restored{}, fmt.Errorf("history: %w", err)
	}
	var r restored
	if r.channels, err = st.Channels(); err == nil {
		r.recent, err = st.RecentMessages(channel.DefaultRecentLimit)
	}
	if err != nil {
		_ = st.Close()
		return restored{}, fmt.Errorf("history: %w", err)
	}
	s.recordingURLs = history.NewURLSigner([]byte(s.cfg.Secret), 0)
	s.history = s.system.Root.Spawn(history.Props(history.Config{
		URLs: s.recordingURLs, Store: st, Dir: s.cfg.DataDir, MaxRecordingBytes: s.cfg.MaxRecordingBytes, Retention: s.cfg.HistoryRetention, Metrics: s.m, Logger: s.log,
	}))
	s.log.Info("history database open", "dir", s.cfg.DataDir, "file", store.FileName,
		"channels", len(r.channels))
	return r, nil
}

// spawnDirectory starts the directory actor, which starts the preset channels as its
// children with the configured floor timers, queue limit and media plane.
func (s *Server) spawnDirectory(presets []msg.ChannelSpec, h restored) *actor.PID {
	var leases directory.Leases // a nil *cluster.Node must stay a nil interface
	if s.cluster != nil {
		leases = s.cluster.node
	}
	return s.system.Root.Spawn(directory.Props(directory.Config{
		Cluster: leases,
		Presets: presets,
		History: s.history,
		Stored:  h.channels,
		Recent:  h.recent,
		Record:  s.cfg.RecordChannels,
		Channel: channel.Config{
			PingTimeout: s.cfg.FloorPingTimeout,
			MaxDuration: s.cfg.FloorMaxDuration,
			QueueLimit:  s.cfg.QueueLimit,
			Media:       s.cfg.Media,

			MaxMessageLength: s.cfg.MaxMessageLength,
			ReapAfter:        s.cfg.ChannelReapAfter,
			Cluster:          s.linkFunc(),
		},
		MaxChannelsPerUser: s.cfg.MaxChannelsPerUser,
		MaxUserChannels:    s.cfg.MaxUserChannels,
		CreateBurst:        s.cfg.ChannelCreateBurst,
		CreateInterval:     s.cfg.ChannelCreateInterval,
		Metrics:            s.m,
		Logger:             s.log.With("component", "actors"),
		Clock:              s.cfg.Clock,
	}))
}
