package server

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/minilivechat/minilivechat/actors/channel"
	"github.com/minilivechat/minilivechat/actors/directory"
	"github.com/minilivechat/minilivechat/actors/msg"
)

// spawnDirectory starts the directory actor, which starts the preset channels as its
// children with the configured floor timers, queue limit and media plane.
func (s *Server) spawnDirectory(presets []msg.ChannelSpec) *actor.PID {
	return s.system.Root.Spawn(directory.Props(directory.Config{
		Presets: presets,
		Channel: channel.Config{
			PingTimeout: s.cfg.FloorPingTimeout,
			MaxDuration: s.cfg.FloorMaxDuration,
			QueueLimit:  s.cfg.QueueLimit,
			Media:       s.cfg.Media,

			MaxMessageLength: s.cfg.MaxMessageLength,
			ReapAfter:        s.cfg.ChannelReapAfter,
		},
		MaxChannelsPerUser: s.cfg.MaxChannelsPerUser,
		MaxUserChannels:    s.cfg.MaxUserChannels,
		CreateBurst:        s.cfg.ChannelCreateBurst,
		CreateInterval:     s.cfg.ChannelCreateInterval,
		Metrics:            s.m,
		Logger:             s.log.With("component", "actors"),
	}))
}
