package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "3f2a9c1d0e4b5a6978877665544332211aabbccd"}}
	for _, tc := range []struct {
		name, stamped string
		info          *debug.BuildInfo
		want          string
	}{
		{"stamped by make", "v1.2.0", &debug.BuildInfo{Main: debug.Module{Version: "v9"}}, "v1.2.0"},
		{"go install of a tag", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "v1.3.0"},
		{"go build in a checkout", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: rev}, "(devel) rev 3f2a9c1d0e4b"},
		{"uncommitted changes", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.1-0.20261201-3f2a9c1d0e4b"},
			Settings: append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"})}, "v1.3.1-0.20261201-3f2a9c1d0e4b rev 3f2a9c1d0e4b+dirty"},
		{"nothing recorded", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"no build info", "", nil, "dev"},
	} {
		if got := From(tc.stamped, tc.info); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if Version("v7") != "v7" {
		t.Error("a stamped version is not kept")
	}
}
