// Package buildinfo gives the binaries their --version: the string `make` stamps with
// -ldflags "-X main.version=…", or, in a binary built without it (go build, go install), the
// module version and VCS revision Go records in the build info.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Unstamped is the version a binary has before the build stamps one.
const Unstamped = "dev"

// Version is stamped when the build set it, else what the running binary's build info says.
func Version(stamped string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return From(stamped, info)
}

// From is Version over a given build info (nil when there is none): "v1.2.0" for a module
// version alone, "(devel) rev 3f2a9c1d0e4b" for a checkout, "+dirty" when it had uncommitted
// changes, Unstamped when nothing is known.
func From(stamped string, info *debug.BuildInfo) string {
	if stamped != "" && stamped != Unstamped {
		return stamped
	}
	if info == nil {
		return Unstamped
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	var parts []string
	if v := info.Main.Version; v != "" {
		parts = append(parts, v)
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		parts = append(parts, "rev "+rev)
	}
	if len(parts) == 0 || (len(parts) == 1 && parts[0] == "(devel)") {
		return Unstamped
	}
	return strings.Join(parts, " ")
}
