package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// writeConfig writes a config file in a test's directory and returns
// its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plexus.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// nodeFlags parses args as plexus node's command line.
func nodeFlags(t *testing.T, args ...string) (*flagSet, error) {
	t.Helper()
	fs, _ := nodeCommand().setup()
	return fs, fs.parse(args)
}

// flagValue is the value of the flag name of fs, as a string.
func flagValue(t *testing.T, fs *flagSet, name string) string {
	t.Helper()
	fl := fs.fs.Lookup(name)
	if fl == nil {
		t.Fatalf("no flag %q", name)
	}
	return fl.Value.String()
}

// TestConfigFile: the keys of the file set the flags the command line
// does not set, whatever their kind.
func TestConfigFile(t *testing.T) {
	path := writeConfig(t, `
listen = ["tcp://127.0.0.1:7000", "tcp://[::1]:7000"]
join = "relay:7000"
insecure = true
relay = false
name = "lab"
drain = 7
log-level = "debug"
allow-groups = ["ops", "dev"]
`)
	fs, err := nodeFlags(t, "--config", path, "--name", "cli", "--join", "a:1", "--join", "b:2")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"listen":       "tcp://127.0.0.1:7000,tcp://[::1]:7000",
		"join":         "a:1,b:2", // the command line's, not the file's added to them
		"insecure":     "true",
		"relay":        "false",
		"name":         "cli",
		"drain":        "7s",
		"log-level":    "debug",
		"allow-groups": "ops,dev",
		"http":         defaultHTTP, // not in the file: the default
	} {
		if got := flagValue(t, fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !fs.set("allow-groups") {
		t.Error("allow-groups from the file is not seen as set")
	}
	if logger, err := fs.newLogger(new(strings.Builder)); err != nil || !logger.Enabled(t.Context(), slog.LevelDebug) {
		t.Errorf("log-level from the file: %v", err)
	}
}

// TestConfigErrors: a bad file is a usage error naming the file, the
// line and the key.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       string // after "config FILE"
	}{
		{"unknown key", "relay = true\nlisten-on = \"x\"\n", `:2: key "listen-on": unknown key`},
		{"config in config", "config = \"other.toml\"\n", `:1: key "config": unknown key`},
		{"table", "[mesh]\nlisten = \"x\"\n", `:1: key "mesh": unknown key`},
		{"string for bool", "\n\nrelay = \"yes\"\n", `:3: key "relay": want a boolean (true or false), not a string`},
		{"int for string", "name = 7\n", `:1: key "name": want a string, not an integer`},
		{"array of ints", "join = [1, 2]\n", `:1: key "join": want an array of strings, not an integer`},
		{"bool for list", "listen = true\n", `:1: key "listen": want an array of strings (or one string), not a boolean`},
		{"float for duration", "drain = 1.5\n", `:1: key "drain": want a duration such as "5s" (or whole seconds), not a float`},
		{"bad duration", "drain = \"soon\"\n", `:1: key "drain": "soon": neither whole seconds`},
		{"bad toml", "relay = \n", `:1: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			_, err := nodeFlags(t, "--config", path)
			if !errors.Is(err, errConfig) || !strings.Contains(err.Error(), "config "+path+tc.want) {
				t.Errorf("err %v, want errConfig and %q", err, "config "+path+tc.want)
			}
			r := runIn("node", "--config", path)
			if r.code != 2 || !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, "plexus help node") {
				t.Errorf("plexus node --config: exit %d, %q; want 2", r.code, r.stderr)
			}
		})
	}
	_, err := nodeFlags(t, "--config", filepath.Join(t.TempDir(), "missing.toml"))
	if !errors.Is(err, errConfig) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// The command line's value wins, but the file's must still be right.
	path := writeConfig(t, "relay = 1\n")
	if _, err := nodeFlags(t, "--config", path, "--relay=false"); !errors.Is(err, errConfig) {
		t.Errorf("bad key overridden on the command line: %v", err)
	}
}

// TestDeployConfig: deploy/plexus.toml parses, sets what it says, and
// names every flag of plexus node, set or in a comment, so that it stays
// the complete reference of the keys.
func TestDeployConfig(t *testing.T) {
	const path = "../../deploy/plexus.toml"
	fs, err := nodeFlags(t, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"listen": "tcp://0.0.0.0:7000",
		"cert":   "/etc/plexus/certs/node.crt",
		"drain":  "10s",
	} {
		if got := flagValue(t, fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fs.entries {
		if len(e.names) == 0 || e.names[0] == "config" {
			continue
		}
		re := regexp.MustCompile(`(?m)^(# )?` + regexp.QuoteMeta(e.names[0]) + ` = `)
		if !re.Match(b) {
			t.Errorf("%s does not show key %q (flag --%s): add it, set or as a comment", path, e.names[0], e.names[0])
		}
	}
}

// TestReloadConfig: SIGHUP reads the file again and applies the keys of
// the files the node reads again; it logs the others as needing a
// restart, and keeps everything on a bad file.
func TestReloadConfig(t *testing.T) {
	path := writeConfig(t, "cert = \"a.crt\"\nkey = \"a.key\"\nca = \"ca.crt\"\nrelay = true\nname = \"lab\"\n")
	o := &nodeOptions{cmd: nodeCommand()}
	fs, _ := o.cmd.setup()
	if err := fs.parse([]string{"--config", path, "--name", "cli"}); err != nil {
		t.Fatal(err)
	}
	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	o.reloadConfig(fs, log)
	if logs.String() != "" {
		t.Errorf("unchanged file: logged %q", logs.String())
	}

	if err := os.WriteFile(path, []byte("cert = \"b.crt\"\nkey = \"a.key\"\nca = \"ca.crt\"\nrelay = false\nname = \"other\"\nrevoked = \"r.pem\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.reloadConfig(fs, log)
	for name, want := range map[string]string{"cert": "b.crt", "revoked": "r.pem", "relay": "true", "name": "cli"} {
		if got := flagValue(t, fs, name); got != want {
			t.Errorf("after SIGHUP %s = %q, want %q", name, got, want)
		}
	}
	for _, want := range []string{
		`msg="SIGHUP: config key applied" file=` + path + ` key=cert value=b.crt`,
		`key=revoked value=r.pem`,
		`level=WARN msg="SIGHUP: config key changed, not applied: it needs a restart" file=` + path + ` key=relay`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}
	if strings.Contains(logs.String(), "key=name") || strings.Contains(logs.String(), "key=key") {
		t.Errorf("logged a key that did not change in effect: %q", logs.String())
	}

	logs = testutil.Buffer{}
	if err := os.WriteFile(path, []byte("cert = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.reloadConfig(fs, log)
	if !strings.Contains(logs.String(), "SIGHUP: config file not reloaded") || flagValue(t, fs, "cert") != "b.crt" {
		t.Errorf("bad file: cert %q, log %q", flagValue(t, fs, "cert"), logs.String())
	}
}

// TestNodeConfigSIGHUP runs plexus node from a config file and changes
// the file under it: SIGHUP logs the change that needs a restart, and the
// node keeps running.
func TestNodeConfigSIGHUP(t *testing.T) {
	path := writeConfig(t, "insecure = true\nlisten = [\"tcp://127.0.0.1:0\"]\nrelay = true\n")
	n := startNode(t, "--config", path)
	if err := os.WriteFile(path, []byte("insecure = true\nlisten = [\"tcp://127.0.0.1:0\"]\nrelay = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.signal(t, syscall.SIGHUP)
	rec := n.logged(t, "SIGHUP: config key changed")
	if rec["key"] != "relay" || rec["file"] != path {
		t.Errorf("SIGHUP logged %v, want key relay of %s", rec, path)
	}
	n.logged(t, "SIGHUP: the node runs without TLS")
	n.stop(t)
}

// TestAdvertiseFlags: --advertise takes up to 4 HOST:PORT, checked before
// the node starts; --direct is on unless turned off.
func TestAdvertiseFlags(t *testing.T) {
	fs, err := nodeFlags(t, "--advertise", "203.0.113.7:7000", "--advertise", "[2001:db8::7]:7000")
	if err != nil {
		t.Fatal(err)
	}
	if got := flagValue(t, fs, "direct"); got != "true" {
		t.Errorf("--direct defaults to %s", got)
	}
	if fs, err = nodeFlags(t, "--direct=false"); err != nil || flagValue(t, fs, "direct") != "false" {
		t.Errorf("--direct=false: %v", err)
	}
	for _, tc := range []struct {
		addrs []string
		ok    bool
	}{
		{[]string{"203.0.113.7:7000", "node.example.net:443"}, true},
		{[]string{"203.0.113.7"}, false},
		{[]string{"tcp://203.0.113.7:7000"}, false},
		{[]string{"203.0.113.7:0"}, false},
		{[]string{"a:1", "b:1", "c:1", "d:1", "e:1"}, false},
	} {
		m := meshFlags{advertise: tc.addrs}
		if err := m.check("listen"); (err == nil) != tc.ok {
			t.Errorf("--advertise %q: %v", tc.addrs, err)
		}
	}
	// The node started from the flags advertises the addresses.
	m := meshFlags{insecure: true, advertise: []string{"203.0.113.7:7000"}, direct: true}
	s, err := m.start(t.Context(), slog.New(slog.DiscardHandler), "listen")
	if err != nil {
		t.Fatal(err)
	}
	defer s.node.Close()
	for _, tn := range s.node.Topology().Nodes {
		if tn.ID == s.node.ID() && (len(tn.Advertise) != 1 || tn.Advertise[0] != "203.0.113.7:7000") {
			t.Errorf("the node advertises %q", tn.Advertise)
		}
	}
}
