package mesh

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh/internal/wire"
)

// signedList makes the PEM of a revocation list of ids, signed by ca.
func signedList(t testing.TB, ca *testCA, seq uint64, ids ...uint64) []byte {
	t.Helper()
	b, err := SignRevocationList(&RevocationList{Seq: seq, IDs: ids}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawList returns the encoded list in a PEM.
func rawList(t testing.TB, pemBytes []byte) []byte {
	t.Helper()
	raw, err := revocationFromPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// revInfo returns what n says of its revocation list.
func revInfo(n *Node) RevocationInfo { return n.Info().Revocation }

// waitList waits until n holds the list seq.
func waitList(t testing.TB, n *Node, seq uint64) {
	t.Helper()
	eventually(t, "list "+FormatID(seq)+" at "+FormatID(n.ID()), func() bool { return revInfo(n).Seq == seq })
}

// TestRevocationListCodec: a signed list parses back as it was made (ids
// sorted and deduplicated); malformed encodings are ErrBadRecord and
// never allocate past the caps; SignRevocationList refuses what no node
// would take.
func TestRevocationListCodec(t *testing.T) {
	ca := newCA(t)
	p, err := SignRevocationList(&RevocationList{Seq: 7, IDs: []uint64{9, 3, 9, 5}, Issued: time.Unix(1e9, 0)}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRevocationList(append([]byte("junk before\n"), p...))
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 7 || !slices.Equal(got.IDs, []uint64{3, 5, 9}) || !got.Issued.Equal(time.Unix(1e9, 0)) || !got.CA.Equal(ca.cert) {
		t.Fatalf("parsed %+v", got)
	}
	empty, err := ParseRevocationList(signedList(t, ca, 1))
	if err != nil || len(empty.IDs) != 0 {
		t.Fatalf("an empty list: %+v, %v", empty, err)
	}

	raw := rawList(t, p)
	l, err := decodeRevocation(raw)
	if err != nil {
		t.Fatal(err)
	}
	body := func(seq uint64, n uint32, ids ...uint64) []byte {
		b := append([]byte{}, revocationMagic[:]...)
		b = append(b, revocationVersion)
		b = binary.BigEndian.AppendUint64(b, seq)
		b = binary.BigEndian.AppendUint64(b, 0)
		b = binary.BigEndian.AppendUint32(b, n)
		for _, id := range ids {
			b = binary.BigEndian.AppendUint64(b, id)
		}
		return b
	}
	tail := raw[revocationHeaderLen+8*3:] // the CA and the signature
	cases := map[string][]byte{
		"empty":                  nil,
		"other magic":            append([]byte("PXRX"), raw[4:]...),
		"other version":          append(append(append([]byte{}, raw[:4]...), 2), raw[5:]...),
		"too short":              raw[:revocationHeaderLen-1],
		"sequence 0":             append(body(0, 1, 3), tail...),
		"over MaxRevokedIDs":     append(body(1, MaxRevokedIDs+1), tail...),
		"more ids than bytes":    append(body(1, 1<<20), tail...),
		"ids not sorted":         append(body(1, 2, 5, 3), tail...),
		"id repeated":            append(body(1, 2, 3, 3), tail...),
		"id 0":                   append(body(1, 1, 0), tail...),
		"truncated":              raw[:len(raw)-1],
		"trailing bytes":         append(slices.Clone(raw), 0),
		"no CA certificate":      append(body(1, 0), 0, 0, 0, 1, 9),
		"no signature":           append(append(body(1, 0), 0, 1, 0x30), 0, 0),
		"a signature over a KiB": append(append(append(body(1, 0), 0, 1, 0x30), 0x04, 0x01), make([]byte, 1025)...),
	}
	for name, b := range cases {
		if _, err := decodeRevocation(b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v, want ErrBadRecord", name, err)
		}
	}
	if _, err := ParseRevocationList([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")); !errors.Is(err, ErrBadRecord) {
		t.Errorf("no list in the PEM: %v", err)
	}
	if seq, ok := peekRevocationSeq(raw); !ok || seq != l.seq {
		t.Errorf("peek: %d %v", seq, ok)
	}

	// What SignRevocationList refuses.
	other := newCA(t)
	node := ca.nodeConfig(t, false)
	leaf, _ := x509.ParseCertificate(node.Certificates[0].Certificate[0])
	many := make([]uint64, MaxRevokedIDs+1)
	for i := range many {
		many[i] = uint64(i + 1)
	}
	for name, f := range map[string]func() ([]byte, error){
		"sequence 0":       func() ([]byte, error) { return SignRevocationList(&RevocationList{}, ca.cert, ca.key) },
		"another CA's key": func() ([]byte, error) { return SignRevocationList(&RevocationList{Seq: 1}, ca.cert, other.key) },
		"a node, not a CA": func() ([]byte, error) {
			return SignRevocationList(&RevocationList{Seq: 1}, leaf, node.Certificates[0].PrivateKey.(*ecdsa.PrivateKey))
		},
		"id 0": func() ([]byte, error) {
			return SignRevocationList(&RevocationList{Seq: 1, IDs: []uint64{0, 1}}, ca.cert, ca.key)
		},
		"over MaxRevokedID": func() ([]byte, error) { return SignRevocationList(&RevocationList{Seq: 1, IDs: many}, ca.cert, ca.key) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: signed", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// A list of MaxRevokedIDs ids fits the control message cap.
	full, err := SignRevocationList(&RevocationList{Seq: 1, IDs: many[:MaxRevokedIDs]}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rawList(t, full)); n > maxRevocationLen {
		t.Fatalf("a full list has %d bytes, over the cap %d", n, maxRevocationLen)
	}
	if maxRevocationLen != 74781 {
		t.Fatalf("the largest list has %d bytes: docs/protocol.md says 74,781", maxRevocationLen)
	}
}

// TestRevocationListSigners: a node takes a list signed by a root CA of
// its pool, the second CA of a rollover pool included, and refuses (with
// ErrNotAuthorized, at the cost of at most one signature check) one of a
// foreign CA, of an intermediate CA under its root, or whose signature
// does not hold; an insecure node takes none.
func TestRevocationListSigners(t *testing.T) {
	ca1, ca2 := newCA(t), newCA(t)
	rollover := ca1.pool.Clone()
	rollover.AddCert(ca2.cert)
	inter, _ := intermediateCA(t, ca1)
	tampered := rawList(t, signedList(t, ca1, 5, 1, 2, 3))
	tampered[revocationHeaderLen-5] ^= 0x40 // the issue time's last byte: covered by the signature
	cases := []struct {
		name string
		pool *x509.CertPool
		raw  []byte
		ok   bool
	}{
		{"the mesh CA", ca1.pool, rawList(t, signedList(t, ca1, 5, 1)), true},
		{"a foreign CA", ca1.pool, rawList(t, signedList(t, ca2, 5, 1)), false},
		{"the second CA of a rollover pool", rollover, rawList(t, signedList(t, ca2, 5, 1)), true},
		{"the first CA of a rollover pool", rollover, rawList(t, signedList(t, ca1, 5, 1)), true},
		{"an intermediate CA", ca1.pool, rawList(t, signedList(t, inter, 5, 1)), false},
		{"a bad signature", ca1.pool, tampered, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ca1.nodeConfig(t, false)
			cfg.RootCAs = tc.pool
			n := newNode(t, WithTLS(cfg))
			err := n.SetRevocationList(pem.EncodeToMemory(&pem.Block{Type: revocationPEMType, Bytes: tc.raw}))
			if tc.ok {
				if err != nil || revInfo(n).Seq != 5 {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotAuthorized) {
				t.Fatalf("%v, want ErrNotAuthorized", err)
			}
			t.Log(err)
			if ri := revInfo(n); ri.Seq != 0 || ri.Refused != 1 || n.c.revoke.checks.Load() > 1 {
				t.Fatalf("after a refusal: %+v, %d signature checks", ri, n.c.revoke.checks.Load())
			}
		})
	}

	// At New, likewise; and an insecure node takes no list at all.
	if _, err := New(WithTLS(ca1.nodeConfig(t, false)), WithRevocationList(signedList(t, ca2, 1, 1))); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("New with a foreign list: %v", err)
	}
	if _, err := New(WithTLS(ca1.nodeConfig(t, false)), WithRevocationList([]byte("not a list"))); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("New with a malformed list: %v", err)
	}
	if _, err := New(WithInsecure(), WithRevocationList(signedList(t, ca1, 1, 1))); err == nil {
		t.Fatal("an insecure node took a list at New")
	}
	if err := newNode(t).SetRevocationList(signedList(t, ca1, 1, 1)); err == nil {
		t.Fatal("an insecure node took a list")
	}
	n := newNode(t, WithTLS(ca1.nodeConfig(t, false)), WithRevocationList(signedList(t, ca1, 3, 1, 2)))
	if ri := revInfo(n); ri.Seq != 3 || ri.Count != 2 || ri.Self {
		t.Fatalf("WithRevocationList: %+v", ri)
	}
}

// TestRevokedLinkCloses: a node that learns a list closes its links to
// the ids it names at once, on both ends; new links of a revoked node are
// refused at the handshake, whichever end dials; the list floods to the
// other neighbours, and the revoked node, which keeps running, logs at
// ERROR that it is revoked once it learns the list.
func TestRevokedLinkCloses(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	var logs testutil.Buffer
	x := newNode(t, WithTLS(ca.nodeConfig(t, false)), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	a, b, c := ns[0], ns[1], ns[2]
	pab := linked(t, a, x)
	linked(t, a, b)
	linked(t, b, c)
	list := signedList(t, ca, 10, x.ID())
	if err := a.SetRevocationList(list); err != nil {
		t.Fatal(err)
	}
	// The link's session is closed once SetRevocationList returns (its
	// goroutine removes it from the table a moment later).
	if a.c.links.get(x.ID()) != nil || hopsTo(a, x.ID()) != -1 {
		t.Fatal("a still has a live link or a route to x once SetRevocationList returned")
	}
	ea, ex := pab.wait()
	t.Logf("the link ended: %v / %v", ea, ex)
	waitList(t, c, 10) // through b
	if revInfo(x).Seq != 0 {
		t.Fatal("a sent the list to the node it revokes")
	}

	// New links are refused at the handshake, over TCP, whichever end
	// dials, and both ends say why.
	for _, xDials := range []bool{true, false} {
		before := [2]uint64{a.Stats().LinkHandshakes, x.Stats().LinkHandshakes}
		ln, err := netListen()
		if err != nil {
			t.Fatal(err)
		}
		server, client := a, x
		if !xDials {
			server, client = x, a
		}
		server.Serve(ln)
		client.Join("tcp", ln.Addr().String())
		eventually(t, "both ends to fail a handshake", func() bool {
			return a.Stats().LinkHandshakes > before[0] && x.Stats().LinkHandshakes > before[1]
		})
		if a.c.links.has(x.ID()) || x.c.links.has(a.ID()) {
			t.Fatal("a revoked node linked")
		}
		ln.Close()
	}
	// Over a pipe, with the errors.
	ea, ex = attach(t, b, x).wait()
	if !errors.Is(ea, ErrNotAuthorized) || !errors.Is(ex, ErrNotAuthorized) || !strings.Contains(ea.Error()+ex.Error(), "revoked") {
		t.Fatalf("a revoked node's link: %v / %v", ea, ex)
	}
	t.Logf("refused: %v / %v", ea, ex)

	// The revoked node learns the list: it keeps running, and says so.
	if err := x.SetRevocationList(list); err != nil {
		t.Fatal(err)
	}
	if !revInfo(x).Self || !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "this node is revoked") {
		t.Fatalf("x: %+v, logs:\n%s", revInfo(x), logs.String())
	}
}

// TestRevokedRecordsDropped: the records of a revoked node, and so its
// services, are dropped at a node two hops from the one that learned the
// list, and refused when they come again, however they are relayed.
func TestRevokedRecordsDropped(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 5)
	a, b, c, v, w := ns[0], ns[1], ns[2], ns[3], ns[4]
	chain(t, []*Node{a, b, c, v, w}) // w, behind v, never learns the list
	ln, err := v.Listen("", "billing")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	eventually(t, "billing at a", func() bool { return len(a.Services()) == 1 })
	old := heldRaw(a, v.ID())

	if err := c.SetRevocationList(signedList(t, ca, 1, v.ID())); err != nil {
		t.Fatal(err)
	}
	waitList(t, a, 1)
	if heldRaw(a, v.ID()) != nil || heldRaw(b, v.ID()) != nil {
		t.Fatal("v's record is still held")
	}
	if len(a.Services()) != 0 || hopsTo(a, v.ID()) != -1 || hopsTo(a, w.ID()) != -1 {
		t.Fatalf("a still sees v: services %v, routes %v", a.Services(), a.Routes())
	}
	if _, err := a.Dial("", "billing"); !errors.Is(err, ErrNoService) {
		t.Fatalf("dial billing: %v", err)
	}
	if _, err := a.Dial("", FormatID(v.ID())+":1"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("dial v: %v", err)
	}
	// b relays v's old record to a: refused before any check.
	refused := a.Stats().RecordsRefused
	sendRaw(t, b, a, v.ID(), old)
	if heldRaw(a, v.ID()) != nil || a.Stats().RecordsRefused == refused {
		t.Fatal("a took v's record again")
	}
	// w, which never learned the list, still sees v: what a list does not
	// reach, it does not protect.
	if hopsTo(w, v.ID()) != 1 {
		t.Fatal("w lost v")
	}
}

// TestRevokedCircuits: circuits to or through a revoked node are refused
// wherever a node on the way holds the list (the source routes around it,
// a relay refuses a setup naming it, the destination refuses one from
// it), and circuits up with one on their path close. The lists are
// installed on one node each, without flooding, to see each node's part.
func TestRevokedCircuits(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 6)
	s, r, d, v, u, z := ns[0], ns[1], ns[2], ns[3], ns[4], ns[5]
	chain(t, []*Node{s, r, d})
	ln, err := d.Listen("", ":7")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	// installAt makes n hold a list revoking ids, told to no neighbour:
	// n's links send nothing more (the paths below are given, not routed).
	installAt := func(n *Node, seq uint64, ids ...uint64) {
		t.Helper()
		l, err := decodeRevocation(rawList(t, signedList(t, ca, seq, ids...)))
		if err != nil {
			t.Fatal(err)
		}
		n.c.links.each(func(l *link) { l.out.close() })
		if err := n.c.installRevocation(l, 0); err != nil {
			t.Fatal(err)
		}
	}

	// A circuit s > r > d is up; then s learns that d is revoked: the
	// circuit closes, and s has no route to d.
	conn, err := s.DialContext(ctxT(t), "", FormatID(d.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "before")
	ci := circuitOf(s, d.ID())
	installAt(s, 1, d.ID())
	eventually(t, "the circuit to close", func() bool { return ci.sess.Err() != nil })
	conn.Close()
	if _, err := s.Dial("", FormatID(d.ID())+":7"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("dial to a revoked host: %v", err)
	}

	// r learns that v and u are revoked: it refuses a setup to v, and one
	// through u, which s would not route anyway.
	installAt(r, 1, v.ID(), u.ID())
	for _, path := range [][]uint64{{s.ID(), r.ID(), v.ID()}, {s.ID(), r.ID(), u.ID(), d.ID()}} {
		err := setupVia(t, s, path)
		if !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("setup along %s: %v, want ErrNotAuthorized", wire.FormatPath(path), err)
		}
		t.Log(err)
	}

	// d learns that z is revoked: it refuses a circuit from z through r,
	// which does not know.
	linked(t, z, r)
	installAt(d, 1, z.ID())
	if err := setupVia(t, z, []uint64{z.ID(), r.ID(), d.ID()}); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("a circuit from a revoked source: %v", err)
	}
	if n := d.c.circuits.ends.total; n != 0 {
		t.Fatalf("d holds %d circuits", n)
	}
}

// TestRevokedCircuitThroughARelay: a circuit up through a relay that
// becomes revoked closes at the ends that learn it, and the next dial
// takes another path.
func TestRevokedCircuitThroughARelay(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 4)
	s, v, r, d := ns[0], ns[1], ns[2], ns[3]
	linked(t, s, v)
	linked(t, v, d)
	waitRoute(t, s, d.ID(), 2)
	ln, err := d.Listen("", ":7")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	conn, err := s.DialContext(ctxT(t), "", FormatID(d.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, "through v")
	ci := circuitOf(s, d.ID())
	if ci == nil || !slices.Contains(ci.path, v.ID()) {
		t.Fatal("no circuit through v")
	}
	linked(t, s, r)
	linked(t, r, d)
	if err := s.SetRevocationList(signedList(t, ca, 1, v.ID())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the circuit through v to close", func() bool { return ci.sess.Err() != nil })
	waitList(t, d, 1)
	waitRoute(t, s, d.ID(), 2) // through r, now that v is out
	c2, err := s.DialContext(ctxT(t), "", FormatID(d.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	roundTrip(t, c2, "through r")
	ci = circuitOf(s, d.ID())
	if ci == nil || slices.Contains(ci.path, v.ID()) {
		t.Fatalf("the new circuit goes %v", ci.path)
	}
}

// TestRevokedKeyStaysRevoked: the list names a key, so a renewed
// certificate for it, of the same CA or of a new one, stays revoked.
func TestRevokedKeyStaysRevoked(t *testing.T) {
	ca, ca2 := newCA(t), newCA(t)
	both := ca.pool.Clone()
	both.AddCert(ca2.cert)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	first := ca.certFor(t, key, time.Now().Add(time.Hour))
	leaf, _ := x509.ParseCertificate(first.Certificate[0])
	cfg := ca.nodeConfig(t, false)
	cfg.RootCAs = both
	a := newNode(t, WithTLS(cfg), WithRevocationList(signedList(t, ca, 1, IDFromCert(leaf))))
	for _, renewed := range []tls.Certificate{ca.certFor(t, key, time.Now().Add(48*time.Hour)), ca2.certFor(t, key, time.Now().Add(48*time.Hour))} {
		if bytes.Equal(renewed.Certificate[0], first.Certificate[0]) {
			t.Fatal("not renewed")
		}
		x := newNode(t, WithTLS(&tls.Config{Certificates: []tls.Certificate{renewed}, RootCAs: both}))
		if x.ID() != IDFromCert(leaf) {
			t.Fatal("another id")
		}
		ea, ex := attach(t, a, x).wait()
		if !errors.Is(ea, ErrNotAuthorized) || !errors.Is(ex, ErrNotAuthorized) {
			t.Fatalf("a renewed certificate of a revoked key linked: %v / %v", ea, ex)
		}
	}
}

// TestRevocationReplay: the highest sequence number wins; a list not
// newer than the one held, from the API or replayed by a neighbour, is
// ErrStaleRecord and costs no signature check (the neighbour is sent the
// newer one), and a forged newer one costs one and is dropped.
func TestRevocationReplay(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	a, b, x := ns[0], ns[1], ns[2]
	linked(t, a, b)
	old, newer := signedList(t, ca, 1, x.ID()), signedList(t, ca, 2, x.ID(), 99)
	if err := a.SetRevocationList(old); err != nil {
		t.Fatal(err)
	}
	if err := a.SetRevocationList(newer); err != nil {
		t.Fatal(err)
	}
	waitList(t, b, 2)
	checks := a.c.revoke.checks.Load()
	for _, p := range [][]byte{old, newer} {
		if err := a.SetRevocationList(p); !errors.Is(err, ErrStaleRecord) {
			t.Fatalf("a stale list: %v, want ErrStaleRecord", err)
		}
	}
	// b replays the old list to a.
	stale := revInfo(a).Stale
	b.c.links.get(a.ID()).out.putList(rawList(t, old))
	eventually(t, "a to drop the replay", func() bool { return revInfo(a).Stale > stale })
	// A forged list, newer, signed by an outsider's CA: one check.
	b.c.links.get(a.ID()).out.putList(rawList(t, signedList(t, newCA(t), 1000, b.ID())))
	eventually(t, "a to refuse the forged list", func() bool { return revInfo(a).Refused == 1 })
	if got := a.c.revoke.checks.Load() - checks; got > 1 {
		t.Fatalf("a replay and a forgery cost %d signature checks", got)
	}
	if ri := revInfo(a); ri.Seq != 2 || ri.Count != 2 || !a.c.links.has(b.ID()) {
		t.Fatalf("a: %+v", ri)
	}
	// A neighbour that holds an older list gets the newer one back.
	c := newNode(t, WithTLS(ca.nodeConfig(t, false)), WithRevocationList(old))
	linked(t, c, a)
	waitList(t, c, 2)
}

// TestInsecureNodesIgnoreLists: an insecure node neither takes nor
// passes on a list a neighbour sends.
func TestInsecureNodesIgnoreLists(t *testing.T) {
	ca := newCA(t)
	ns := nodes(t, 3)
	chain(t, ns)
	q := &ns[1].c.links.get(ns[0].ID()).out
	q.takesLists(true) // an insecure node sends none: this one does anyway
	q.putList(rawList(t, signedList(t, ca, 1, ns[2].ID())))
	ln, _ := ns[1].Listen("", "marker") // the list went before this record
	defer ln.Close()
	eventually(t, "the marker", func() bool { return len(ns[0].Services()) == 1 })
	if ri := revInfo(ns[0]); ri.Seq != 0 || hopsTo(ns[0], ns[2].ID()) != 2 {
		t.Fatalf("an insecure node took a list: %+v", ri)
	}
}

// TestListsOnlyToNodesThatTakeThem: a node sends its revocation list only
// to neighbours whose hello says they take lists: a node of an earlier
// revision, which closes a link on a message type it does not know, is
// sent none (here, a neighbour made to look like one).
func TestListsOnlyToNodesThatTakeThem(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3)
	x, older, newer := ns[0], ns[1], ns[2]
	linked(t, x, older)
	linked(t, x, newer)
	for _, n := range []*Node{older, newer} {
		if q := &x.c.links.get(n.ID()).out; !q.lists {
			t.Fatalf("a secured neighbour's hello does not say it takes lists")
		}
	}
	x.c.links.get(older.ID()).out.takesLists(false)
	if err := x.SetRevocationList(signedList(t, ca, 1, 0x77)); err != nil {
		t.Fatal(err)
	}
	waitList(t, newer, 1)
	ln, _ := x.Listen("", "marker") // a record sent after the list would have been
	defer ln.Close()
	eventually(t, "the marker at the older node", func() bool { return len(older.Services()) == 1 })
	if ri := revInfo(older); ri.Seq != 0 {
		t.Fatalf("a node that does not take lists was sent one: %+v", ri)
	}
	if hopsTo(x, older.ID()) != 1 {
		t.Fatal("the link to the older node went down")
	}
}

// FuzzRevocationList: a list decodes or is refused with ErrBadRecord,
// never panics nor allocates past its caps; what decodes re-encodes to
// the same bytes, and checking its signature refuses it cleanly.
func FuzzRevocationList(f *testing.F) {
	ca := newCA(f)
	f.Add(rawList(f, signedList(f, ca, 1)))
	f.Add(rawList(f, signedList(f, ca, 7, 1, 2, 3, 1<<63)))
	good := rawList(f, signedList(f, ca, 2, 5))
	f.Add(good[:len(good)-3])
	f.Add(append(slices.Clone(good), 1))
	f.Add([]byte("PXRL\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	pool := ca.pool
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeRevocation(b)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		if seq, ok := peekRevocationSeq(b); !ok || seq != l.seq || len(l.ids) > MaxRevokedIDs || len(b) > maxRevocationLen {
			t.Fatalf("peek %d %v; %d ids, %d bytes", seq, ok, len(l.ids), len(b))
		}
		again := appendRevocationBody(nil, l.seq, l.issued, l.ids, l.ca)
		again = binary.BigEndian.AppendUint16(again, uint16(len(l.sig)))
		again = append(again, l.sig...)
		if !bytes.Equal(again, b) || l.signedLen != len(again)-2-len(l.sig) {
			t.Fatalf("round trip of %x: %x", b, again)
		}
		var checks atomic.Uint64
		if err := l.verify(pool, time.Now(), &checks); err != nil && !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("verify: %v", err)
		}
		if checks.Load() > 1 {
			t.Fatal("more than one signature check")
		}
	})
}
