package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// checkDemo checks the key lines of the tour in out, the output of
// plexus demo.
func checkDemo(t *testing.T, out string) {
	t.Helper()
	if !strings.HasPrefix(out, demoIntro) {
		t.Errorf("the demo does not start with its intro:\n%s", out)
	}
	// Numbered steps, in order, each a heading that is one sentence.
	heading := regexp.MustCompile(`(?m)^ ?(\d+)\. (.*)$`)
	steps := heading.FindAllStringSubmatch(out, -1)
	if len(steps) < 14 {
		t.Errorf("%d numbered steps, want at least 14:\n%s", len(steps), out)
	}
	for i, s := range steps {
		if want := i + 1; s[1] != strconv.Itoa(want) {
			t.Errorf("step %s is the %dth:\n%s", s[1], want, out)
		}
		if !strings.HasSuffix(s[2], ".") || strings.Count(s[2], ". ") > 0 {
			t.Errorf("step %s: not one sentence: %q", s[1], s[2])
		}
	}
	for _, want := range []string{
		// the layers
		"== streams (package mux)", "== mesh (package mesh)", "== message sockets (package socket)",
		// streams
		"5000 streams opened at once, each sent 1 KiB and got it back: 5000 ok",
		"byte stream: 256 MiB there and back", "message streams: 8 streams × 100000 messages",
		"streams still open: 0 of the 5009 opened",
		// a secured mesh, with names
		"A CA made in memory signs a certificate for each of three nodes",
		"TLS everywhere: every link is mutual TLS",
		"end to end between the two nodes it joins",
		"relay (", "alpha and beta joined it: 2 links",
		"to relay (", "1 hop, a direct link",
		"2 hops, via relay (",
		"echo on beta sent back \"hello beta\"",
		"the relay forwards a circuit between alpha (",
		"GET http://billing/2024-42: 200 OK \"invoice 2024-42, for alpha (",
		// a connection outlives its relay
		"A connection outlives its relay", "relay2 (", "a fourth node with a certificate of the same CA",
		"alpha has two ways to beta: through relay (", "runs on the circuit alpha (",
		"once 1000 have come back, closes the node relay (",
		"the same connection carried on: 2000 of 2000 messages echoed, in order, none lost or repeated",
		"its longest wait for an echo after the close: ",
		"alpha's circuit to beta now runs alpha (", ") → relay2 (", "the same circuit and TLS session",
		// sockets over tcp
		"req/rep: rep on tcp://", "5000 round trips of 32 B",
		`"weather/" 20000, "news/" 20000, "weather/paris" 20000, "" (everything) 40000: none lost`,
		"every reply reached the client that asked", "requests per worker, and forwarded 2000 messages",
		"carrying its way back, 3 entries",
		// sockets over the mesh
		`alpha sent "ping" to mesh://rpc; rpc on beta (`, `replied "re: ping"`,
		"beta published 4 messages",
		`, 1 hop from beta, subscribed to "news/", received "news/sport 2-1", "news/tech plexus speaks mesh://"`,
		`, 2 hops from beta, subscribed to "weather/", received "weather/paris 21°C", "weather/oslo -3°C"`,
		"tour finished in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`resumed \(CircuitInfo.Resumes [1-9]\d*; alpha's Stats: CircuitBreaks [1-9]\d*, CircuitResumes [1-9]\d*\)`).MatchString(out) {
		t.Errorf("demo output does not count alpha's circuit resume:\n%s", out)
	}
	if bad := regexp.MustCompile(`\b1 (hops|links|streams|subscribers|messages|bytes)\b`).FindString(out); bad != "" {
		t.Errorf("demo output says %q:\n%s", bad, out)
	}
	if strings.Contains(out, "backtrace") {
		t.Errorf("demo output says backtrace, unexplained:\n%s", out)
	}
	// Names, not bare ids: every 16-hex id is printed as name (id8).
	if id := regexp.MustCompile(`\b[0-9a-f]{16}\b`).FindString(out); id != "" {
		t.Errorf("demo output prints the bare id %s:\n%s", id, out)
	}
	// README.md shows a step of it: the same lines, but for the ids.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, shown, ok := strings.Cut(string(readme), "\n```\n14. ")
	shown, _, _ = strings.Cut(shown, "```")
	if !ok || shown == "" {
		t.Error("README.md no longer shows step 14 of plexus demo")
	}
	id := regexp.MustCompile(`\\\([0-9a-f]{8}\\\)`)
	for _, line := range strings.Split(strings.TrimSpace("14. "+shown), "\n") {
		re := regexp.MustCompile("(?m)^" + id.ReplaceAllString(regexp.QuoteMeta(line), `\([0-9a-f]{8}\)`) + "$")
		if !re.MatchString(out) {
			t.Errorf("README.md shows a line plexus demo does not print:\n%s", line)
		}
	}
	// It ends with the next commands.
	if !strings.HasSuffix(out, strings.Join(demoNext, "\n")+"\n") {
		t.Errorf("demo output does not end with the next commands:\n%s", out)
	}
}

// TestDemoNextMatchesREADME: the commands the tour ends with that run a
// mesh are README.md's ("Run a mesh"), word for word; the others are
// commands plexus has.
func TestDemoNextMatchesREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, run, ok := strings.Cut(string(readme), "## Run a mesh")
	if !ok {
		t.Fatal(`README.md has no "## Run a mesh"`)
	}
	run, _, _ = strings.Cut(run, "\n## ")
	commands := 0
	for _, line := range demoNext {
		cmd := strings.TrimSpace(line)
		if !strings.HasPrefix(line, "  ") || cmd == "" {
			continue
		}
		commands++
		if before, _, ok := strings.Cut(cmd, "  #"); ok {
			cmd = strings.TrimSpace(before)
		}
		if strings.HasPrefix(cmd, "plexus node") || strings.HasPrefix(cmd, "plexus cert ca") || strings.HasPrefix(cmd, "cp ") ||
			strings.HasPrefix(cmd, "mkdir") || strings.HasPrefix(cmd, "python3") || strings.HasPrefix(cmd, "--http") {
			if !strings.Contains(run, cmd) {
				t.Errorf("%q is not in README.md's \"Run a mesh\"", cmd)
			}
		}
		if strings.HasPrefix(cmd, "plexus ") {
			name := strings.Fields(cmd)[1]
			if r := runIn("help", name); r.code != 0 {
				t.Errorf("%q: plexus help %s: exit %d: %s", cmd, name, r.code, r.stderr)
			}
		}
	}
	if commands < 10 {
		t.Errorf("the tour ends with %d command lines", commands)
	}
	for _, want := range []string{"plexus status", "http://127.0.0.1:7070/", "plexus cat", "plexus sock", "mesh://"} {
		if !strings.Contains(strings.Join(demoNext, "\n"), want) {
			t.Errorf("the next commands do not mention %s", want)
		}
	}
	if !strings.Contains(string(cli), "--subscribe") || !strings.Contains(string(cli), "--interval") {
		t.Error("docs/cli.md lost plexus sock's --subscribe or --interval, which the tour's next commands use")
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int
		noun string
		many []string
		want string
	}{
		{0, "hop", nil, "0 hops"},
		{1, "hop", nil, "1 hop"},
		{2, "hop", nil, "2 hops"},
		{1, "entry", []string{"entries"}, "1 entry"},
		{3, "entry", []string{"entries"}, "3 entries"},
	} {
		if got := plural(tc.n, tc.noun, tc.many...); got != tc.want {
			t.Errorf("plural(%d, %q, %q) = %q, want %q", tc.n, tc.noun, tc.many, got, tc.want)
		}
	}
}
