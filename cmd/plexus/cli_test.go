package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestHelpEveryCommand: every command and subcommand has help, the same
// from `plexus help <command>` and from `plexus <command> -h`.
func TestHelpEveryCommand(t *testing.T) {
	var paths [][]string
	for _, cmd := range commands() {
		paths = append(paths, []string{cmd.name})
		for _, sub := range cmd.sub {
			paths = append(paths, []string{cmd.name, sub.name})
		}
	}
	for _, p := range paths {
		name := strings.Join(p, " ")
		help := runIn(append([]string{"help"}, p...)...)
		if help.code != 0 || !strings.HasPrefix(help.stdout, "usage: plexus "+name) {
			t.Errorf("plexus help %s: exit %d, %q", name, help.code, help.stdout)
			continue
		}
		for _, flag := range []string{"-h", "--help"} {
			h := runIn(append(p, flag)...)
			if h.code != 0 || h.stdout != help.stdout {
				t.Errorf("plexus %s %s: exit %d, output differs from plexus help %s:\n%s", name, flag, h.code, name, h.stdout)
			}
		}
		if len(p) == 1 && findCommand(commands(), p[0]).sub == nil && !strings.Contains(help.stdout, "flags:") {
			t.Errorf("plexus help %s lists no flags", name)
		}
	}
	if r := runIn("help", "bogus"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "bogus"`) {
		t.Errorf("help bogus: exit %d, %q", r.code, r.stderr)
	}
	if r := runIn("help", "cert", "bogus"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "cert bogus"`) {
		t.Errorf("help cert bogus: exit %d, %q", r.code, r.stderr)
	}
}

// TestUsageErrors: a bad command line is a clear message and status 2,
// pointing at the command's help.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--bogus"}, "unknown flag --bogus"},
		{[]string{"demo", "--log-level"}, "--log-level needs a value"},
		{[]string{"demo", "--log-level", "loud"}, `--log-level "loud": want debug, info, warn or error`},
		{[]string{"demo", "--log-format", "xml"}, `--log-format "xml": want text or json`},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"cert"}, "a subcommand is needed"},
		{[]string{"cert", "nope"}, `unknown subcommand "nope"`},
		{[]string{"cert", "ca", "--out"}, "--out needs a value"},
	} {
		r := runIn(tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "plexus help") {
			t.Errorf("plexus %s: exit %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// TestLogFlags: the shared logging flags pick the handler and level.
func TestLogFlags(t *testing.T) {
	fs := newFlagSet("test")
	fs.logging()
	if err := fs.parse([]string{"--log-format", "json", "--log-level", "debug", "arg"}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	l, err := fs.newLogger(&b)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hello", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal([]byte(b.String()), &rec); err != nil || rec["msg"] != "hello" || rec["level"] != "DEBUG" {
		t.Fatalf("json debug log: %q (%v)", b.String(), err)
	}
	if len(fs.args) != 1 || fs.args[0] != "arg" {
		t.Fatalf("args %q", fs.args)
	}

	fs = newFlagSet("test")
	fs.logging()
	if err := fs.parse([]string{"--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if l, err = fs.newLogger(&b); err != nil {
		t.Fatal(err)
	}
	l.Info("quiet")
	l.Warn("loud")
	if s := b.String(); strings.Contains(s, "quiet") || !strings.Contains(s, "level=WARN msg=loud") {
		t.Fatalf("text warn log: %q", s)
	}

	fs = newFlagSet("test")
	fs.logging()
	fs.parse([]string{"--log-level", "chatty"})
	if _, err := fs.newLogger(&b); !errors.Is(err, errLogFlag) {
		t.Fatalf("bad level: %v", err)
	}
}

// TestFlagsAnywhere: flags may follow arguments; "--" ends the flags.
func TestFlagsAnywhere(t *testing.T) {
	var v bool
	fs := newFlagSet("test")
	fs.boolFlag(&v, "v", "verbose", "v")
	if err := fs.parse([]string{"a", "-v", "b", "--", "-c"}); err != nil {
		t.Fatal(err)
	}
	if !v || strings.Join(fs.args, " ") != "a b -c" {
		t.Fatalf("v %v, args %q", v, fs.args)
	}
}

// TestDurations: whole seconds as nngcat takes them, or Go durations.
func TestDurations(t *testing.T) {
	for in, want := range map[string]string{"0": "0s", "2": "2s", "250ms": "250ms", "1m30s": "1m30s", "86400": "24h0m0s"} {
		d, err := parseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("%q: %v %v, want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"-1", "86401", "25h", "soon", "-5ms", ""} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
