package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/minilivechat/minilivechat/actors/directory"
	"github.com/minilivechat/minilivechat/actors/msg"
)

// LoadChannels reads a preset file: JSON or YAML (by extension, else sniffed), either a list
// of channels or {channels: [...]}, each {channel_id, freq, channel_name, capacity?}.
func LoadChannels(path string) ([]msg.ChannelSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read channels file: %w", err)
	}
	specs, err := parseChannels(data, filepath.Ext(path))
	if err != nil {
		return nil, fmt.Errorf("channels file %s: %w", path, err)
	}
	return specs, nil
}

func parseChannels(data []byte, ext string) ([]msg.ChannelSpec, error) {
	trimmed := bytes.TrimSpace(data)
	isJSON := strings.EqualFold(ext, ".json") ||
		(!strings.EqualFold(ext, ".yaml") && !strings.EqualFold(ext, ".yml") && len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{'))
	if !isJSON {
		// YAML → generic values → JSON, so that one set of (json) field names serves both.
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("parse YAML: %w", err)
		}
		var err error
		if trimmed, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("parse YAML: %w", err)
		}
	}
	var presets []presetChannel
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var wrapped struct {
			Channels []presetChannel `json:"channels"`
		}
		if err := strictJSON(trimmed, &wrapped); err != nil {
			return nil, err
		}
		presets = wrapped.Channels
	} else if err := strictJSON(trimmed, &presets); err != nil {
		return nil, err
	}
	var specs []msg.ChannelSpec
	if presets != nil {
		specs = make([]msg.ChannelSpec, len(presets))
		for i, p := range presets {
			specs[i] = msg.ChannelSpec(p)
		}
	}
	return specs, validateChannels(specs)
}

// presetChannel is one channel of a preset file; its field names are those of CHANNEL_CREATE.
type presetChannel struct {
	ChannelID   string `json:"channel_id"`
	Freq        string `json:"freq"`
	ChannelName string `json:"channel_name"`
	Capacity    int    `json:"capacity"`
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	return nil
}

// validateChannels normalises every spec with directory.ValidateSpec (the rules of
// CHANNEL_CREATE: id pattern, capacity, name and freq limits) and refuses duplicates, so that a
// bad file stops the server at start instead of losing a channel.
func validateChannels(specs []msg.ChannelSpec) error {
	if len(specs) == 0 {
		return fmt.Errorf("no channels")
	}
	seen := map[string]bool{}
	for i := range specs {
		s, err := directory.ValidateSpec(specs[i])
		if err != nil {
			return fmt.Errorf("channel %d: %s", i+1, err.Reason)
		}
		if seen[s.ChannelID] {
			return fmt.Errorf("channel %s listed twice", s.ChannelID)
		}
		seen[s.ChannelID] = true
		specs[i] = s
	}
	return nil
}
