package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/minilivechat/minilivechat/actors/directory"
)

// FuzzParseChannels feeds arbitrary preset files (any bytes, under a .json, .yaml or no
// extension) to the parser behind --channels-file. A file is refused with an error or gives a
// non-empty list of channels that each pass CHANNEL_CREATE's rules unchanged, with no id
// twice, and that read back the same from their own JSON: the server never starts with a
// channel a client could not have created.
func FuzzParseChannels(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "presets", "*"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b, uint8(1))
		f.Add(b, uint8(2))
	}
	f.Add([]byte(`[{"channel_id":"a"},{"channel_id":"a"}]`), uint8(0))
	f.Add([]byte(`{"channels":[{"channel_id":"a","capacity":-1}]}`), uint8(0))
	f.Add([]byte(`[{"channel_id":"a","colour":"red"}]`), uint8(0))
	f.Add([]byte("channels: [\n"), uint8(1))
	f.Add([]byte("- channel_id: &x a\n- channel_id: *x\n"), uint8(1))
	f.Add([]byte("- {channel_id: a, capacity: 1e3}\n- {channel_id: b, freq: 7}\n"), uint8(2))
	f.Add([]byte("? [a]\n: b\n"), uint8(1))
	f.Add([]byte{}, uint8(2))
	exts := []string{".json", ".yaml", ""}
	f.Fuzz(func(t *testing.T, data []byte, ext uint8) {
		specs, err := parseChannels(data, exts[int(ext)%len(exts)])
		if err != nil {
			return
		}
		if len(specs) == 0 {
			t.Fatal("accepted a file with no channels")
		}
		seen := map[string]bool{}
		for _, s := range specs {
			again, verr := directory.ValidateSpec(s)
			if verr != nil || again != s {
				t.Fatalf("accepted %+v, which CHANNEL_CREATE would make %+v (%v)", s, again, verr)
			}
			if seen[s.ChannelID] {
				t.Fatalf("channel %q accepted twice", s.ChannelID)
			}
			seen[s.ChannelID] = true
		}
		file := make([]presetChannel, len(specs))
		for i, s := range specs {
			file[i] = presetChannel(s)
		}
		b, err := json.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseChannels(b, ".json")
		if err != nil || !reflect.DeepEqual(back, specs) {
			t.Fatalf("accepted channels do not read back from %s: %v", b, err)
		}
	})
}
