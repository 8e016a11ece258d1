// Package configfile lets every flag of a urfave/cli/v2 command also be set from a YAML file
// named by one flag (lcserver --config; docs/operations.md §9). The file's keys are
// the long flag names; a command line flag or its environment variable wins over the file,
// and the file wins over the default. A key that names no flag is an error, so a typo is
// never silently ignored.
package configfile

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
	"gopkg.in/yaml.v3"
)

// Wrap returns flags with every flag of a kind altsrc can fill (string, bool, int, duration,
// float, string slice, path) wrapped so that the file can set it. Flags added later to the
// command get this without further work.
func Wrap(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			out[i] = altsrc.NewStringFlag(f)
		case *cli.BoolFlag:
			out[i] = altsrc.NewBoolFlag(f)
		case *cli.IntFlag:
			out[i] = altsrc.NewIntFlag(f)
		case *cli.DurationFlag:
			out[i] = altsrc.NewDurationFlag(f)
		case *cli.Float64Flag:
			out[i] = altsrc.NewFloat64Flag(f)
		case *cli.StringSliceFlag:
			out[i] = altsrc.NewStringSliceFlag(f)
		case *cli.PathFlag:
			out[i] = altsrc.NewPathFlag(f)
		default:
			out[i] = f
		}
	}
	return out
}

// Before is the command's Before hook: when the flag named fileFlag is set, it checks the
// file's keys against the flags (refusing the fileFlag itself and the names in refused, with
// why) and applies its values.
func Before(flags []cli.Flag, fileFlag string, refused map[string]string) cli.BeforeFunc {
	apply := altsrc.InitInputSourceWithContext(flags, altsrc.NewYamlSourceFromFlagFunc(fileFlag))
	return func(c *cli.Context) error {
		path := c.String(fileFlag)
		if path == "" {
			return nil
		}
		if err := checkKeys(path, flags, fileFlag, refused); err != nil {
			return err
		}
		if err := apply(c); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
		return nil
	}
}

func checkKeys(path string, flags []cli.Flag, fileFlag string, refused map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config file %s: not YAML of key: value lines: %w", path, err)
	}
	var names []string
	for _, f := range flags {
		names = append(names, f.Names()...)
	}
	var unknown []string
	for k := range m {
		if why, ok := refused[k]; ok {
			return fmt.Errorf("config file %s: %q cannot be set here: %s", path, k, why)
		}
		if k == fileFlag {
			return fmt.Errorf("config file %s: %q cannot name another config file", path, k)
		}
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("config file %s: unknown setting %s (keys are the long flag names, as in --help)",
			path, strings.Join(unknown, ", "))
	}
	return nil
}
