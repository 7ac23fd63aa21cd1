package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestFormatBuildInfo: what `plexus version` prints for the build
// information of a clone's build, a go install of a release and of a
// pseudo-version, a build without VCS stamping, and none at all.
func TestFormatBuildInfo(t *testing.T) {
	const mod = "github.com/plexusnet/plexus"
	vcs := func(rev, time, modified string) []debug.BuildSetting {
		s := []debug.BuildSetting{{Key: "-buildmode", Value: "exe"}, {Key: "vcs", Value: "git"}}
		if rev != "" {
			s = append(s, debug.BuildSetting{Key: "vcs.revision", Value: rev})
		}
		if time != "" {
			s = append(s, debug.BuildSetting{Key: "vcs.time", Value: time})
		}
		if modified != "" {
			s = append(s, debug.BuildSetting{Key: "vcs.modified", Value: modified})
		}
		return s
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{
			name: "clone, clean",
			bi: &debug.BuildInfo{GoVersion: "go1.24.2", Main: debug.Module{Path: mod, Version: "v0.0.0-20261207230000-0123456789ab"},
				Settings: vcs(rev, "2026-12-07T23:00:00Z", "false")},
			want: "plexus v0.0.0-20261207230000-0123456789ab\n" +
				"module:   " + mod + "\n" +
				"go:       go1.24.2\n" +
				"revision: " + rev + " (git)\n" +
				"time:     2026-12-07T23:00:00Z\n" +
				"modified: false\n",
		},
		{
			name: "clone, uncommitted changes",
			bi: &debug.BuildInfo{GoVersion: "go1.24.2", Main: debug.Module{Path: mod, Version: "(devel)"},
				Settings: vcs(rev, "2026-12-07T23:00:00Z", "true")},
			want: "plexus (devel)\n" +
				"module:   " + mod + "\n" +
				"go:       go1.24.2\n" +
				"revision: " + rev + " (git)\n" +
				"time:     2026-12-07T23:00:00Z\n" +
				"modified: true (built from a tree with uncommitted changes)\n",
		},
		{
			name: "revision without time or modified flag",
			bi:   &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "(devel)"}, Settings: vcs(rev, "", "")},
			want: "plexus (devel)\n" +
				"module:   " + mod + "\n" +
				"revision: " + rev + " (git)\n",
		},
		{
			name: "go install of a release",
			bi:   &debug.BuildInfo{GoVersion: "go1.24.2", Main: debug.Module{Path: mod, Version: "v0.1.0"}},
			want: "plexus v0.1.0\n" +
				"module:   " + mod + "\n" +
				"go:       go1.24.2\n" +
				"revision: unknown (the build recorded no VCS information)\n",
		},
		{
			name: "go install of a pseudo-version",
			bi:   &debug.BuildInfo{GoVersion: "go1.24.2", Main: debug.Module{Path: mod, Version: "v0.0.0-20261207230000-0123456789ab"}},
			want: "plexus v0.0.0-20261207230000-0123456789ab\n" +
				"module:   " + mod + "\n" +
				"go:       go1.24.2\n" +
				"revision: 0123456789ab (from the pseudo-version; the build recorded no VCS information)\n",
		},
		{
			name: "pseudo-version after a tag, dirty",
			bi:   &debug.BuildInfo{Main: debug.Module{Path: mod, Version: "v0.1.1-0.20261207230000-0123456789ab+dirty"}},
			want: "plexus v0.1.1-0.20261207230000-0123456789ab+dirty\n" +
				"module:   " + mod + "\n" +
				"revision: 0123456789ab (from the pseudo-version; the build recorded no VCS information)\n",
		},
		{
			name: "built with -buildvcs=false",
			bi:   &debug.BuildInfo{GoVersion: "go1.24.2", Main: debug.Module{Path: mod, Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "-buildvcs", Value: "false"}}},
			want: "plexus (devel)\n" +
				"module:   " + mod + "\n" +
				"go:       go1.24.2\n" +
				"revision: unknown (the build recorded no VCS information)\n",
		},
		{
			name: "empty build info",
			bi:   &debug.BuildInfo{},
			want: "plexus (unknown)\n" +
				"revision: unknown (the build recorded no VCS information)\n",
		},
		{
			name: "no build info",
			bi:   nil,
			want: "plexus: version unknown (the binary carries no build information)\nrevision: unknown\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatBuildInfo(tc.bi); got != tc.want {
				t.Errorf("formatBuildInfo:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestPseudoVersionRev: the revision of a pseudo-version, and none of
// anything else.
func TestPseudoVersionRev(t *testing.T) {
	for _, tc := range []struct{ v, want string }{
		{"v0.0.0-20261207230000-0123456789ab", "0123456789ab"},
		{"v1.2.4-0.20261207230000-0123456789ab", "0123456789ab"},
		{"v1.2.3-pre.0.20261207230000-0123456789ab", "0123456789ab"},
		{"v2.0.0-20261207230000-0123456789ab+incompatible", "0123456789ab"},
		{"v0.0.0-20261207230000-0123456789ab+dirty", "0123456789ab"},
		{"v0.1.0", ""},
		{"v0.1.0-rc.1", ""},
		{"(devel)", ""},
		{"", ""},
		{"v0.0.0-2026120723000-0123456789ab", ""},  // 13 digits
		{"v0.0.0-20261207230000-0123456789AB", ""}, // not lower-case hex
		{"v0.0.0-20261207230000-0123456789", ""},   // 10 hex digits
		{"x20261207230000-0123456789ab", ""},
	} {
		if got := pseudoVersionRev(tc.v); got != tc.want {
			t.Errorf("pseudoVersionRev(%q) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestVersionCommand: `plexus version` and `plexus --version` print the
// same, starting with the module version line; extra arguments are a
// usage error.
func TestVersionCommand(t *testing.T) {
	v := runIn("version")
	if v.code != 0 || !strings.HasPrefix(v.stdout, "plexus ") || !strings.Contains(v.stdout, "revision: ") {
		t.Fatalf("plexus version: exit %d, %q, stderr %q", v.code, v.stdout, v.stderr)
	}
	for _, args := range [][]string{{"--version"}, {"-version"}} {
		if r := runIn(args...); r.code != 0 || r.stdout != v.stdout {
			t.Errorf("plexus %s: exit %d, %q; want %q", args[0], r.code, r.stdout, v.stdout)
		}
	}
	for _, args := range [][]string{{"version", "extra"}, {"--version", "extra"}} {
		if r := runIn(args...); r.code != 2 || !strings.Contains(r.stderr, `unexpected argument "extra"`) {
			t.Errorf("plexus %s: exit %d, stderr %q; want 2", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}
