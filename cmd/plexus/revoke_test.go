package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh"
)

// readList parses a revocation list file.
func readList(t *testing.T, path string) *mesh.RevocationList {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := mesh.ParseRevocationList(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestCertRevoke: cert revoke adds nodes, named by certificate or by id,
// to DIR/revoked.pem, signed by the CA under a higher sequence number each
// time, which a node of the mesh takes; bad input changes nothing.
func TestCertRevoke(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	mustPlexus(t, "cert", "ca", "--out", caDir)
	idA := printedID(t, mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "a", "--out", dir))
	idB := printedID(t, mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "b", "--out", dir, "--key-type", "ed25519"))
	mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "n", "--out", dir)
	list := filepath.Join(caDir, "revoked.pem")
	ca, err := readCertificate(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(l *mesh.RevocationList) []string {
		var s []string
		for _, id := range l.IDs {
			s = append(s, mesh.FormatID(id))
		}
		return s
	}

	out := mustPlexus(t, "cert", "revoke", "--ca", caDir, filepath.Join(dir, "a.crt"))
	first := readList(t, list)
	if got := ids(first); !slices.Equal(got, []string{idA}) || !first.CA.Equal(ca) || first.Seq == 0 ||
		!strings.Contains(out, "revoked "+idA) || !strings.Contains(out, "wrote "+list) || !strings.HasSuffix(out, ", 1 node id\n") {
		t.Fatalf("revoke a: %v, printed %q", got, out)
	}
	if m := mode(t, list); m != 0o644 {
		t.Errorf("revoked.pem mode %04o", m)
	}
	out = mustPlexus(t, "cert", "revoke", "--ca", caDir, idB, filepath.Join(dir, "a.crt"))
	second := readList(t, list)
	want := []string{idA, idB}
	slices.Sort(want)
	if got := ids(second); !slices.Equal(got, want) || second.Seq <= first.Seq || !strings.Contains(out, "already revoked "+idA) || !strings.HasSuffix(out, ", 2 node ids\n") {
		t.Fatalf("revoke b: %v, seq %d after %d, printed %q", got, second.Seq, first.Seq, out)
	}
	// With no node, the list is signed again, newer.
	mustPlexus(t, "cert", "revoke", "--ca", caDir)
	third := readList(t, list)
	if !slices.Equal(ids(third), want) || third.Seq <= second.Seq {
		t.Fatalf("re-signed: %v, seq %d after %d", ids(third), third.Seq, second.Seq)
	}

	// A member of the mesh takes it, and refuses the revoked nodes.
	n, err := mesh.New(mesh.WithTLS(loadNode(t, caDir, dir, "n")))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	pem, _ := os.ReadFile(list)
	if err := n.SetRevocationList(pem); err != nil {
		t.Fatal(err)
	}
	if ri := n.Info().Revocation; ri.Seq != third.Seq || ri.Count != 2 {
		t.Fatalf("the node holds %+v", ri)
	}

	// Bad input: nothing is signed, the list stays.
	before, _ := os.ReadFile(list)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cert", "revoke", filepath.Join(dir, "a.crt")}, 2, "--ca DIR is required"},
		{[]string{"cert", "revoke", "--ca", caDir, "nonsense"}, 1, `"nonsense" is neither a certificate file`},
		{[]string{"cert", "revoke", "--ca", caDir, filepath.Join(dir, "n.key")}, 1, "it holds a private key"},
		{[]string{"cert", "revoke", "--ca", filepath.Join(dir, "nowhere"), idA}, 1, "no such file or directory"},
		{[]string{"cert", "revoke", "--ca", caDir, "0000000000000000"}, 1, "not a valid id"},
	} {
		r := runIn(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("plexus %s: exit %d, %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
	if after, _ := os.ReadFile(list); string(after) != string(before) {
		t.Error("a refused revoke changed the list")
	}
	os.WriteFile(list, []byte("not a list"), 0o644)
	if r := runIn("cert", "revoke", "--ca", caDir, idA); r.code != 1 || !strings.Contains(r.stderr, list+": mesh: bad record") {
		t.Errorf("a broken revoked.pem: exit %d, %q", r.code, r.stderr)
	}
}

// fakeRevocations records what SetRevocationList is given.
type fakeRevocations struct {
	got []byte
	err error
}

func (f *fakeRevocations) SetRevocationList(pem []byte) error {
	f.got = pem
	return f.err
}

// TestReloadRevoked: SIGHUP hands the --revoked file, read again, to the
// node, and says what the node made of it; a file that does not load is
// not handed over.
func TestReloadRevoked(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	mustPlexus(t, "cert", "ca", "--out", caDir)
	mustPlexus(t, "cert", "revoke", "--ca", caDir, "00000000000000aa")
	o := &nodeOptions{}
	o.mesh.revoked = filepath.Join(caDir, "revoked.pem")
	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	f := &fakeRevocations{}
	o.reloadRevoked(f, log)
	if f.got == nil || !strings.Contains(logs.String(), `msg="SIGHUP: revocation list loaded"`) || !strings.Contains(logs.String(), "ids=1") {
		t.Errorf("reload: %d bytes, log %q", len(f.got), logs.String())
	}
	f.err = mesh.ErrStaleRecord
	o.reloadRevoked(f, log)
	if !strings.Contains(logs.String(), "SIGHUP: revocation list unchanged") {
		t.Errorf("the same list: %q", logs.String())
	}
	f.err = mesh.ErrNotAuthorized
	o.reloadRevoked(f, log)
	if !strings.Contains(logs.String(), "SIGHUP: the mesh refused the revocation list") {
		t.Errorf("refused: %q", logs.String())
	}
	f.got = nil
	os.WriteFile(o.mesh.revoked, []byte("broken"), 0o644)
	o.reloadRevoked(f, log)
	if f.got != nil || !strings.Contains(logs.String(), "SIGHUP: revocation list not reloaded") {
		t.Errorf("a broken file: handed over %v, log %q", f.got != nil, logs.String())
	}
	o.mesh.revoked = ""
	before := logs.String()
	o.reloadRevoked(f, log)
	if logs.String() != before {
		t.Errorf("no --revoked logged %q", strings.TrimPrefix(logs.String(), before))
	}
}

// TestNodeRevoked runs plexus nodes with --revoked: a revoked node cannot
// link to a node that holds the list, a node without --revoked learns
// the list from its neighbour, plexus status shows it, and SIGHUP loads a
// newer list that cuts off another node.
func TestNodeRevoked(t *testing.T) {
	certs := meshCerts(t, "a", "b", "x")
	caDir := certs["b"][5]
	mustPlexus(t, "cert", "revoke", "--ca", caDir, certs["x"][1])
	list := filepath.Join(caDir, "revoked.pem")
	seq := readList(t, list).Seq

	b := startNode(t, append([]string{"--listen", "tcp://127.0.0.1:0", "--revoked", list}, certs["b"]...)...)
	a := startNode(t, append([]string{"--join", b.link}, certs["a"]...)...)
	x := startNode(t, append([]string{"--join", b.link}, certs["x"]...)...)
	rec := x.logged(t, "mesh: join refused") // at WARN: it will not pass by itself
	if err, _ := rec["err"].(string); !strings.Contains(err, "revoked") || rec["level"] != "WARN" {
		t.Errorf("x's link: %v", rec)
	}
	a.waitStatus(t, "a to learn the list from b", func(st *status.Status) bool {
		return st.Node.RevokedSeq == seq && st.Node.RevokedCount == 1 && len(st.Links) == 1
	})
	if r := plexus(t, "", "status", "--node", b.api); r.code != 0 || !strings.Contains(r.stdout, "revoked   1 node (list ") {
		t.Errorf("plexus status: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A newer list revokes a too: SIGHUP, and b cuts a off.
	mustPlexus(t, "cert", "revoke", "--ca", caDir, certs["a"][1])
	b.signal(t, syscall.SIGHUP)
	b.logged(t, "SIGHUP: revocation list loaded")
	b.waitStatus(t, "b to close its link to a", func(st *status.Status) bool {
		return st.Node.RevokedCount == 2 && len(st.Links) == 0
	})
	// Without TLS there is no revocation list.
	if r := plexus(t, "", "node", "--insecure", "--http", "", "--revoked", list); r.code != 1 || !strings.Contains(r.stderr, "needs WithTLS") {
		t.Errorf("--revoked with --insecure: exit %d, %s", r.code, r.stderr)
	}
	// A broken file: b keeps its list.
	os.WriteFile(list, []byte("broken"), 0o644)
	b.signal(t, syscall.SIGHUP)
	b.logged(t, "SIGHUP: revocation list not reloaded")
	b.waitStatus(t, "b to keep its list", func(st *status.Status) bool { return st.Node.RevokedCount == 2 })
	if r := plexus(t, "", "node", "--http", "", "--revoked", filepath.Join(caDir, "missing.pem"), certs["a"][0], certs["a"][1], certs["a"][2], certs["a"][3], certs["a"][4], certs["a"][5]); r.code != 1 || !strings.Contains(r.stderr, "--revoked: open") {
		t.Errorf("--revoked without a file: exit %d, %s", r.code, r.stderr)
	}
	for _, n := range []*meshNode{a, b, x} {
		n.stop(t)
	}
}
