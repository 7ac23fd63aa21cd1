package main

import (
	"net"
	"strings"
	"testing"
)

// TestCatSaysWhatFailed: a cat whose node never gets a link says so,
// with why its join failed, and not that the service does not exist; a
// join that is refused fails at once, without waiting for the timeout;
// "no such service" is for a mesh that is up without the service.
func TestCatSaysWhatFailed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // a port nobody listens on

	certs := meshCerts(t, "b", "m1")
	other := meshCerts(t, "m1") // of another CA
	secure := startNode(t, append([]string{"--listen", "tcp://127.0.0.1:0", "--name", "test"}, certs["b"]...)...)
	plain := startNode(t, "--listen", "tcp://127.0.0.1:0", "--name", "test", "--insecure")
	t.Cleanup(func() {
		secure.stop(t)
		plain.stop(t)
	})

	// A refused join must fail well within this; the others wait 1s.
	const long = "30s"
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string // in stderr
		notWant []string // not in stderr
	}{
		{"dead address",
			[]string{"--insecure", "--join", dead, "--timeout", "1s"},
			[]string{"no live link to the mesh", "join " + dead, "connection refused", "waited 1s for a link"},
			[]string{"no such service"}},
		// A TLS listener hangs up on a node without TLS without saying
		// why, as a listener that sheds a flood does: not final, so the
		// dial waits, but the error says what the hang-up may mean.
		{"insecure against TLS",
			[]string{"--insecure", "--join", secure.link, "--name", "test", "--timeout", "1s"},
			[]string{"no live link to the mesh", "join " + secure.link, "same security", "waited 1s for a link"},
			[]string{"no such service"}},
		{"TLS against insecure",
			append([]string{"--join", plain.link, "--name", "test", "--timeout", long}, certs["m1"]...),
			[]string{"no live link to the mesh", "join " + plain.link},
			[]string{"no such service", "waited"}},
		{"another CA",
			append([]string{"--join", secure.link, "--name", "test", "--timeout", long}, other["m1"]...),
			[]string{"no live link to the mesh", "join " + secure.link},
			[]string{"no such service", "waited"}},
		{"another mesh name",
			[]string{"--insecure", "--join", plain.link, "--name", "elsewhere", "--timeout", long},
			[]string{"no live link to the mesh", "mesh name mismatch"},
			[]string{"no such service", "waited"}},
		{"no such service",
			append([]string{"--join", secure.link, "--name", "test", "--timeout", "1s"}, certs["m1"]...),
			[]string{"no such service", "waited 1s for the mesh to show it"},
			[]string{"no live link"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := plexus(t, "", append(append([]string{"cat"}, tc.args...), "web")...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1; stderr %s", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, r.stderr)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r.stderr, w) {
					t.Errorf("stderr has %q: %s", w, r.stderr)
				}
			}
		})
	}
}
