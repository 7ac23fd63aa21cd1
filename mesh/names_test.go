package mesh

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// TestNodeNamesInsecure: an insecure node's name (WithNodeName) travels in
// its record: the others show it, unverified, and resolve it; ids,
// service names, unknown and ambiguous names resolve as Resolve says.
func TestNodeNamesInsecure(t *testing.T) {
	a := newNode(t, WithNodeName("alpha"))
	b := newNode(t, WithNodeName("beta"))
	c := newNode(t) // no name
	d := newNode(t, WithNodeName("beta"))
	chain(t, []*Node{a, b, c, d})
	waitRoute(t, a, d.ID(), 3)
	eventually(t, "a knows d's name", func() bool { name, _ := a.NodeName(d.ID()); return name == "beta" })

	if info := a.Info(); info.NodeName != "alpha" || info.NameVerified {
		t.Errorf("Info: name %q verified %v", info.NodeName, info.NameVerified)
	}
	if name, verified := a.NodeName(b.ID()); name != "beta" || verified {
		t.Errorf("NodeName(b) = %q, %v", name, verified)
	}
	if name, _ := a.NodeName(c.ID()); name != "" {
		t.Errorf("NodeName(c) = %q, want none", name)
	}
	if got, want := a.Describe(b.ID()), "beta ("+FormatID(b.ID())[:8]+")"; got != want {
		t.Errorf("Describe(b) = %q, want %q", got, want)
	}
	if got := a.Describe(c.ID()); got != FormatID(c.ID()) {
		t.Errorf("Describe(c) = %q, want the id", got)
	}
	if ls := a.Links(); len(ls) != 1 || ls[0].PeerName != "beta" || ls[0].PeerNameVerified {
		t.Errorf("Links: %+v", ls)
	}
	names := map[uint64]string{}
	for _, tn := range a.Topology().Nodes {
		names[tn.ID] = tn.Name
	}
	if names[a.ID()] != "alpha" || names[b.ID()] != "beta" || names[c.ID()] != "" || names[d.ID()] != "beta" {
		t.Errorf("Topology names: %v", names)
	}

	ln, err := c.Listen("", "printer")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	eventually(t, "a sees the printer", func() bool { return len(a.Services()) == 1 })

	for _, tc := range []struct {
		target string
		want   uint64
		err    error
		in     []string // what the error must say
	}{
		{target: "alpha", want: a.ID()},
		{target: FormatID(c.ID()), want: c.ID()},
		{target: strings.ToUpper(FormatID(c.ID())), want: c.ID()},
		{target: "0000000000000abc", want: 0xabc}, // an id, known or not
		{target: "printer", want: c.ID()},
		{target: "beta", err: ErrAmbiguousName, in: []string{"beta (" + FormatID(b.ID())[:8] + ")", "beta (" + FormatID(d.ID())[:8] + ")"}},
		{target: "gamma", err: ErrNoSuchNode, in: []string{`"gamma"`}},
		{target: "a b", err: ErrBadAddress},
		{target: "", err: ErrBadAddress},
	} {
		got, err := a.Resolve(tc.target)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Resolve(%q) = %v, %v; want %v", tc.target, FormatID(got), err, tc.err)
				continue
			}
			for _, s := range tc.in {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Resolve(%q): %v does not say %q", tc.target, err, s)
				}
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %v, %v; want %v", tc.target, FormatID(got), err, FormatID(tc.want))
		}
	}
}

// TestNodeNamesSecured: a secured node's name is its certificate's CN,
// verified, seen by its neighbour (from the link before its record) and
// by a node two hops away (from its record); WithNodeName may only
// repeat it; a CN that is not a node name gives none.
func TestNodeNamesSecured(t *testing.T) {
	ca := newCA(t)
	cn := func(name string) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.Subject.CommonName = name }
	}
	a := newNode(t, WithTLS(ca.nodeConfigWith(t, false, cn("Web-1"))))
	b := newNode(t, WithTLS(ca.nodeConfigWith(t, true, cn("relay"))), WithNodeName("relay"))
	c := newNode(t, WithTLS(ca.nodeConfigWith(t, false, cn("db server"))))
	chain(t, []*Node{a, b, c})
	waitRoute(t, c, a.ID(), 2)
	eventually(t, "c knows a's record", func() bool { name, _ := c.NodeName(a.ID()); return name != "" })

	if name, verified := c.NodeName(a.ID()); name != "web-1" || !verified {
		t.Errorf("c: NodeName(a) = %q, %v", name, verified)
	}
	if name, verified := a.NodeName(b.ID()); name != "relay" || !verified {
		t.Errorf("a: NodeName(b) = %q, %v", name, verified)
	}
	if name, _ := a.NodeName(c.ID()); name != "" {
		t.Errorf("a: NodeName(c) = %q, want none (its CN is not a node name)", name)
	}
	if info := b.Info(); info.NodeName != "relay" || !info.NameVerified || info.CertNotAfter.IsZero() {
		t.Errorf("b.Info: %q %v %v", info.NodeName, info.NameVerified, info.CertNotAfter)
	}
	if id, err := c.Resolve("web-1"); err != nil || id != a.ID() {
		t.Errorf("c.Resolve(web-1) = %v, %v", FormatID(id), err)
	}

	_, err := New(WithTLS(ca.nodeConfigWith(t, false, cn("web"))), WithNodeName("other"))
	if err == nil || !strings.Contains(err.Error(), "common name") {
		t.Errorf("New with a name other than the CN: %v", err)
	}
	for _, bad := range []string{"Web", "a_b", "00c0ffee00c0ffee", strings.Repeat("x", 64), "-x"} {
		if _, err := New(WithInsecure(), WithNodeName(bad)); !errors.Is(err, ErrBadAddress) {
			t.Errorf("WithNodeName(%q): %v", bad, err)
		}
	}
}

// TestNodeNamesInLogs: log lines show nodes as "name (id8)": the node's
// own, and a neighbour's from its certificate as soon as the link is up.
func TestNodeNamesInLogs(t *testing.T) {
	ca := newCA(t)
	cn := func(name string) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.Subject.CommonName = name }
	}
	var logs testutil.Buffer
	a := newNode(t, WithTLS(ca.nodeConfigWith(t, false, cn("web-1"))), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	b := newNode(t, WithTLS(ca.nodeConfigWith(t, true, cn("relay"))))
	linked(t, a, b)
	want := `msg="mesh: link up" node="web-1 (` + FormatID(a.ID())[:8] + `)" peer="relay (` + FormatID(b.ID())[:8] + `)"`
	eventually(t, "a logs the link up with names", func() bool { return strings.Contains(logs.String(), want) })

	// A node without a name is its 16 hex digits.
	c := newNode(t)
	if got := c.c.who(c.ID()).LogValue().String(); got != FormatID(c.ID()) {
		t.Errorf("who(unnamed) = %q", got)
	}
}
