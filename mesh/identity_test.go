package mesh

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
)

// usageCases are node certificates by their (extended) key usages, and
// whether a node may use them: both server auth and client auth, or none.
var usageCases = []struct {
	name string
	ok   bool
	mod  func(*x509.Certificate)
}{
	{"serverAuth and clientAuth", true, nil},
	{"no extended key usage", true, func(c *x509.Certificate) { c.ExtKeyUsage = nil }},
	{"anyExtendedKeyUsage", true, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }},
	{"no key usage", true, func(c *x509.Certificate) { c.KeyUsage = 0 }},
	{"emailProtection only", false, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}},
	{"serverAuth only", false, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }},
	{"clientAuth only", false, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }},
	{"key usage without digital signature", false, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyAgreement }},
}

// TestNodeCertificateUsages checks the one rule on a node certificate's
// usages everywhere a certificate is checked: New (our own), both ends of
// a link (a hostile peer presenting the certificate, as TLS server and as
// TLS client) and records signed with it.
func TestNodeCertificateUsages(t *testing.T) {
	ca := newCA(t)
	member := newNode(t, WithTLS(ca.nodeConfig(t, false)))
	for _, tc := range usageCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ca.nodeConfigWith(t, false, tc.mod)
			n, err := New(fast, WithTLS(cfg))
			if err == nil {
				n.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("New: %v, want ok %v", err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrNotAuthorized) {
				t.Errorf("New: %v is not ErrNotAuthorized", err)
			}
			// The hostile peer runs plain crypto/tls with the certificate.
			peer := &tls.Config{
				Certificates:       cfg.Certificates,
				InsecureSkipVerify: true,
				ClientAuth:         tls.RequireAnyClientCert,
				MinVersion:         tls.VersionTLS13,
				NextProtos:         []string{"plexus-mesh/1"},
			}
			for _, dialer := range []bool{true, false} {
				x, y := testutil.TCPPair(t)
				done := make(chan struct{})
				go func() {
					defer close(done)
					var hc *tls.Conn
					if dialer { // the member dials: the peer is the TLS server
						hc = tls.Server(y, peer)
					} else {
						hc = tls.Client(y, peer)
					}
					hc.Handshake()
					y.Close()
				}()
				ctx, cancel := context.WithTimeout(context.Background(), patience)
				tc2, err := member.c.tlsHandshake(ctx, x, dialer, 0, nil, nil)
				cancel()
				x.Close()
				<-done
				if tc2 != nil {
					tc2.Close()
				}
				if (err == nil) != tc.ok {
					t.Errorf("link handshake, member dialing %v: %v, want ok %v", dialer, err, tc.ok)
				}
				if !tc.ok && !errors.Is(err, ErrNotAuthorized) {
					t.Errorf("link handshake, member dialing %v: %v is not ErrNotAuthorized", dialer, err)
				}
			}
			// A record signed with the certificate's key.
			leaf, _ := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
			signer := &creds{signer: cfg.Certificates[0].PrivateKey.(crypto.Signer)}
			raw, err := linkstate.EncodeRecord(&linkstate.Record{ID: IDFromCert(leaf), Seq: 1, Expiry: time.Now().Add(time.Minute).UnixMilli(), Cert: leaf.Raw}, signer.sign)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := linkstate.DecodeRecord(raw, 16)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = member.c.ident.verifyRecord(rec, raw, time.Now())
			if (err == nil) != tc.ok {
				t.Errorf("record: %v, want ok %v", err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrNotAuthorized) {
				t.Errorf("record: %v is not ErrNotAuthorized", err)
			}
		})
	}
}

// intermediateCA returns a CA under root, whose certificates chain to
// root's pool through the intermediate's DER, the second return.
func intermediateCA(t testing.TB, root *testCA) (*testCA, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "intermediate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.cert, key.Public(), root.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pool: root.pool}, der
}

// TestIntermediateCA runs a mesh whose node certificates an intermediate
// CA issued: records carry the chain, so nodes two hops apart route and
// dial each other (records carried the leaf alone, and no record could be
// verified).
func TestIntermediateCA(t *testing.T) {
	root := newCA(t)
	inter, ider := intermediateCA(t, root)
	ns := make([]*Node, 3)
	for i := range ns {
		cfg := inter.nodeConfig(t, i == 1)
		cfg.Certificates[0].Certificate = append(cfg.Certificates[0].Certificate, ider)
		ns[i] = newNode(t, WithTLS(cfg))
	}
	chain(t, ns)
	ln, err := ns[2].Listen("", "billing")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	eventually(t, "billing to be seen", func() bool { return len(ns[0].Services()) == 1 })
	c, err := ns[0].DialContext(ctxT(t), "", "billing")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, "through an intermediate")

	// A chain a record cannot carry is refused by New.
	cfg := inter.nodeConfig(t, false)
	cfg.Certificates[0].Certificate = append(cfg.Certificates[0].Certificate, ider)
	small := Limits{MaxRecordSize: 1024}
	if n, err := New(WithTLS(cfg), WithLimits(small)); err == nil {
		n.Close()
		t.Error("New took a chain that does not fit MaxRecordSize")
	} else {
		t.Log(err)
	}
	cfg.Certificates[0].Certificate = append(cfg.Certificates[0].Certificate, make([]byte, 1<<16-1))
	if n, err := New(WithTLS(cfg)); err == nil {
		n.Close()
		t.Error("New took a chain over the caps")
	} else {
		t.Log(err)
	}
}

// TestUserVerifyCallbacks: the WithTLS config's VerifyConnection and
// VerifyPeerCertificate are called on links and circuits, and refuse a
// peer (they were dropped silently).
func TestUserVerifyCallbacks(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	banned := ns[2].ID()
	var conns, peers atomic.Int32
	cfg := ca.nodeConfig(t, false)
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		conns.Add(1)
		if len(cs.VerifiedChains) == 0 {
			return errors.New("no verified chains")
		}
		if IDFromCert(cs.PeerCertificates[0]) == banned {
			return errors.New("banned")
		}
		return nil
	}
	cfg.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
		peers.Add(1)
		return nil
	}
	x := newNode(t, WithTLS(cfg))
	linked(t, x, ns[0])
	if conns.Load() == 0 || peers.Load() == 0 {
		t.Fatalf("callbacks called %d and %d times on a link", conns.Load(), peers.Load())
	}
	p := attach(t, x, ns[2])
	errX, errP := p.wait()
	if !errors.Is(errX, ErrNotAuthorized) {
		t.Fatalf("a link to a banned peer: %v / %v", errX, errP)
	}
	// Through a relay: the circuit's end-to-end TLS is checked too.
	attach(t, ns[0], ns[1])
	attach(t, ns[0], ns[2])
	waitRoute(t, x, ns[1].ID(), 2)
	waitRoute(t, x, banned, 2)
	for _, n := range ns[1:] {
		ln, err := n.Listen("", ":9")
		if err != nil {
			t.Fatal(err)
		}
		echo(t, ln)
	}
	c, err := x.DialContext(ctxT(t), "", FormatID(ns[1].ID())+":9")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := x.DialContext(ctxT(t), "", FormatID(banned)+":9"); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("a circuit to a banned host: %v", err)
	}
}

// TestServicePolicy: any member may announce any service name; a node
// with WithServicePolicy ignores the services its policy refuses (here:
// "billing" only from certificates named billing), in Services and in
// dials by name.
func TestServicePolicy(t *testing.T) {
	ca := newCA(t)
	named := func(cn string) *tls.Config {
		return ca.nodeConfigWith(t, false, func(c *x509.Certificate) { c.Subject.CommonName = cn })
	}
	var calls atomic.Int32
	a := newNode(t, WithTLS(named("client")), WithServicePolicy(func(host uint64, cert *x509.Certificate, env, name string) bool {
		calls.Add(1)
		return name != "billing" || cert != nil && cert.Subject.CommonName == "billing" && IDFromCert(cert) == host
	}))
	b := newNode(t, WithTLS(named("billing")))
	c := newNode(t, WithTLS(named("impostor")))
	linked(t, a, b)
	linked(t, a, c)
	for _, n := range []*Node{b, c} {
		ln, err := n.Listen("", "billing")
		if err != nil {
			t.Fatal(err)
		}
		serveID(t, n, ln)
		mail, err := n.Listen("", "mail")
		if err != nil {
			t.Fatal(err)
		}
		defer mail.Close()
	}
	eventually(t, "both mail services", func() bool {
		n := 0
		for _, s := range a.Services() {
			if s.Name == "mail" {
				n++
			}
		}
		return n == 2
	})
	for _, s := range a.Services() {
		if s.Name == "billing" && s.Host != b.ID() {
			t.Fatalf("a lists billing at %s, which its policy refuses", FormatID(s.Host))
		}
	}
	for range 10 {
		if got := whoAnswers(t, a, "billing"); got != FormatID(b.ID()) {
			t.Fatalf("billing answered by %s", got)
		}
	}
	if calls.Load() == 0 {
		t.Fatal("the policy was never called")
	}
	// c, without the policy, believes both.
	eventually(t, "c to see b's billing", func() bool {
		for _, s := range c.Services() {
			if s.Name == "billing" && s.Host == b.ID() {
				return true
			}
		}
		return false
	})
}

// chainOfSize returns a node config whose chain has the leaf and two
// intermediates under root, each padded with DNS names so that the whole
// chain has about size bytes, the leaf's key RSA 3072 (a large signature
// in the TLS handshake).
func chainOfSize(t testing.TB, root *testCA, size int) *tls.Config {
	t.Helper()
	pad := func(n int) []string {
		var names []string
		for len(names)*64 < n {
			names = append(names, strings.Repeat("p", 50)+fmt.Sprintf("%06d.example", len(names)))
		}
		return names
	}
	per := size/3 - 700 // what a certificate is without its names, about
	parent, parentKey := root.cert, root.key
	var inters [][]byte
	for i := range 2 {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(500 + i)), Subject: pkix.Name{CommonName: fmt.Sprintf("intermediate %d", i)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: pad(per),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		if err != nil {
			t.Fatal(err)
		}
		inters = append([][]byte{der}, inters...)
		parent, _ = x509.ParseCertificate(der)
		parentKey = key
	}
	key, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(600), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: pad(per - 300),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leaf, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: append([][]byte{leaf}, inters...), PrivateKey: key}}, RootCAs: root.pool}
}

// TestChainCaps: a chain of the leaf and two intermediates of nearly 8 KiB
// links and floods its records (the TLS handshake's read cap leaves room
// for it), while New refuses a fourth certificate, and a chain over 8 KiB.
func TestChainCaps(t *testing.T) {
	root := newCA(t)
	big := chainOfSize(t, root, base.MaxChainBytes-200)
	n := 0
	for _, der := range big.Certificates[0].Certificate {
		n += len(der)
	}
	if n > base.MaxChainBytes || n < base.MaxChainBytes-1024 {
		t.Fatalf("the test's chain has %d bytes", n)
	}
	a := newNode(t, WithTLS(big))
	b := newNode(t, WithTLS(chainOfSize(t, root, base.MaxChainBytes-200)))
	c := newNode(t, WithTLS(root.nodeConfig(t, false)))
	chain(t, []*Node{a, c, b}) // a and b learn each other's records through c
	ln, _ := b.Listen("", ":7")
	echo(t, ln)
	conn, err := a.DialContext(ctxT(t), "", FormatID(b.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "a chain of "+fmt.Sprint(n)+" bytes")
	conn.Close()

	four := big.Clone()
	four.Certificates = []tls.Certificate{big.Certificates[0]}
	four.Certificates[0].Certificate = append(slices.Clone(four.Certificates[0].Certificate), root.cert.Raw)
	over := chainOfSize(t, root, base.MaxChainBytes+1000)
	for name, cfg := range map[string]*tls.Config{"four certificates": four, "over 8 KiB": over} {
		if n, err := New(WithTLS(cfg)); err == nil {
			n.Close()
			t.Errorf("%s: New took it", name)
		} else if !errors.Is(err, ErrNotAuthorized) {
			t.Errorf("%s: %v", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestChainVerifiedOnce: a peer's chain is verified once, for both key
// usages, whether it comes in a link's TLS, again in another link, or in
// the peer's records, and our own is never verified again when our record
// comes back (every link verified the chain once per usage, and so did a
// new record, and our own at every link).
func TestChainVerifiedOnce(t *testing.T) {
	root := newCA(t)
	inter, ider := intermediateCA(t, root)
	cfg := inter.nodeConfig(t, false)
	cfg.Certificates[0].Certificate = append(cfg.Certificates[0].Certificate, ider)
	a := newNode(t, WithTLS(cfg))
	b := newNode(t, WithTLS(root.nodeConfig(t, false)))
	before := b.c.ident.verifies.Load()
	p := linked(t, a, b)
	eventually(t, "a's record at b", func() bool { return heldSeq(b, a.ID()) != 0 })
	p.cut()
	waitRoute(t, b, a.ID(), -1)
	linked(t, a, b)
	// A new record of a, once its services change.
	ln, _ := a.Listen("", "svc")
	defer ln.Close()
	eventually(t, "a's service at b", func() bool { return len(b.Services()) == 1 })
	// Two x509 verifications for the one chain with an intermediate (the
	// intermediate from the top down, then the chain), none after.
	if got := b.c.ident.verifies.Load() - before; got != 2 {
		t.Fatalf("%d x509 verifications of a's chain, want 2", got)
	}
}
