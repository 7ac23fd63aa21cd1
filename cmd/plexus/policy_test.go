package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh"
)

// TestCertGrantFlags: cert node --service and --group put the
// certificate policy in the certificate as URI SANs and print it; cert id
// --grants prints it back; a malformed name is refused and nothing is
// written; a renewal notes what the new certificate no longer names.
func TestCertGrantFlags(t *testing.T) {
	dir := t.TempDir()
	caDir, nodeDir := filepath.Join(dir, "ca"), filepath.Join(dir, "nodes")
	mustPlexus(t, "cert", "ca", "--out", caDir)

	out := mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "billing-1", "--out", nodeDir,
		"--service", "billing", "--service", "staging/*,prod/billing", "--group", "ops", "--group", "sre,ops")
	crt := filepath.Join(nodeDir, "billing-1.crt")
	leaf, err := readCertificate(crt)
	if err != nil {
		t.Fatal(err)
	}
	var sans []string
	for _, u := range leaf.URIs {
		sans = append(sans, u.String())
	}
	want := []string{"plexus:service/billing", "plexus:service/staging/*", "plexus:service/prod/billing", "plexus:group/ops", "plexus:group/sre"}
	if !slices.Equal(sans, want) {
		t.Errorf("URI SANs %q, want %q", sans, want)
	}
	if !strings.HasSuffix(out, "services billing,staging/*,prod/billing\ngroups ops,sre\n") {
		t.Errorf("cert node printed %q", out)
	}
	id := printedID(t, out)
	if got := mustPlexus(t, "cert", "id", crt); got != id+"\n" {
		t.Errorf("cert id without --grants printed %q", got)
	}
	if got, want := mustPlexus(t, "cert", "id", "--grants", crt), id+"\n  services billing,staging/*,prod/billing\n  groups ops,sre\n"; got != want {
		t.Errorf("cert id --grants printed %q, want %q", got, want)
	}

	// No policy: none granted, and cert id says what that means.
	plain := printedID(t, mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "plain", "--out", nodeDir))
	if got, want := mustPlexus(t, "cert", "id", "--grants", filepath.Join(nodeDir, "plain.crt")),
		plain+"\n  services none (may serve none under certificate policy)\n  groups none\n"; got != want {
		t.Errorf("cert id --grants of a certificate without policy printed %q, want %q", got, want)
	}

	// Malformed: refused before anything is written.
	for _, args := range [][]string{
		{"--service", "*"},
		{"--service", "/billing"},
		{"--service", "prod/"},
		{"--service", "prod/a/b"},
		{"--service", "bad name"},
		{"--service", "0123456789abcdef"},
		{"--service", ".hidden"},
		{"--group", "a/b"},
		{"--group", "*"},
		{"--service", "billing", "--group", strings.Repeat("g", 65)},
	} {
		r := runIn(append([]string{"cert", "node", "--ca", caDir, "--name", "bad", "--out", nodeDir}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "bad name: --") {
			t.Errorf("cert node %q: exit %d, %q; want 2 and a bad name", args, r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(nodeDir, "bad.key")); err == nil {
			t.Fatalf("cert node %q wrote a key", args)
		}
	}

	// A renewal names what it is given, and notes what it drops.
	r := runIn("cert", "node", "--ca", caDir, "--name", "billing-1", "--out", nodeDir, "--renew", "--service", "billing", "--group", "ops")
	if r.code != 0 || printedID(t, r.stdout) != id ||
		!strings.Contains(r.stderr, "note: the old certificate named the services staging/*,prod/billing, which this one does not") ||
		!strings.Contains(r.stderr, "note: the old certificate named the groups sre, which this one does not") {
		t.Errorf("cert node --renew: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	renewed, err := readCertificate(crt)
	if err != nil {
		t.Fatal(err)
	}
	if g := mesh.CertGrants(renewed); len(g.Services) != 1 || g.Services[0].Name != "billing" || !slices.Equal(g.Groups, []string{"ops"}) {
		t.Errorf("renewed certificate grants %+v", g)
	}
}

// certsWith makes a CA and, for each node, a certificate with plexus cert
// node and the extra flags given (--service, --group), and returns the TLS
// flags of each node.
func certsWith(t *testing.T, nodes map[string][]string) map[string][]string {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	mustPlexus(t, "cert", "ca", "--out", ca)
	flags := map[string][]string{}
	for name, extra := range nodes {
		mustPlexus(t, append([]string{"cert", "node", "--ca", ca, "--name", name, "--out", dir}, extra...)...)
		flags[name] = []string{"--cert", filepath.Join(dir, name+".crt"), "--key", filepath.Join(dir, name+".key"), "--ca", ca}
	}
	return flags
}

// liar is a TCP server that answers every connection with "insider\n",
// what the insider's --expose proxies to.
func liar(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("insider\n"))
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestNodePolicy runs plexus nodes with certificate policy over loopback
// TCP:
//
//	a (echo, ops only) - b (relay) - c (--cert-policy, in ops) - insider (echo)
//
// The insider, one hop from c, exposes "echo" too, which its certificate
// does not name: c lists only a's, and every connection through c's
// --forward reaches a's echo server, which admits c (--allow-groups ops).
// A member outside ops is refused (not authorized), and plexus status
// shows the policy.
func TestNodePolicy(t *testing.T) {
	tls := certsWith(t, map[string][]string{
		"a":       {"--service", "echo"},
		"b":       nil,
		"c":       {"--group", "ops"},
		"insider": nil,
		"m1":      {"--group", "dev"},
	})
	echo := echoServer(t)
	b := startNode(t, append([]string{"--listen", "tcp://127.0.0.1:0"}, tls["b"]...)...)
	a := startNode(t, append([]string{"--join", b.link, "--relay=false", "--expose", "echo=" + echo, "--allow-groups", "ops"}, tls["a"]...)...)
	c := startNode(t, append([]string{"--listen", "tcp://127.0.0.1:0", "--join", b.link, "--cert-policy", "--forward", "127.0.0.1:0=echo"}, tls["c"]...)...)
	insider := startNode(t, append([]string{"--join", c.link, "--relay=false", "--expose", "echo=" + liar(t)}, tls["insider"]...)...)
	forward, _ := c.logged(t, "sidecar: forwarding")["addr"].(string)

	if rec := a.logged(t, "sidecar: exposing"); rec["allow-groups"] != "ops" {
		t.Errorf("a's sidecar log: %v", rec)
	}
	// c holds the insider's record, which announces echo, and believes
	// only a's.
	st := c.waitStatus(t, "the insider's announcement and a's echo", func(st *status.Status) bool {
		for _, n := range st.Graph.Nodes {
			if n.ID == insider.id && slices.Contains(n.Services, "echo") {
				return hasService(st, "echo", a.id, 2)
			}
		}
		return false
	})
	if hasService(st, "echo", insider.id, 1) || !st.Node.CertPolicy {
		t.Errorf("c: cert policy %v, services %+v", st.Node.CertPolicy, st.Services)
	}
	for i := range 3 {
		conn, err := net.DialTimeout("tcp", forward, testutil.Patience)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(testutil.Patience))
		conn.Write([]byte("hello\n"))
		conn.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || string(got) != "hello\n" {
			t.Fatalf("connection %d through c's --forward: %q, %v (want a's echo)", i, got, err)
		}
	}

	// A member outside ops, believing only certificates too, is refused.
	r := plexus(t, "hi\n", append([]string{"cat", "--join", b.link, "--cert-policy", "echo"}, tls["m1"]...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "not authorized") {
		t.Errorf("plexus cat echo from outside ops: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = plexus(t, "", "status", "--node", c.api)
	if r.code != 0 || !strings.Contains(r.stdout, "\npolicy    certificate (") {
		t.Errorf("plexus status of c: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = plexus(t, "", "status", "--node", b.api)
	if r.code != 0 || !strings.Contains(r.stdout, "\npolicy    none (") {
		t.Errorf("plexus status of b: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, n := range []*meshNode{insider, c, a, b} {
		n.stop(t)
	}
}

// TestNodePolicyErrors: certificate policy and allowed groups need TLS,
// and --allow-groups applies to --expose.
func TestNodePolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"node", "--insecure", "--cert-policy"}, 2, "--cert-policy needs TLS"},
		{[]string{"node", "--insecure", "--expose", "x=127.0.0.1:1", "--allow-groups", "ops"}, 2, "--allow-groups needs TLS"},
		{[]string{"node", "--insecure", "--allow-groups", "ops"}, 2, "--allow-groups applies to the --expose services"},
		{[]string{"node", "--insecure", "--expose", "x=127.0.0.1:1", "--allow-groups", ","}, 2, "--allow-groups needs a group name"},
		{[]string{"cat", "--insecure", "--cert-policy", "--join", "127.0.0.1:1", "echo"}, 1, "WithCertPolicy needs WithTLS"},
	} {
		r := runIn(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("plexus %s: exit %d, %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
	tls := certsWith(t, map[string][]string{"a": nil})
	r := runIn(append([]string{"node", "--http", "", "--expose", "x=127.0.0.1:1", "--allow-groups", "bad name"}, tls["a"]...)...)
	if r.code != 1 || !strings.Contains(r.stderr, `AllowGroups: mesh: bad address: group name "bad name"`) {
		t.Errorf("a bad group: exit %d, %q", r.code, r.stderr)
	}
}
