package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh"
)

// mustPlexus runs a plexus command that ends (plexus cert) in this
// process, as main would, and fails the test unless it exits 0.
func mustPlexus(t *testing.T, args ...string) string {
	t.Helper()
	r := runIn(args...)
	if r.code != 0 {
		t.Fatalf("plexus %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// printedID returns the id in "node id X" of cert node's output.
func printedID(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(line, "node id "); ok {
			return id
		}
	}
	t.Fatalf("no node id in %q", out)
	return ""
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestCertFiles: cert ca and cert node write a CA and a node certificate
// with the usages the mesh needs, keys 0600, and print the id the mesh
// derives; cert id prints it again.
func TestCertFiles(t *testing.T) {
	dir := t.TempDir()
	caDir, nodeDir := filepath.Join(dir, "ca"), filepath.Join(dir, "nodes")
	mustPlexus(t, "cert", "ca", "--out", caDir, "--name", "test mesh CA")
	if m := mode(t, filepath.Join(caDir, "ca.key")); m != 0o600 {
		t.Errorf("ca.key mode %04o", m)
	}
	if m := mode(t, filepath.Join(caDir, "ca.crt")); m != 0o644 {
		t.Errorf("ca.crt mode %04o", m)
	}
	if m := mode(t, caDir); m != 0o700 {
		t.Errorf("CA directory mode %04o", m)
	}
	ca, err := readCertificate(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || !ca.MaxPathLenZero || ca.Subject.CommonName != "test mesh CA" || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA certificate: IsCA %v, MaxPathLenZero %v, CN %q, usage %v", ca.IsCA, ca.MaxPathLenZero, ca.Subject.CommonName, ca.KeyUsage)
	}

	out := mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "node-1", "--out", nodeDir, "--host", "127.0.0.1,node-1.example", "--days", "30")
	if m := mode(t, filepath.Join(nodeDir, "node-1.key")); m != 0o600 {
		t.Errorf("node key mode %04o", m)
	}
	leaf, err := readCertificate(filepath.Join(nodeDir, "node-1.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if id := printedID(t, out); id != mesh.FormatID(mesh.IDFromCert(leaf)) {
		t.Errorf("printed id %s, the certificate proves %s", id, mesh.FormatID(mesh.IDFromCert(leaf)))
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature ||
		!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("usages %v %v", leaf.KeyUsage, leaf.ExtKeyUsage)
	}
	if leaf.Subject.CommonName != "node-1" || len(leaf.IPAddresses) != 1 || !slices.Equal(leaf.DNSNames, []string{"node-1.example"}) {
		t.Errorf("names: CN %q, IPs %v, DNS %v", leaf.Subject.CommonName, leaf.IPAddresses, leaf.DNSNames)
	}
	if d := time.Until(leaf.NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("valid for %v, want 30 days", d)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the node certificate does not chain to the CA: %v", err)
	}
	if got := mustPlexus(t, "cert", "id", filepath.Join(nodeDir, "node-1.crt")); got != mesh.FormatID(mesh.IDFromCert(leaf))+"\n" {
		t.Errorf("cert id printed %q", got)
	}
	if got := mustPlexus(t, "cert", "id", filepath.Join(nodeDir, "node-1.crt"), filepath.Join(caDir, "ca.crt")); strings.Count(got, "\n") != 2 || !strings.Contains(got, "  "+filepath.Join(caDir, "ca.crt")) {
		t.Errorf("cert id of two files printed %q", got)
	}

	// Ed25519.
	out = mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "node-2", "--out", nodeDir, "--key-type", "ed25519")
	leaf2, err := readCertificate(filepath.Join(nodeDir, "node-2.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := leaf2.PublicKey.(ed25519.PublicKey); !ok || printedID(t, out) != mesh.FormatID(mesh.IDFromCert(leaf2)) {
		t.Errorf("ed25519 node: key %T, printed %q", leaf2.PublicKey, out)
	}
}

// TestCertNoOverwrite: an existing file stays as it is without --force;
// --force replaces it, and a replaced key is 0600 again.
func TestCertNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	mustPlexus(t, "cert", "ca", "--out", dir)
	crt, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	r := runIn("cert", "ca", "--out", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "already exists (use --force to overwrite it)") {
		t.Fatalf("second cert ca: exit %d, %q", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); !bytes.Equal(again, crt) {
		t.Fatal("ca.crt was overwritten")
	}
	// Only the key exists: the certificate is not written either.
	os.Remove(filepath.Join(dir, "ca.crt"))
	if r := runIn("cert", "ca", "--out", dir); r.code != 1 {
		t.Fatalf("cert ca over a key: exit %d", r.code)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ca.crt written beside an old key: %v", err)
	}
	os.Chmod(filepath.Join(dir, "ca.key"), 0o644)
	mustPlexus(t, "cert", "ca", "--out", dir, "--force")
	if m := mode(t, filepath.Join(dir, "ca.key")); m != 0o600 {
		t.Fatalf("key replaced with mode %04o", m)
	}

	mustPlexus(t, "cert", "node", "--ca", dir, "--name", "n", "--out", dir)
	key, _ := os.ReadFile(filepath.Join(dir, "n.key"))
	if r := runIn("cert", "node", "--ca", dir, "--name", "n", "--out", dir); r.code != 1 || !strings.Contains(r.stderr, "n.crt: file already exists") {
		t.Fatalf("second cert node: exit %d, %q", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "n.key")); !bytes.Equal(again, key) {
		t.Fatal("n.key was overwritten")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

// TestCertErrors: bad input is a clear error and a non-zero status; the
// errors are errors.Is-testable.
func TestCertErrors(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	mustPlexus(t, "cert", "ca", "--out", caDir)
	mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "n", "--out", dir)
	os.WriteFile(filepath.Join(dir, "junk.crt"), []byte("not a certificate"), 0o644)
	// A directory whose ca.crt is a node certificate.
	notCA := filepath.Join(dir, "notca")
	os.Mkdir(notCA, 0o700)
	crt, _ := os.ReadFile(filepath.Join(dir, "n.crt"))
	key, _ := os.ReadFile(filepath.Join(dir, "n.key"))
	os.WriteFile(filepath.Join(notCA, "ca.crt"), crt, 0o644)
	os.WriteFile(filepath.Join(notCA, "ca.key"), key, 0o600)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cert", "ca"}, 2, "--out DIR is required"},
		{[]string{"cert", "ca", "--out", dir, "--days", "0"}, 2, "--days must be at least 1"},
		{[]string{"cert", "ca", "--out", filepath.Join(dir, "x"), "--key-type", "rsa"}, 2, `--key-type "rsa": want ecdsa or ed25519`},
		{[]string{"cert", "node", "--name", "a", "--out", dir}, 2, "--ca DIR is required"},
		{[]string{"cert", "node", "--ca", caDir, "--out", dir}, 2, "--name NAME is required"},
		{[]string{"cert", "node", "--ca", caDir, "--name", "a"}, 2, "--out DIR is required"},
		{[]string{"cert", "node", "--ca", caDir, "--name", "../evil", "--out", dir}, 2, `--name "../evil"`},
		{[]string{"cert", "node", "--ca", caDir, "--name", "Web-1", "--out", dir}, 2, `--name "Web-1": node names are lower case: --name web-1`},
		{[]string{"cert", "node", "--ca", caDir, "--name", "db_1", "--out", dir}, 2, `--name "db_1": a node name is 1 to 63 of a-z, 0-9, '-' and '.'`},
		{[]string{"cert", "node", "--ca", caDir, "--name", "00c0ffee00c0ffee", "--out", dir}, 2, "not 16 hex digits"},
		{[]string{"cert", "node", "--ca", caDir, "--name", strings.Repeat("x", 64), "--out", dir}, 2, "1 to 63"},
		{[]string{"cert", "node", "--ca", filepath.Join(dir, "nowhere"), "--name", "a", "--out", dir}, 1, "no such file or directory"},
		{[]string{"cert", "node", "--ca", filepath.Join(caDir, "ca.crt"), "--name", "a", "--out", dir}, 1, "not a directory"},
		{[]string{"cert", "node", "--ca", notCA, "--name", "a", "--out", dir}, 1, "not a CA certificate"},
		{[]string{"cert", "id"}, 2, "a certificate file is needed"},
		{[]string{"cert", "id", filepath.Join(dir, "n.key")}, 1, "it holds a private key"},
		{[]string{"cert", "id", filepath.Join(dir, "junk.crt")}, 1, "no certificate"},
		{[]string{"cert", "id", filepath.Join(dir, "missing.crt")}, 1, "no such file or directory"},
	} {
		r := plexus(t, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("plexus %s: exit %d, %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
		if strings.Contains(r.stderr, "panic") {
			t.Errorf("plexus %s panicked: %s", strings.Join(tc.args, " "), r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused cert ca made its directory: %v", err)
	}

	// The errors themselves.
	c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	if _, err := loadCA(notCA, c); !errors.Is(err, errNotCA) {
		t.Errorf("loadCA of a node certificate: %v", err)
	}
	if _, err := readCertificate(filepath.Join(dir, "n.key")); !errors.Is(err, errNoCertificate) {
		t.Errorf("readCertificate of a key: %v", err)
	}
	if err := checkFree(false, filepath.Join(dir, "n.crt")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("checkFree of an existing file: %v", err)
	}
	if _, _, err := newKey("rsa"); !errors.Is(err, errKeyType) {
		t.Errorf("newKey(rsa): %v", err)
	}
}

// loadNode loads the files plexus cert wrote as the WithTLS config of a
// node, as docs/mesh.md shows.
func loadNode(t *testing.T, caDir, nodeDir, name string) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(nodeDir, name+".crt"), filepath.Join(nodeDir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate in ca.crt")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
}

// TestCertMesh: node certificates made by plexus cert (one ECDSA, one
// Ed25519) secure two mesh nodes that link and dial each other, with the
// ids plexus cert printed; a node of another CA does not get in.
func TestCertMesh(t *testing.T) {
	dir := t.TempDir()
	caDir, nodeDir := filepath.Join(dir, "ca"), filepath.Join(dir, "nodes")
	mustPlexus(t, "cert", "ca", "--out", caDir)
	idA := printedID(t, mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "a", "--out", nodeDir))
	idB := printedID(t, mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "b", "--out", nodeDir, "--key-type", "ed25519"))
	otherCA := filepath.Join(dir, "other")
	mustPlexus(t, "cert", "ca", "--out", otherCA)
	mustPlexus(t, "cert", "node", "--ca", otherCA, "--name", "intruder", "--out", nodeDir)

	newNode := func(caDir, name string) *mesh.Node {
		n, err := mesh.New(mesh.WithName("cert-test"), mesh.WithTLS(loadNode(t, caDir, nodeDir, name)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a, b, intruder := newNode(caDir, "a"), newNode(caDir, "b"), newNode(otherCA, "intruder")
	if mesh.FormatID(a.ID()) != idA || mesh.FormatID(b.ID()) != idB {
		t.Fatalf("node ids %s and %s, plexus cert printed %s and %s", mesh.FormatID(a.ID()), mesh.FormatID(b.ID()), idA, idB)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(ln); err != nil {
		t.Fatal(err)
	}
	b.Join("tcp", ln.Addr().String())
	intruder.Join("tcp", ln.Addr().String())

	echoLn, err := a.Listen("", "echo")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := echoLn.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	testutil.Eventually(t, "b to see a's service", func() bool { return len(b.Services()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	c, err := b.DialContext(ctx, "", "echo")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().String(); !strings.HasPrefix(got, idA+":") {
		t.Errorf("b reached %s, want a (%s)", got, idA)
	}
	msg := []byte("over TLS with certificates from plexus cert")
	c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %q %v", got, err)
	}
	// The intruder, from another CA, never gets a route: both ends fail
	// the handshake.
	testutil.Eventually(t, "a and the intruder to fail the link handshake", func() bool {
		return a.Stats().LinkHandshakes > 0 && intruder.Stats().LinkHandshakes > 0
	})
	for _, r := range intruder.Routes() {
		if r.Host == a.ID() || r.Host == b.ID() {
			t.Fatalf("a node of another CA has a route: %+v", r)
		}
	}
	for _, r := range a.Routes() {
		if r.Host == intruder.ID() {
			t.Fatalf("a has a route to the intruder: %+v", r)
		}
	}
}

// TestCertRenew: cert node --renew keeps the key, so the node id stays,
// and replaces the certificate; with no key to keep it fails.
func TestCertRenew(t *testing.T) {
	dir := t.TempDir()
	ca, out := filepath.Join(dir, "ca"), filepath.Join(dir, "certs")
	runOK := func(args ...string) string {
		t.Helper()
		r := runIn(args...)
		if r.code != 0 {
			t.Fatalf("plexus %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
		}
		return r.stdout
	}
	runOK("cert", "ca", "--out", ca)
	id := printedID(t, runOK("cert", "node", "--ca", ca, "--name", "n", "--out", out, "--key-type", "ed25519"))
	crt, key := filepath.Join(out, "n.crt"), filepath.Join(out, "n.key")
	oldCrt, _ := os.ReadFile(crt)
	oldKey, _ := os.ReadFile(key)

	renewed := runOK("cert", "node", "--ca", ca, "--name", "n", "--out", out, "--renew", "--days", "30")
	if got := printedID(t, renewed); got != id || !strings.Contains(renewed, "kept "+key) {
		t.Errorf("renewed: %q; want node id %s and the key kept", renewed, id)
	}
	newCrt, _ := os.ReadFile(crt)
	newKey, _ := os.ReadFile(key)
	if bytes.Equal(newCrt, oldCrt) || !bytes.Equal(newKey, oldKey) {
		t.Errorf("the certificate changed: %v, the key stayed: %v", !bytes.Equal(newCrt, oldCrt), bytes.Equal(newKey, oldKey))
	}
	if _, err := tls.LoadX509KeyPair(crt, key); err != nil {
		t.Errorf("the renewed pair: %v", err)
	}
	if m := mode(t, crt); m != 0o644 {
		t.Errorf("renewed certificate mode %04o", m)
	}

	if r := runIn("cert", "node", "--ca", ca, "--name", "other", "--out", out, "--renew"); r.code != 1 || !strings.Contains(r.stderr, "--renew: open "+filepath.Join(out, "other.key")) {
		t.Errorf("renew without a key: exit %d, %q", r.code, r.stderr)
	}
	if r := runIn("cert", "node", "--ca", ca, "--name", "n", "--out", out, "--renew", "--key-type", "ecdsa"); r.code != 2 || !strings.Contains(r.stderr, "--renew keeps the key") {
		t.Errorf("renew with --key-type: exit %d, %q", r.code, r.stderr)
	}
}
