package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// completionScript runs plexus completion shell in this process and
// writes the script to a file, whose path it returns with the text.
func completionScript(t *testing.T, shell string) (string, string) {
	t.Helper()
	r := runIn("completion", shell)
	if r.code != 0 || r.stdout == "" {
		t.Fatalf("plexus completion %s: exit %d, %q", shell, r.code, r.stderr)
	}
	path := filepath.Join(t.TempDir(), "plexus."+shell)
	if err := os.WriteFile(path, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, r.stdout
}

// commandNames are the names of the command table, in order.
func commandNames() []string {
	var names []string
	for _, cmd := range commands() {
		names = append(names, cmd.name)
	}
	return names
}

// shellCheck runs shell -n on the script: it must parse.
func shellCheck(t *testing.T, shell, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, shell, "-n", path).CombinedOutput(); err != nil {
		t.Errorf("%s -n: %v\n%s", shell, err, out)
	}
}

// TestCompletionScripts: each script parses in its shell, lists the
// commands of the command table, and names only safe words.
func TestCompletionScripts(t *testing.T) {
	for _, tc := range []struct {
		shell string
		list  *regexp.Regexp // the line listing the commands
	}{
		{"bash", regexp.MustCompile(`(?m)^_plexus_commands="([^"]*)"$`)},
		{"zsh", regexp.MustCompile(`(?m)^_plexus_commands=\(([^)]*)\)$`)},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			path, text := completionScript(t, tc.shell)
			m := tc.list.FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("no command list in the script:\n%s", text)
			}
			if got, want := m[1], strings.Join(commandNames(), " "); got != want {
				t.Errorf("commands in the script %q, command table %q", got, want)
			}
			if _, err := exec.LookPath(tc.shell); err != nil {
				t.Skipf("%s is not installed: the script's syntax is not checked", tc.shell)
			}
			shellCheck(t, tc.shell, path)
		})
	}
	for _, e := range completionTable(commands()) {
		for _, w := range append(append([]string{e.path}, e.words...), e.flags...) {
			if !regexp.MustCompile(`^[A-Za-z0-9 -]*$`).MatchString(w) {
				t.Errorf("%q: a word the scripts do not quote", w)
			}
		}
	}
	if r := runIn("completion", "fish"); r.code != 2 || !strings.Contains(r.stderr, `unknown shell "fish"`) {
		t.Errorf("completion fish: exit %d, %q", r.code, r.stderr)
	}
	if r := runIn("completion"); r.code != 2 || !strings.Contains(r.stderr, "want one shell") {
		t.Errorf("completion: exit %d, %q", r.code, r.stderr)
	}
}

// TestBashCompletion runs the bash script's function on command lines,
// as bash does on TAB, and checks what it offers.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	path, _ := completionScript(t, "bash")
	for _, tc := range []struct {
		line string // the words before the cursor, then the word at it
		want string
	}{
		{"plexus ", strings.Join(commandNames(), " ")},
		{"plexus ce", "cert"},
		{"plexus cert ", "ca node id revoke"},
		{"plexus cert node --re", "--renew"},
		{"plexus node --con", "--config"},
		{"plexus node --listen tcp://127.0.0.1:7000 --ali", ""},
		{"plexus node --allow-g", "--allow-groups"},
		{"plexus help c", "cat cert completion"},
		{"plexus completion ", "bash zsh"},
		{"plexus status --j", "--json"},
	} {
		words := strings.Split(tc.line, " ")
		script := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _plexus; echo "${COMPREPLY[*]}"`
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, "bash", append([]string{"-c", script, "bash", path}, words...)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("%q<TAB>: %q, want %q", tc.line, got, tc.want)
		}
	}
}
