package mesh

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mux"
)

func TestSecureMeshEndToEnd(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	chain(t, ns)
	for _, n := range ns {
		if n.ID() != IDFromCert(n.c.ident.leaf()) {
			t.Fatalf("id %s is not derived from the certificate", FormatID(n.ID()))
		}
	}
	ln, _ := ns[2].Listen("", "billing")
	accepted := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- err.Error()
			return
		}
		accepted <- c.RemoteAddr().String()
		io.Copy(c, c)
		c.Close()
	}()
	defer ln.Close()
	eventually(t, "billing to be seen", func() bool { return len(ns[0].Services()) == 1 })
	c, err := ns[0].Dial("", "billing")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, "secret")
	if got, want := <-accepted, (Addr{Host: ns[0].ID()}).String(); got != want {
		t.Fatalf("the caller is %s, want %s", got, want)
	}
	// The circuit's inner session runs over end-to-end TLS 1.3.
	ci := ns[0].c.circuits.byHost[ns[2].ID()]
	if ci == nil {
		t.Fatal("no circuit")
	}
}

func TestWithTLSRefusesBadConfigs(t *testing.T) {
	ca := newCA(t)
	good := ca.nodeConfig(t, false)
	noCert := good.Clone()
	noCert.Certificates = nil
	noPool := good.Clone()
	noPool.RootCAs = nil
	oldTLS := good.Clone()
	oldTLS.MaxVersion = tls.VersionTLS12
	foreign := good.Clone()
	foreign.RootCAs = newCA(t).pool // our own certificate is not from this CA
	for name, cfg := range map[string]*tls.Config{"no certificate": noCert, "no CA pool": noPool, "TLS 1.2": oldTLS, "certificate of another CA": foreign} {
		if _, err := New(WithTLS(cfg)); err == nil {
			t.Errorf("%s: New succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := New(WithTLS(good), WithID(5)); err == nil {
		t.Error("WithID with WithTLS succeeded")
	}
}

func TestSecuredNodeRefusesPlainLinks(t *testing.T) {
	ca := newCA(t)
	s := secureNodes(t, ca, 1)[0]
	p := newNode(t)
	ea, eb := attach(t, s, p).wait()
	if ea == nil || eb == nil {
		t.Fatalf("a plain link to a secured node: %v / %v", ea, eb)
	}
	if !errors.Is(ea, ErrNotAuthorized) {
		t.Fatalf("the secured side: %v", ea)
	}
	t.Logf("secured side: %v", ea)
	t.Logf("plain side: %v", eb)
	if len(s.Routes()) != 0 || len(p.Routes()) != 0 {
		t.Fatal("routes over a refused link")
	}
}

// TestForeignCertificateCannotJoinOrDial: a node whose certificate is from
// another CA is refused on both sides, learns nothing and reaches nothing.
func TestForeignCertificateCannotJoinOrDial(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	members := secureNodes(t, ca, 2)
	linked(t, members[0], members[1])
	ln, _ := members[1].Listen("", "billing")
	defer ln.Close()
	outsider := secureNodes(t, other, 1)[0]
	ea, eb := attach(t, members[0], outsider).wait()
	for _, err := range []error{ea, eb} {
		if !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("link with an outsider: %v", err)
		}
		t.Log(err)
	}
	if len(outsider.Routes()) != 0 || len(outsider.Services()) != 0 {
		t.Fatal("the outsider learned routes or services")
	}
	if _, err := outsider.Dial("", FormatID(members[1].ID())+":1"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("the outsider dials: %v", err)
	}
	if _, err := outsider.Dial("", "billing"); !errors.Is(err, ErrNoService) {
		t.Fatalf("the outsider dials by name: %v", err)
	}
	// Over TCP, through Join, the same.
	tcpLn, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	members[0].Serve(tcpLn)
	outsider.Join("tcp", tcpLn.Addr().String())
	time.Sleep(200 * time.Millisecond)
	if len(outsider.Routes()) != 0 {
		t.Fatal("the outsider joined over TCP")
	}
}

// TestMemberClaimingAnotherID: a member announcing an id its certificate
// does not prove is refused, and both sides say so.
func TestMemberClaimingAnotherID(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	honest, victim, liar := ns[0], ns[1], ns[2]
	liar.c.id = victim.ID() // the hello announces the victim's id
	ea, eb := attach(t, honest, liar).wait()
	for _, err := range []error{ea, eb} {
		if !errors.Is(err, ErrIDMismatch) {
			t.Fatalf("%v, want ErrIDMismatch", err)
		}
		t.Log(err)
	}
}

// sendRaw makes from send raw, a record, to its neighbour to, over their
// link, then makes from re-originate so that the test can wait for
// something from it that is known to come after.
func sendRaw(t *testing.T, from, to *Node, id uint64, raw []byte) {
	t.Helper()
	l := from.c.links.get(to.ID())
	if l == nil {
		t.Fatal("no link")
	}
	l.out.put(id, raw)
	marker, _ := from.Listen("", "marker")
	eventually(t, "the marker", func() bool {
		for _, s := range to.Services() {
			if s.Name == "marker" {
				return true
			}
		}
		return false
	})
	marker.Close()
}

func heldSeq(n *Node, id uint64) uint64 {
	n.c.rt.mu.Lock()
	defer n.c.rt.mu.Unlock()
	s, _ := n.c.rt.r.heldSeq(id)
	return s
}

func heldRaw(n *Node, id uint64) []byte {
	n.c.rt.mu.Lock()
	defer n.c.rt.mu.Unlock()
	if e := n.c.rt.r.db[id]; e != nil {
		return e.raw
	}
	return nil
}

func TestForgedRecordsRefused(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	x, m, v := ns[0], ns[1], ns[2]
	linked(t, x, m)
	linked(t, m, v)
	waitRoute(t, x, v.ID(), 2)
	real := heldSeq(x, v.ID())
	forge := func(cert []byte) []byte {
		rec := &record{id: v.ID(), seq: real + 1000, expiry: time.Now().Add(time.Minute).UnixMilli(), relay: true,
			services: []serviceEntry{{name: "evil", port: 1}}, cert: cert}
		raw, err := encodeRecord(rec, m.c.ident.sign)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	// m announces a record for v, signed by m, carrying m's certificate.
	sendRaw(t, m, x, v.ID(), forge(m.c.ident.cert.Certificate[0]))
	// m announces a record for v carrying v's certificate, signed by m.
	sendRaw(t, m, x, v.ID(), forge(v.c.ident.cert.Certificate[0]))
	// A record of v with a certificate of another CA.
	outsider := newCA(t).nodeConfig(t, false)
	sendRaw(t, m, x, v.ID(), forge(outsider.Certificates[0].Certificate[0]))
	// An unsigned record of v.
	unsigned, _ := encodeRecord(&record{id: v.ID(), seq: real + 2000, expiry: time.Now().Add(time.Minute).UnixMilli()}, nil)
	sendRaw(t, m, x, v.ID(), unsigned)
	if got := heldSeq(x, v.ID()); got > real+500 {
		t.Fatalf("a forged record of v was accepted: seq %d", got)
	}
	for _, s := range x.Services() {
		if s.Name == "evil" {
			t.Fatal("a forged service is listed")
		}
	}
	// And the real check, decoded: each is refused with ErrNotAuthorized.
	for _, raw := range [][]byte{forge(m.c.ident.cert.Certificate[0]), forge(v.c.ident.cert.Certificate[0]), unsigned} {
		rec, err := decodeRecord(raw, 10)
		if err != nil {
			t.Fatal(err)
		}
		err = x.c.ident.verifyRecord(rec, raw, time.Now())
		if !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("verify: %v", err)
		}
		t.Log(err)
	}
}

func TestReplayedRecordRefused(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	x, m, v := ns[0], ns[1], ns[2]
	linked(t, x, m)
	linked(t, m, v)
	waitRoute(t, x, v.ID(), 2)
	oldRaw := heldRaw(x, v.ID())
	oldSeq := heldSeq(x, v.ID())
	ln, _ := v.Listen("", "newer")
	defer ln.Close()
	eventually(t, "v's newer record", func() bool { return heldSeq(x, v.ID()) > oldSeq })
	newSeq := heldSeq(x, v.ID())
	sendRaw(t, m, x, v.ID(), oldRaw) // m replays v's old record
	if got := heldSeq(x, v.ID()); got != newSeq {
		t.Fatalf("a replayed record replaced the newer one: %d, want %d", got, newSeq)
	}
	rec, _ := decodeRecord(oldRaw, 10)
	x.c.rt.mu.Lock()
	_, err := x.c.rt.r.receive(rec, oldRaw, m.ID(), time.Now())
	x.c.rt.mu.Unlock()
	if !errors.Is(err, ErrStaleRecord) {
		t.Fatalf("replay: %v, want ErrStaleRecord", err)
	}
	// A validly signed record that has expired is refused too.
	exp := &record{id: m.ID(), seq: heldSeq(x, m.ID()) + 1, expiry: time.Now().Add(-time.Second).UnixMilli(), relay: true, cert: m.c.ident.cert.Certificate[0]}
	raw, _ := encodeRecord(exp, m.c.ident.sign)
	rec, _ = decodeRecord(raw, 10)
	x.c.rt.mu.Lock()
	_, err = x.c.rt.r.receive(rec, raw, m.ID(), time.Now())
	x.c.rt.mu.Unlock()
	if !errors.Is(err, ErrBadRecord) {
		t.Fatalf("expired: %v", err)
	}
}

// TestOutsiderCannotBeRelayedFor: a member sends a setup claiming that the
// circuit comes from a node outside the mesh, through itself; the
// destination's end-to-end TLS proves otherwise and the circuit fails.
func TestOutsiderCannotBeRelayedFor(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	chain(t, ns)
	m, relay, dst := ns[0], ns[1], ns[2]
	const outsider = 0x0badbadbadbadbad
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	l := m.c.links.get(relay.ID())
	st, err := l.sess.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Write(appendSetupHeader(nil, setupHeader{hop: 2, path: []uint64{outsider, m.ID(), relay.ID(), dst.ID()}}))
	var v [2]byte
	st.SetReadDeadline(time.Now().Add(patience))
	if _, err := io.ReadFull(st, v[:]); err != nil {
		t.Fatal(err)
	}
	if code(v[0]) != codeOK {
		t.Fatalf("verdict %v", code(v[0]).err())
	}
	tc := tls.Client(st, m.c.ident.tlsConfig(false, dst.ID()))
	err = tc.HandshakeContext(ctx)
	if err == nil {
		// TLS 1.3: the client may finish before the server checks its
		// certificate; the server's refusal then ends the stream.
		_, err = tc.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("a circuit claiming an outsider's id came up")
	}
	t.Log(err)
	dst.c.circuits.mu.Lock()
	_, ok := dst.c.circuits.byHost[outsider]
	dst.c.circuits.mu.Unlock()
	if ok {
		t.Fatal("the destination holds a circuit from the outsider")
	}
	_ = mux.CodeCancel
}
