package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
)

// fakePingNode is the API of a node that pings: web is two hops away
// through relay, relay answers, lost has no route, flaky answers every
// other probe.
type fakePingNode struct {
	mu    sync.Mutex
	flaky int
}

const (
	fakeSelf  = "ac9cf68e5aeab6da"
	fakeRelay = "77aa0011deadbeef"
	fakeWeb   = "0a1b2c3d4e5f6071"
	fakeLost  = "1122334455667788"
	fakeFlaky = "99aa88bb77cc66dd"
)

func (f *fakePingNode) Status(context.Context) (*status.Status, error) {
	return &status.Status{Node: status.Node{ID: fakeSelf}}, nil
}

func (f *fakePingNode) Resolve(target string) (status.Hop, error) {
	switch target {
	case "web", fakeWeb:
		return status.Hop{ID: fakeWeb, Name: "web", NameVerified: true}, nil
	case "relay":
		return status.Hop{ID: fakeRelay, Name: "relay", NameVerified: true}, nil
	case "self":
		return status.Hop{ID: fakeSelf, Name: "self", NameVerified: true}, nil
	case "lost":
		return status.Hop{ID: fakeLost}, nil
	case "flaky":
		return status.Hop{ID: fakeFlaky, Name: "flaky", NameVerified: true}, nil
	case "api":
		return status.Hop{}, status.TargetError(status.ErrAmbiguousTarget, errors.New(`mesh: the name matches several nodes: 2 nodes have the service name "api": relay (77aa0011), web (0a1b2c3d)`))
	}
	return status.Hop{}, status.TargetError(status.ErrNoSuchTarget, errors.New(`mesh: no such node: no node or service is named "`+target+`"`))
}

func (f *fakePingNode) Path(id string) ([]status.Hop, int) {
	switch id {
	case fakeSelf:
		return nil, 0
	case fakeRelay, fakeFlaky:
		return nil, 1
	case fakeLost:
		return nil, -1
	}
	return []status.Hop{{ID: fakeRelay, Name: "relay", NameVerified: true}}, 2
}

func (f *fakePingNode) Ping(ctx context.Context, id string) (time.Duration, error) {
	switch id {
	case fakeSelf:
		return 10 * time.Microsecond, nil
	case fakeRelay:
		return 410 * time.Microsecond, nil
	case fakeWeb:
		return 1230 * time.Microsecond, nil
	case fakeFlaky:
		f.mu.Lock()
		defer f.mu.Unlock()
		f.flaky++
		if f.flaky%2 == 0 {
			return 0, errors.New("context deadline exceeded")
		}
		return 2 * time.Millisecond, nil
	}
	return 0, errors.New("mesh: no route to host: " + id)
}

// TestPingTraceOutput: plexus ping and trace print what the node
// answers, byte for byte, and exit 0 when the target answered.
func TestPingTraceOutput(t *testing.T) {
	srv := httptest.NewServer(status.Handler(&fakePingNode{}))
	defer srv.Close()
	tests := []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{[]string{"ping", "--count", "3", "--interval", "1ms", "web"}, 0, `PING web (0a1b2c3d) via relay (77aa0011), 2 hops
seq 1: rtt 1.23 ms
seq 2: rtt 1.23 ms
seq 3: rtt 1.23 ms
--- web (0a1b2c3d): 3 sent, 3 received, 0% loss
rtt min/avg/max 1.23/1.23/1.23 ms
all probes answered
`, ""},
		{[]string{"ping", "-c", "1", "relay"}, 0, `PING relay (77aa0011), a neighbour, 1 hop
seq 1: rtt 0.41 ms
--- relay (77aa0011): 1 sent, 1 received, 0% loss
rtt min/avg/max 0.41/0.41/0.41 ms
all probes answered
`, ""},
		{[]string{"ping", "-c", "1", "self"}, 0, "PING self (ac9cf68e): this node\n", ""},
		{[]string{"ping", "-c", "4", "-i", "0", "flaky"}, 0, `PING flaky (99aa88bb), a neighbour, 1 hop
seq 1: rtt 2.00 ms
seq 2: no answer: context deadline exceeded
seq 3: rtt 2.00 ms
seq 4: no answer: context deadline exceeded
--- flaky (99aa88bb): 4 sent, 2 received, 50% loss
rtt min/avg/max 2.00/2.00/2.00 ms
2 of 4 probes answered
`, ""},
		{[]string{"ping", "-c", "2", "-i", "0", "lost"}, 1, `PING 1122334455667788: no route
seq 1: no answer: mesh: no route to host: 1122334455667788
seq 2: no answer: mesh: no route to host: 1122334455667788
--- 1122334455667788: 2 sent, 0 received, 100% loss
`, "no answer from 1122334455667788"},
		{[]string{"ping", "nobody"}, 1, "", `plexus ping: mesh: no such node: no node or service is named "nobody"`},
		{[]string{"ping", "api"}, 1, "", `2 nodes have the service name "api": relay (77aa0011), web (0a1b2c3d)`},
		{[]string{"ping"}, 2, "", "TARGET is missing"},
		{[]string{"ping", "a", "b"}, 2, "", `unexpected argument "b"`},
		{[]string{"ping", "--json", "--count", "101", "web"}, 2, "", "with --json, 1 to 100"},
		{[]string{"trace", "web"}, 0, `1  relay (77aa0011)  0.41 ms
2  web (0a1b2c3d)    1.23 ms
`, ""},
		{[]string{"trace", "lost"}, 1, "", "no route to 1122334455667788"},
		{[]string{"trace", "nobody"}, 1, "", `no node or service is named "nobody"`},
		{[]string{"trace"}, 2, "", "TARGET is missing"},
	}
	for _, tt := range tests {
		r := runIn(append(tt.args, "--node", srv.URL)...)
		if r.code != tt.code || !strings.HasPrefix(r.stdout, tt.out) || tt.out == "" && r.stdout != "" || !strings.Contains(r.stderr, tt.err) {
			t.Errorf("plexus %s: exit %d, stderr %q, got:\n%s\nwant exit %d, stderr with %q, and:\n%s", strings.Join(tt.args, " "), r.code, r.stderr, r.stdout, tt.code, tt.err, tt.out)
		}
	}
	r := runIn("ping", "--node", srv.URL, "--json", "-c", "2", "-i", "1ms", "web")
	if r.code != 0 || !strings.Contains(r.stdout, `"received": 2`) || !strings.Contains(r.stdout, `"name": "relay"`) {
		t.Errorf("plexus ping --json: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = runIn("trace", "--node", srv.URL, "--json", "web")
	if r.code != 0 || !strings.Contains(r.stdout, `"reachable": true`) || !strings.Contains(r.stdout, `"rtt_ms": 1.23`) {
		t.Errorf("plexus trace --json: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// A node whose API does not ping says so.
	plain := httptest.NewServer(status.Handler(status.ProviderFunc(func(context.Context) (*status.Status, error) { return &status.Status{}, nil })))
	defer plain.Close()
	if r := runIn("ping", "--node", plain.URL, "web"); r.code != 1 || !strings.Contains(r.stderr, "does not answer pings") {
		t.Errorf("plexus ping of a node that does not ping: exit %d, %q", r.code, r.stderr)
	}
}

// TestPingInterrupted: an interrupted ping prints the summary of the
// probes so far.
func TestPingInterrupted(t *testing.T) {
	srv := httptest.NewServer(status.Handler(&fakePingNode{}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut strings.Builder
	c := &cli{stdin: strings.NewReader(""), stdout: &watchWriter{w: &out, onWrite: func(s string) {
		if strings.HasPrefix(s, "seq 2:") {
			cancel()
		}
	}}, stderr: &errOut}
	code := c.run(ctx, []string{"ping", "--node", srv.URL, "--count", "0", "--interval", "1ms", "web"})
	if code != 0 || !strings.Contains(out.String(), "--- web (0a1b2c3d): 2 sent, 2 received, 0% loss") {
		t.Errorf("interrupted ping: exit %d, %q\n%s", code, errOut.String(), out.String())
	}
}

// watchWriter writes to w and calls onWrite with what it wrote.
type watchWriter struct {
	mu      sync.Mutex
	w       *strings.Builder
	onWrite func(string)
}

func (l *watchWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onWrite(string(p))
	return l.w.Write(p)
}

// TestPingTraceChain runs plexus ping and trace against real nodes: a
// chain a - b - c of plexus node processes secured by TLS, where a
// offers the service echo. From c, a is two hops away through b, by its
// id, its node name (its certificate's) or its service's name.
func TestPingTraceChain(t *testing.T) {
	m := startChain(t)
	a, b, c := m.a, m.b, m.c
	label := func(name, id string) string { return name + " (" + id[:8] + ")" }
	for _, target := range []string{a.id, "a", "echo"} {
		r := runIn("ping", "--node", c.api, "--count", "2", "--interval", "10ms", target)
		want := "PING " + label("a", a.id) + " via " + label("b", b.id) + ", 2 hops\n"
		if r.code != 0 || !strings.HasPrefix(r.stdout, want) || !strings.Contains(r.stdout, "2 sent, 2 received, 0% loss") ||
			!strings.Contains(r.stdout, "seq 2: rtt ") || !strings.Contains(r.stdout, "all probes answered") {
			t.Errorf("plexus ping %s: exit %d, stderr %q\n%s", target, r.code, r.stderr, r.stdout)
		}
	}
	if r := runIn("ping", "--node", c.api, "-c", "1", "b"); r.code != 0 || !strings.HasPrefix(r.stdout, "PING "+label("b", b.id)+", a neighbour, 1 hop\n") {
		t.Errorf("plexus ping of a neighbour: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	if r := runIn("ping", "--node", c.api, "-c", "1", "c"); r.code != 0 || !strings.HasPrefix(r.stdout, "PING "+label("c", c.id)+": this node\n") {
		t.Errorf("plexus ping of the node itself: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	r := runIn("trace", "--node", c.api, "a")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "1  "+label("b", b.id)+"  ") || !strings.HasPrefix(lines[1], "2  "+label("a", a.id)+"  ") ||
		!strings.HasSuffix(lines[0], " ms") || !strings.HasSuffix(lines[1], " ms") {
		t.Errorf("plexus trace a: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	if r := runIn("ping", "--node", c.api, "nobody"); r.code != 1 || !strings.Contains(r.stderr, `no node or service is named "nobody"`) {
		t.Errorf("plexus ping nobody: exit %d, %q", r.code, r.stderr)
	}
	if r := runIn("trace", "--node", c.api, "00000000000000ff"); r.code != 1 || !strings.Contains(r.stderr, "no route to 00000000000000ff") {
		t.Errorf("plexus trace of an unknown id: exit %d, %q", r.code, r.stderr)
	}
	for _, n := range []*meshNode{a, c, b} {
		n.stop(t)
	}
	// Once the node is gone, ping says it cannot reach its API.
	if r := runIn("ping", "--node", c.api, "a"); r.code != 1 || !strings.Contains(r.stderr, "is 'plexus node --http' running there?") {
		t.Errorf("plexus ping of a stopped node: exit %d, %q", r.code, r.stderr)
	}
}

// TestHopLabel: ping and trace show a node as the tables do, an
// unverified name marked.
func TestHopLabel(t *testing.T) {
	for _, tc := range []struct {
		h    status.Hop
		want string
	}{
		{status.Hop{ID: fakeWeb, Name: "web", NameVerified: true}, "web (" + fakeWeb[:8] + ")"},
		{status.Hop{ID: fakeWeb, Name: "web"}, "web* (" + fakeWeb[:8] + ")"},
		{status.Hop{ID: fakeWeb}, fakeWeb},
	} {
		if got := hopLabel(tc.h); got != tc.want {
			t.Errorf("hopLabel(%+v) = %q, want %q", tc.h, got, tc.want)
		}
	}
}
