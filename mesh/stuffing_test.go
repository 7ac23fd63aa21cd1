package mesh

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
)

// fakeCAs returns n self-signed "CA" certificates that carry the subject
// of ca, each with a P-521 key of its own (the slowest curve to verify),
// and the first one's key: what a chain-stuffing attacker appends to its
// certificate so that x509 tries each as a parent. Every test CA has the
// same subject, so the fakes are made once, for all the tests.
func fakeCAs(t testing.TB, ca *testCA, n int) ([][]byte, crypto.Signer) {
	t.Helper()
	fakes.once.Do(func() {
		fakes.subject = ca.cert.Subject.String()
		fakes.ders, fakes.key, fakes.err = makeFakeCAs(ca.cert.Subject, maxFakeCAs)
	})
	if fakes.err != nil {
		t.Fatal(fakes.err)
	}
	if n > maxFakeCAs || ca.cert.Subject.String() != fakes.subject {
		t.Fatalf("fakeCAs: %d fakes of %q", n, ca.cert.Subject)
	}
	return fakes.ders[:n], fakes.key
}

// maxFakeCAs is the most fake CAs a test asks for.
const maxFakeCAs = 160

// fakes are the fake CAs of the tests, made once.
var fakes struct {
	once    sync.Once
	ders    [][]byte
	key     crypto.Signer
	subject string
	err     error
}

func makeFakeCAs(subject pkix.Name, n int) ([][]byte, crypto.Signer, error) {
	var first crypto.Signer
	ders := make([][]byte, n)
	for i := range ders {
		key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			first = key
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(int64(1000 + i)),
			Subject:               subject,
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		if ders[i], err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key); err != nil {
			return nil, nil, err
		}
	}
	return ders, first, nil
}

// stuffedCert returns a certificate an outsider makes itself: a leaf that
// names the mesh CA as its issuer, signed with the fake CAs' key, followed
// by n fake CAs.
func stuffedCert(t testing.TB, ca *testCA, n int) tls.Certificate {
	t.Helper()
	fakes, fakeKey := fakeCAs(t, ca, n)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := x509.ParseCertificate(fakes[0])
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "outsider"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leaf, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), fakeKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: append([][]byte{leaf}, fakes...), PrivateKey: key}
}

// The chain-stuffing attacker of TestChainStuffingLinks runs in a process
// of its own, so that the test's CPU time is the victim's alone: the test
// binary re-executed with handshakerEnv set to "ADDR CHAINFILE KEYFILE K"
// (the chain as concatenated DER, the key as PKCS #8 DER).
const handshakerEnv = "PLEXUS_MESH_TEST_HANDSHAKER"

// TestHandshakerHelper is that attacker: K TLS handshakes to ADDR, one
// after the other, each presenting the chain, closed once done.
func TestHandshakerHelper(t *testing.T) {
	spec := os.Getenv(handshakerEnv)
	if spec == "" {
		t.Skip("the attacker of TestChainStuffingLinks, run by it")
	}
	f := strings.Fields(spec)
	chain, err := os.ReadFile(f[1])
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := os.ReadFile(f[2])
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := x509.ParseCertificates(chain)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{PrivateKey: key}
	for _, c := range certs {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	k, _ := strconv.Atoi(f[3])
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{"plexus-mesh/1"}}
	for range k {
		c, err := net.Dial("tcp", f[0])
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(c, cfg)
		tc.SetDeadline(time.Now().Add(patience))
		tc.Handshake()
		tc.Read(make([]byte, 1)) // until the member refuses
		c.Close()
	}
}

// linkHandshakeCPU has a process of its own present cert in k TLS
// handshakes to the member's link listener at addr, one after the other,
// and returns the member's CPU time per handshake and the x509
// verifications it ran per handshake.
func linkHandshakeCPU(t *testing.T, member *Node, addr string, cert tls.Certificate, k int) (time.Duration, float64) {
	t.Helper()
	dir := t.TempDir()
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, der...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	chainFile, keyFile := filepath.Join(dir, "chain.der"), filepath.Join(dir, "key.der")
	os.WriteFile(chainFile, chain, 0o600)
	os.WriteFile(keyFile, keyDER, 0o600)
	failed := member.Stats().LinkHandshakes
	verifies := member.c.ident.verifies.Load()
	runtime.GC()
	start := cpuTime()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHandshakerHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s %d", handshakerEnv, addr, chainFile, keyFile, k))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the attacker: %v\n%s", err, out)
	}
	eventually(t, "the member to refuse every handshake", func() bool { return member.Stats().LinkHandshakes-failed >= uint64(k) })
	cpu := (cpuTime() - start) / time.Duration(k)
	return cpu, float64(member.c.ident.verifies.Load()-verifies) / float64(k)
}

// TestChainStuffingLinks: an outsider that appends fake certificates named
// like the mesh CA to its own (160 of them, or 2, within the caps), each
// with a P-521 key, costs a member no more CPU per link handshake than an
// ordinary foreign certificate: the chain over the caps is refused before
// crypto/tls parses it, and the 2 fake CAs are refused by one signature
// check with the mesh CA's key. (Before the caps, 160 fake CAs cost the
// member 173-269 ms per handshake and 2 of them 7-9 ms, against 1-3 ms.)
func TestChainStuffingLinks(t *testing.T) {
	ca := newCA(t)
	member := newNode(t, WithTLS(ca.nodeConfig(t, false)))
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	if err := member.Serve(ln); err != nil {
		t.Fatal(err)
	}
	stuffed := stuffedCert(t, ca, 160)
	const k = 20
	for _, tc := range []struct {
		name     string
		cert     tls.Certificate
		verifies float64 // x509 verifications per handshake, at most
	}{
		{"ordinary foreign certificate", newCA(t).nodeConfig(t, false).Certificates[0], 1},
		{"leaf and 160 fake CAs", stuffed, 0},
		{"leaf and 2 fake CAs", tls.Certificate{Certificate: stuffed.Certificate[:3], PrivateKey: stuffed.PrivateKey}, 1},
	} {
		cpu, verifies := linkHandshakeCPU(t, member, ln.Addr().String(), tc.cert, k)
		t.Logf("%s: %v of the member's CPU per handshake, %.1f x509 verifications", tc.name, cpu, verifies)
		if verifies > tc.verifies {
			t.Errorf("%s: %.1f x509 verifications per handshake, want at most %v", tc.name, verifies, tc.verifies)
		}
	}
}

// TestChainStuffingRecords: a member whose record carries fake CAs after
// its own certificate (160: over the caps; 2, in either order: within
// them), or a forged record with such a chain, costs the nodes the record
// floods to no more than a plain record: refused before any signature, or
// after one check with the mesh CA's key; a plain record is verified once
// and then served from the cache. (Before the caps, the 160 fake CAs cost
// 350-546 ms per record, reordering them defeated the cache, and a forged
// record cost 180-270 ms.)
func TestChainStuffingRecords(t *testing.T) {
	ca := newCA(t)
	victim := newNode(t, WithTLS(ca.nodeConfig(t, false)))
	cfg := ca.nodeConfig(t, false)
	own := cfg.Certificates[0]
	signer := &creds{signer: own.PrivateKey.(crypto.Signer)}
	leaf, _ := x509.ParseCertificate(own.Certificate[0])
	id := IDFromCert(leaf)
	fakes, _ := fakeCAs(t, ca, 160)
	chainOf := func(ders ...[]byte) []byte {
		var b []byte
		for _, d := range ders {
			b = append(b, d...)
		}
		return b
	}
	seq := uint64(0)
	makeRecord := func(id uint64, chain []byte) (*linkstate.Record, []byte, error) {
		seq++
		// Encoded by hand: linkstate.EncodeRecord refuses a chain over the caps.
		body := linkstate.AppendRecordBody(nil, &linkstate.Record{ID: id, Seq: seq, Expiry: time.Now().Add(time.Minute).UnixMilli()})
		body = body[:len(body)-2]
		body = append(body, byte(len(chain)>>8), byte(len(chain)))
		body = append(body, chain...)
		sig, _ := signer.sign(body)
		raw := append(body, byte(len(sig)>>8), byte(len(sig)))
		raw = append(raw, sig...)
		rec, err := linkstate.DecodeRecord(raw, 16)
		return rec, raw, err
	}
	const k = 20
	for _, tc := range []struct {
		name     string
		id       uint64
		chain    []byte
		ok       bool
		verifies float64
	}{
		{"plain record", id, own.Certificate[0], true, 0.05}, // verified once, then cached
		{"leaf and 160 fake CAs", id, chainOf(append([][]byte{own.Certificate[0]}, fakes...)...), false, 0},
		{"leaf and 2 fake CAs", id, chainOf(own.Certificate[0], fakes[0], fakes[1]), false, 1},
		{"leaf and 2 fake CAs, reordered", id, chainOf(own.Certificate[0], fakes[1], fakes[0]), false, 1},
		{"forged: another id, 2 fake CAs", id + 1, chainOf(own.Certificate[0], fakes[0], fakes[1]), false, 0},
	} {
		var err error
		verifies := victim.c.ident.verifies.Load()
		runtime.GC()
		start := cpuTime()
		for range k {
			var rec *linkstate.Record
			var raw []byte
			if rec, raw, err = makeRecord(tc.id, tc.chain); err == nil {
				_, _, err = victim.c.ident.verifyRecord(rec, raw, time.Now())
			}
		}
		cpu := (cpuTime() - start) / k
		v := float64(victim.c.ident.verifies.Load()-verifies) / k
		t.Logf("%s: %v of CPU per record (its signing included), %.2f x509 verifications: %v", tc.name, cpu, v, err)
		if (err == nil) != tc.ok || v > tc.verifies {
			t.Errorf("%s: %v with %.2f verifications per record, want ok %v and at most %v", tc.name, err, v, tc.ok, tc.verifies)
		}
	}
}

// TestChainStuffingCircuits: a member that opens a circuit and presents a
// stuffed chain in its end-to-end TLS is refused by the destination as
// over the caps, before any x509 verification (before the caps: 471-789
// ms of the destination's CPU per setup).
func TestChainStuffingCircuits(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	chain(t, ns)
	m, relay, dst := ns[0], ns[1], ns[2]
	stuffed := stuffedCert(t, ca, 160)
	for _, tc := range []struct {
		name     string
		cert     tls.Certificate
		verifies uint64
	}{
		{"leaf and 160 fake CAs", stuffed, 0},
		{"leaf and 2 fake CAs", tls.Certificate{Certificate: stuffed.Certificate[:3], PrivateKey: stuffed.PrivateKey}, 1},
	} {
		verifies := dst.c.ident.verifies.Load()
		start := cpuTime()
		st, err := m.c.links.get(relay.ID()).sess.OpenStream(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		st.Write(wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 1, Path: []uint64{m.ID(), relay.ID(), dst.ID()}}))
		var v [2]byte
		st.SetReadDeadline(time.Now().Add(patience))
		if _, err := io.ReadFull(st, v[:]); err != nil || code(v[0]) != codeOK {
			t.Fatalf("setup: %v %v", err, v)
		}
		st.SetReadDeadline(time.Time{})
		tc2 := tls.Client(st, &tls.Config{Certificates: []tls.Certificate{tc.cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{"plexus-mesh/1"}})
		tc2.SetDeadline(time.Now().Add(patience))
		if err = tc2.Handshake(); err == nil {
			_, err = tc2.Read(make([]byte, 1)) // TLS 1.3: the destination's refusal comes after
		}
		st.Close()
		cpu := cpuTime() - start
		got := dst.c.ident.verifies.Load() - verifies
		t.Logf("%s: %v of CPU for the setup (every node of the test), %d x509 verifications at the destination: %v", tc.name, cpu, got, err)
		if err == nil || got > tc.verifies {
			t.Errorf("%s: %v, %d verifications; want a refusal after at most %d", tc.name, err, got, tc.verifies)
		}
	}
	if n := len(dst.Circuits()); n != 0 {
		t.Fatalf("the destination holds %d circuits", n)
	}
}
