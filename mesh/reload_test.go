package mesh

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

// TestLinksAndCircuitsEndWhenTheCertificateExpires: a link, and a
// circuit's ends, close when the peer's certificate expires (they lived
// on for as long as the link did).
func TestLinksAndCircuitsEndWhenTheCertificateExpires(t *testing.T) {
	ca := newCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	short := ca.certFor(t, key, time.Now().Add(8*time.Second)) // time enough to set up, on a loaded machine
	leaf, _ := x509.ParseCertificate(short.Certificate[0])
	ns := secureNodes(t, ca, 2)
	b := newNode(t, WithTLS(&tls.Config{Certificates: []tls.Certificate{short}, RootCAs: ca.pool}))
	a, r := ns[0], ns[1]
	p1 := attach(t, a, r)
	p2 := attach(t, r, b)
	waitRoute(t, a, b.ID(), 2)
	ln, err := b.Listen("", ":7")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	conn, err := a.DialContext(ctxT(t), "", FormatID(b.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, "before")
	ci := circuitOf(a, b.ID())
	if ci == nil || !ci.cert.notAfter.Equal(leaf.NotAfter) {
		t.Fatalf("the circuit does not know when b's certificate expires")
	}
	if l := r.c.links.get(b.ID()); l == nil || !l.cert.notAfter.Equal(leaf.NotAfter) {
		t.Fatalf("the link does not know when b's certificate expires")
	}
	// At b's NotAfter, r ends the link and a the circuit.
	eventually(t, "the circuit to end", func() bool { return ci.sess.Err() != nil })
	eventually(t, "b to become unreachable", func() bool { return hopsTo(a, b.ID()) == -1 })
	errR, errB := p2.wait()
	t.Logf("link r-b ended: %v / %v", errR, errB)
	if hopsTo(a, r.ID()) != 1 {
		t.Fatal("the link a-r ended too")
	}
	p1.cut()
}

// TestReloadTLS: a renewed certificate for the same key is taken and
// flooded in our record; one for another key, or not from the mesh CA, is
// refused and changes nothing; a CA rotation closes the links to the
// nodes left with the old CA, while the others relink.
func TestReloadTLS(t *testing.T) {
	ca1, ca2 := newCA(t), newCA(t)
	keys := make([]*ecdsa.PrivateKey, 3)
	ns := make([]*Node, 3)
	for i := range ns {
		keys[i], _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ns[i] = newNode(t, WithTLS(&tls.Config{Certificates: []tls.Certificate{ca1.certFor(t, keys[i], time.Now().Add(time.Hour))}, RootCAs: ca1.pool}))
	}
	a, b, c := ns[0], ns[1], ns[2]
	nl, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	a.Serve(nl)
	b.Join("tcp", nl.Addr().String())
	c.Join("tcp", nl.Addr().String())
	waitRoute(t, b, c.ID(), 2)

	// Renewal: same key, a new certificate, flooded in b's record.
	renewed := ca1.certFor(t, keys[1], time.Now().Add(2*time.Hour))
	if err := b.ReloadTLS(renewed, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b's record with its new certificate", func() bool {
		return bytes.Contains(heldRaw(c, b.ID()), renewed.Certificate[0])
	})

	// Refused: another key; a certificate of another CA.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := b.ReloadTLS(ca1.certFor(t, other, time.Now().Add(time.Hour)), nil); !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("a certificate for another key: %v", err)
	}
	if err := b.ReloadTLS(ca2.certFor(t, keys[1], time.Now().Add(time.Hour)), nil); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("a certificate of another CA: %v", err)
	}
	if !bytes.Equal(b.c.ident.creds().cert.Certificate[0], renewed.Certificate[0]) {
		t.Fatal("a refused reload changed the certificate")
	}
	if err := newNode(t).ReloadTLS(renewed, nil); err == nil {
		t.Fatal("ReloadTLS on an unsecured node succeeded")
	}

	// CA rotation: a and b trust both CAs and take certificates of ca2,
	// then trust ca2 alone; c is left with ca1.
	both := ca1.pool.Clone()
	both.AddCert(ca2.cert)
	for i, n := range ns[:2] {
		if err := n.ReloadTLS(ca2.certFor(t, keys[i], time.Now().Add(time.Hour)), both); err != nil {
			t.Fatal(err)
		}
	}
	if hopsTo(a, c.ID()) != 1 || hopsTo(a, b.ID()) != 1 {
		t.Fatal("links ended while both CAs were trusted")
	}
	for i, n := range ns[:2] {
		if err := n.ReloadTLS(ca2.certFor(t, keys[i], time.Now().Add(time.Hour)), ca2.pool); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "c to be cut off", func() bool { return hopsTo(a, c.ID()) == -1 && hopsTo(b, c.ID()) == -1 })
	waitRoute(t, a, b.ID(), 1) // b redials with its ca2 certificate
	if a.c.links.has(c.ID()) {
		t.Fatal("c, with a certificate of the old CA, has a link to a")
	}
}
