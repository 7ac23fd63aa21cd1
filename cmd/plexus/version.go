package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

// versionCommand is `plexus version`; `plexus --version` runs it too.
func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the module version and VCS revision this binary was built from",
		help: `usage: plexus version
       plexus --version

Prints the version of the plexus module this binary was built from, the
Go version that built it, and, when the build recorded them, the VCS
revision, its commit time and whether the working tree had uncommitted
changes. 'go install ...@VERSION' records the module version (a
pseudo-version names its revision); 'go build' in a clone records the
revision. A build that recorded no revision says it is unknown.
`,
		setup: func() (*flagSet, runFunc) {
			fs := newFlagSet("version")
			fs.logging()
			return fs, func(ctx context.Context, c *cli, fs *flagSet) error {
				if len(fs.args) > 0 {
					return &usageError{cmd: "version", err: fmt.Errorf("unexpected argument %q", fs.args[0])}
				}
				bi, ok := debug.ReadBuildInfo()
				if !ok {
					bi = nil
				}
				fmt.Fprint(c.stdout, formatBuildInfo(bi))
				return nil
			}
		},
	}
}

// formatBuildInfo returns what `plexus version` prints for the build
// information bi, which is nil when the binary carries none: the module
// version on the first line, then the Go version, the VCS revision, its
// time and whether the tree was modified, as far as bi records them.
func formatBuildInfo(bi *debug.BuildInfo) string {
	if bi == nil {
		return "plexus: version unknown (the binary carries no build information)\nrevision: unknown\n"
	}
	version := bi.Main.Version
	if version == "" {
		version = "(unknown)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "plexus %s\n", version)
	if bi.Main.Path != "" {
		fmt.Fprintf(&b, "module:   %s\n", bi.Main.Path)
	}
	if bi.GoVersion != "" {
		fmt.Fprintf(&b, "go:       %s\n", bi.GoVersion)
	}
	settings := make(map[string]string, len(bi.Settings))
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	switch rev := settings["vcs.revision"]; {
	case rev != "":
		vcs := settings["vcs"]
		if vcs != "" {
			vcs = " (" + vcs + ")"
		}
		fmt.Fprintf(&b, "revision: %s%s\n", rev, vcs)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, "time:     %s\n", t)
		}
		switch settings["vcs.modified"] {
		case "true":
			b.WriteString("modified: true (built from a tree with uncommitted changes)\n")
		case "false":
			b.WriteString("modified: false\n")
		}
	default:
		if rev := pseudoVersionRev(version); rev != "" {
			fmt.Fprintf(&b, "revision: %s (from the pseudo-version; the build recorded no VCS information)\n", rev)
		} else {
			b.WriteString("revision: unknown (the build recorded no VCS information)\n")
		}
	}
	return b.String()
}

// pseudoVersionRev returns the revision prefix that the Go pseudo-version
// v names (v0.0.0-20261207235000-0123456789ab, v1.2.4-0.20261207235000-
// 0123456789ab, either with a +incompatible or +dirty suffix), or "" if
// v is not a pseudo-version.
func pseudoVersionRev(v string) string {
	v, _, _ = strings.Cut(v, "+")
	i := strings.LastIndexByte(v, '-')
	if i < 0 {
		return ""
	}
	stamp, rev := v[:i], v[i+1:]
	if len(rev) != 12 || strings.Trim(rev, "0123456789abcdef") != "" || len(stamp) < 16 {
		return ""
	}
	stamp = stamp[len(stamp)-15:]
	if (stamp[0] != '-' && stamp[0] != '.') || strings.Trim(stamp[1:], "0123456789") != "" {
		return ""
	}
	return rev
}
