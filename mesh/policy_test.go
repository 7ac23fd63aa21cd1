package mesh

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// uris parses URI SANs for a certificate template.
func uris(t testing.TB, ss ...string) []*url.URL {
	t.Helper()
	var out []*url.URL
	for _, s := range ss {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", s, err)
		}
		out = append(out, u)
	}
	return out
}

// grantConfig makes a node certificate of ca whose URI SANs are sans.
func (ca *testCA) grantConfig(t testing.TB, sans ...string) *tls.Config {
	t.Helper()
	u := uris(t, sans...)
	return ca.nodeConfigWith(t, false, func(c *x509.Certificate) { c.URIs = u })
}

// TestCertGrants: the URI SANs of the plexus scheme grant services and
// groups; a malformed one grants nothing and is listed as invalid; other
// schemes are ignored.
func TestCertGrants(t *testing.T) {
	svc := func(env, name string) ServiceGrant { return ServiceGrant{Env: env, Name: name} }
	for _, tc := range []struct {
		sans []string
		want Grants
	}{
		{nil, Grants{}},
		{[]string{"plexus:service/billing"}, Grants{Services: []ServiceGrant{svc("", "billing")}}},
		{[]string{"plexus:service/prod/billing"}, Grants{Services: []ServiceGrant{svc("prod", "billing")}}},
		{[]string{"plexus:service/prod/*"}, Grants{Services: []ServiceGrant{svc("prod", "*")}}},
		{[]string{"plexus:group/ops", "plexus:group/sre"}, Grants{Groups: []string{"ops", "sre"}}},
		{[]string{"PLEXUS:group/ops"}, Grants{Groups: []string{"ops"}}}, // a URI's scheme is case-insensitive
		{[]string{"plexus:service/a", "plexus:group/g", "plexus:service/a", "plexus:group/g"},
			Grants{Services: []ServiceGrant{svc("", "a")}, Groups: []string{"g"}}},
		{[]string{"spiffe://example.org/billing", "https://billing.example/"}, Grants{}},
		{[]string{"plexus:service/billing", "spiffe://example.org/x", "plexus:group/ops"},
			Grants{Services: []ServiceGrant{svc("", "billing")}, Groups: []string{"ops"}}},
	} {
		got := CertGrants(&x509.Certificate{URIs: uris(t, tc.sans...)})
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.sans, got, tc.want)
		}
	}
	// Malformed: each grants nothing.
	for _, s := range []string{
		"plexus:service/*",                          // every name of the default env: not a grant
		"plexus:service//billing",                   // empty env
		"plexus:service/prod/a/b",                   // a name holds no '/'
		"plexus:service/.hidden",                    // starts with '.'
		"plexus:service/0123456789abcdef",           // shaped like a node id
		"plexus:service/" + strings.Repeat("x", 65), // too long
		"plexus:service/",
		"plexus:service/prod/",
		"plexus:service/bill%69ng", // no escapes
		"plexus:service/billing?x=1",
		"plexus:service/billing#x",
		"plexus:group/",
		"plexus:group/a/b",
		"plexus:group/*",
		"plexus:node/billing", // an unknown kind
		"plexus:/service/billing",
		"plexus://service/billing",
		"plexus:billing",
	} {
		got := CertGrants(&x509.Certificate{URIs: uris(t, s)})
		if len(got.Services) != 0 || len(got.Groups) != 0 || !slices.Equal(got.Invalid, []string{s}) {
			t.Errorf("%q: got %+v, want nothing granted and it listed as invalid", s, got)
		}
	}
	// What a signed certificate carries reads back the same.
	ca := newCA(t)
	cfg := ca.grantConfig(t, "plexus:service/billing", "plexus:service/staging/*", "plexus:group/ops", "plexus:service/bad name")
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	want := Grants{Services: []ServiceGrant{svc("", "billing"), svc("staging", "*")}, Groups: []string{"ops"}, Invalid: []string{"plexus:service/bad name"}}
	if got := CertGrants(leaf); !reflect.DeepEqual(got, want) {
		t.Errorf("signed certificate: got %+v, want %+v", got, want)
	}
	if got := CertGrants(nil); !reflect.DeepEqual(got, Grants{}) {
		t.Errorf("nil certificate: %+v", got)
	}
}

// TestMayServe: a name is granted in its env only; ENV/* grants every
// name of ENV, never of the default env.
func TestMayServe(t *testing.T) {
	g := Grants{Services: []ServiceGrant{{"", "billing"}, {"prod", "mail"}, {"staging", "*"}}, Groups: []string{"ops"}}
	for _, tc := range []struct {
		env, name string
		want      bool
	}{
		{"", "billing", true},
		{"prod", "billing", false},
		{"", "mail", false},
		{"prod", "mail", true},
		{"staging", "anything", true},
		{"staging", "billing", true},
		{"", "anything", false},
		{"", "*", false},
		{"prod", "Mail", false}, // names are case-sensitive
	} {
		if got := g.MayServe(tc.env, tc.name); got != tc.want {
			t.Errorf("MayServe(%q, %q) = %v, want %v", tc.env, tc.name, got, tc.want)
		}
	}
	if !g.HasGroup("ops") || g.HasGroup("dev") || g.HasGroup("billing") {
		t.Errorf("HasGroup: ops %v, dev %v, billing %v", g.HasGroup("ops"), g.HasGroup("dev"), g.HasGroup("billing"))
	}
	var none Grants
	if none.MayServe("", "billing") || none.HasGroup("ops") {
		t.Error("no grants grant something")
	}
}

// TestParseServiceGrant: NAME, ENV/NAME and ENV/* read back as written;
// what mesh would refuse as a name or env is ErrBadAddress.
func TestParseServiceGrant(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ServiceGrant
		ok   bool
	}{
		{"billing", ServiceGrant{"", "billing"}, true},
		{"prod/billing", ServiceGrant{"prod", "billing"}, true},
		{"prod/*", ServiceGrant{"prod", "*"}, true},
		{"a-b_c.d", ServiceGrant{"", "a-b_c.d"}, true},
		{"", ServiceGrant{}, false},
		{"*", ServiceGrant{}, false},
		{"/billing", ServiceGrant{}, false},
		{"prod/", ServiceGrant{}, false},
		{"prod/a/b", ServiceGrant{}, false},
		{"prod/*x", ServiceGrant{}, false},
		{"bad name", ServiceGrant{}, false},
		{".x/billing", ServiceGrant{}, false},
		{"00000000000000ff", ServiceGrant{}, false},
	} {
		got, err := ParseServiceGrant(tc.in)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case !tc.ok && !errors.Is(err, ErrBadAddress):
			t.Errorf("%q: got %+v, %v; want an ErrBadAddress", tc.in, got, err)
		case tc.ok && (got != tc.want || got.String() != tc.in || got.URI() != "plexus:service/"+tc.in):
			t.Errorf("%q: got %+v (%q, %q)", tc.in, got, got.String(), got.URI())
		}
	}
}

// TestGrantsURIs: grants become the URI SANs CertGrants reads back; a
// malformed one is an error, and nothing is returned.
func TestGrantsURIs(t *testing.T) {
	g := Grants{Services: []ServiceGrant{{"", "billing"}, {"staging", "*"}, {"", "billing"}}, Groups: []string{"ops"}}
	us, err := g.URIs()
	if err != nil {
		t.Fatal(err)
	}
	var ss []string
	for _, u := range us {
		ss = append(ss, u.String())
	}
	if want := []string{"plexus:service/billing", "plexus:service/staging/*", "plexus:group/ops"}; !slices.Equal(ss, want) {
		t.Errorf("URIs %q, want %q", ss, want)
	}
	back := CertGrants(&x509.Certificate{URIs: us})
	if want := (Grants{Services: []ServiceGrant{{"", "billing"}, {"staging", "*"}}, Groups: []string{"ops"}}); !reflect.DeepEqual(back, want) {
		t.Errorf("read back %+v", back)
	}
	for _, bad := range []Grants{
		{Services: []ServiceGrant{{"", "a/b"}}}, // reads back as env a, name b
		{Services: []ServiceGrant{{"", ""}}},
		{Services: []ServiceGrant{{"x", ""}}},
		{Services: []ServiceGrant{{"", "*"}}},
		{Services: []ServiceGrant{{"", "bad name"}}},
		{Groups: []string{""}},
		{Groups: []string{"a b"}},
		{Groups: []string{"a/b"}},
	} {
		if us, err := bad.URIs(); !errors.Is(err, ErrBadAddress) || us != nil {
			t.Errorf("%+v: %v, %v; want an ErrBadAddress and nothing", bad, us, err)
		}
	}
}

// FuzzCertGrants: whatever a URI SAN holds, CertGrants never panics, and
// what it grants written back as SANs reads back the same.
func FuzzCertGrants(f *testing.F) {
	for _, s := range []string{"plexus:service/billing", "plexus:service/prod/*", "plexus:group/ops", "plexus:service//x", "plexus:group/a%20b", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if sg, err := ParseServiceGrant(s); err == nil && sg.String() != s {
			t.Fatalf("ParseServiceGrant(%q) = %+v, which writes %q", s, sg, sg.String())
		}
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		g := CertGrants(&x509.Certificate{URIs: []*url.URL{u}})
		if len(g.Services)+len(g.Groups)+len(g.Invalid) > 1 {
			t.Fatalf("%q: one SAN made %+v", s, g)
		}
		us, err := g.URIs()
		if err != nil {
			t.Fatalf("%q granted %+v, which URIs refuses: %v", s, g, err)
		}
		back := CertGrants(&x509.Certificate{URIs: us})
		back.Invalid = g.Invalid
		if !reflect.DeepEqual(back, g) {
			t.Fatalf("%q: %+v read back as %+v", s, g, back)
		}
	})
}

// TestCertPolicyNeedsTLS: certificate policy reads certificates, so an
// insecure node cannot have it.
func TestCertPolicyNeedsTLS(t *testing.T) {
	n, err := New(WithInsecure(), WithCertPolicy())
	if err == nil {
		n.Close()
		t.Fatal("an insecure node with WithCertPolicy started")
	}
	if !strings.Contains(err.Error(), "WithCertPolicy needs WithTLS") {
		t.Errorf("error %q does not say why", err)
	}
	ca := newCA(t)
	if on := newNode(t, WithTLS(ca.nodeConfig(t, false)), WithCertPolicy()); !on.Info().CertPolicy {
		t.Error("Info().CertPolicy is false with WithCertPolicy")
	}
	if off := newNode(t, WithTLS(ca.nodeConfig(t, false))); off.Info().CertPolicy {
		t.Error("Info().CertPolicy is true without WithCertPolicy")
	}
}

// TestCertPolicyHijack: an insider nearer to the dialer than the billing
// node announces "billing". Without certificate policy every dial by name
// goes to it, as before; with it the dialer ignores the insider's
// "billing", which its certificate does not name, and every dial reaches
// the node whose certificate does, while the insider's "mail", which its
// certificate names, is still believed, and its host:port still dialed.
//
//	insider - dialer - relay - billing
func TestCertPolicyHijack(t *testing.T) {
	const dials = 10
	for _, tc := range []struct {
		name    string
		opts    []Option
		insider int // dials by name that reach the insider
	}{
		{"policy off", nil, dials},
		{"cert policy", []Option{WithCertPolicy()}, 0},
		{"cert policy and a service policy", []Option{WithCertPolicy(), WithServicePolicy(func(uint64, *x509.Certificate, string, string) bool { return true })}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newCA(t)
			dialer := newNode(t, append([]Option{WithTLS(ca.grantConfig(t, "plexus:group/ops"))}, tc.opts...)...)
			insider := newNode(t, WithTLS(ca.grantConfig(t, "plexus:service/mail")))
			relay := newNode(t, WithTLS(ca.grantConfig(t)))
			billing := newNode(t, WithTLS(ca.grantConfig(t, "plexus:service/billing")))
			linked(t, insider, dialer)
			chain(t, []*Node{dialer, relay, billing})
			lb, err := billing.Listen("", "billing")
			if err != nil {
				t.Fatal(err)
			}
			serveID(t, billing, lb)
			li, err := insider.Listen("", "billing")
			if err != nil {
				t.Fatal(err)
			}
			serveID(t, insider, li)
			lm, err := insider.Listen("", "mail") // announced after billing: the record that has it has both
			if err != nil {
				t.Fatal(err)
			}
			defer lm.Close()
			has := func(name string, host uint64) bool {
				return slices.ContainsFunc(dialer.Services(), func(s Service) bool { return s.Name == name && s.Host == host })
			}
			eventually(t, "the insider's mail and billing's billing", func() bool { return has("mail", insider.ID()) && has("billing", billing.ID()) })
			if tc.insider > 0 {
				eventually(t, "the insider's billing", func() bool { return has("billing", insider.ID()) })
			} else if has("billing", insider.ID()) {
				t.Fatalf("the dialer lists the insider's billing: %+v", dialer.Services())
			}
			got := 0
			for range dials {
				switch who := whoAnswers(t, dialer, "billing"); who {
				case FormatID(insider.ID()):
					got++
				case FormatID(billing.ID()):
				default:
					t.Fatalf("billing answered by %q", who)
				}
			}
			if got != tc.insider {
				t.Errorf("%d of %d dials by name reached the insider, want %d", got, dials, tc.insider)
			}
			// A dial to the insider's host:port is not a dial by name.
			if who := whoAnswers(t, dialer, li.Addr().String()); who != FormatID(insider.ID()) {
				t.Errorf("the insider's host:port answered %q", who)
			}
			// The insider's own view: it believes its own billing first,
			// whatever its certificate says.
			if who := whoAnswers(t, insider, "billing"); who != FormatID(insider.ID()) {
				t.Errorf("the insider's own billing: answered by %q", who)
			}
		})
	}
}

// TestAllowGroups: a listener with AllowGroups admits only callers whose
// certificate names one of its groups, by service and by host:port, from
// neighbours, through a relay, and from its own node; the others get
// ErrNotAuthorized, and Accept never sees them.
//
//	ops ----+            +---- sreFar
//	        |            |
//	dev --- server --- relay --- devFar
func TestAllowGroups(t *testing.T) {
	ca := newCA(t)
	server := newNode(t, WithTLS(ca.grantConfig(t, "plexus:group/ops")))
	ops := newNode(t, WithTLS(ca.grantConfig(t, "plexus:group/ops")))
	dev := newNode(t, WithTLS(ca.grantConfig(t, "plexus:group/dev", "plexus:service/billing")))
	relay := newNode(t, WithTLS(ca.grantConfig(t)))
	sreFar := newNode(t, WithTLS(ca.grantConfig(t, "plexus:group/dev", "plexus:group/sre")))
	devFar := newNode(t, WithTLS(ca.grantConfig(t, "plexus:group/dev", "plexus:group/ops/x")))
	linked(t, ops, server)
	linked(t, dev, server)
	linked(t, relay, server)
	linked(t, sreFar, relay)
	linked(t, devFar, relay)
	for _, far := range []*Node{sreFar, devFar} {
		waitRoute(t, far, server.ID(), 2)
		waitRoute(t, server, far.ID(), 2)
	}

	ln, err := server.Listen("", "billing", AllowGroups("ops"), AllowGroups("sre"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := server.Bind("", ":90", AllowGroups("admin")) // Bind takes the same options
	if err != nil {
		t.Fatal(err)
	}
	open, err := server.Listen("", ":91")
	if err != nil {
		t.Fatal(err)
	}
	type acceptedBy struct {
		l    net.Listener
		host uint64
	}
	var mu sync.Mutex
	accepted := map[acceptedBy]int{} // connections Accept returned, by listener and caller
	for _, l := range []net.Listener{ln, admin, open} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				accepted[acceptedBy{l, c.RemoteAddr().(Addr).Host}]++
				mu.Unlock()
				c.Write([]byte("ok"))
				c.Close()
			}
		}()
		t.Cleanup(func() { l.Close() })
	}
	for _, n := range []*Node{ops, dev, relay, sreFar, devFar} {
		eventually(t, "billing seen from "+FormatID(n.ID()), func() bool { return len(n.Services()) > 0 })
	}

	billingAddr := ln.Addr().String()
	adminAddr := admin.Addr().String()
	openAddr := open.Addr().String()
	cases := []struct {
		who    string
		n      *Node
		addr   string
		admits bool
	}{
		{"ops neighbour, by name", ops, "billing", true},
		{"ops neighbour, by host:port", ops, billingAddr, true},
		{"dev neighbour, by name", dev, "billing", false},
		{"dev neighbour, by host:port", dev, billingAddr, false},
		{"relay without groups, by name", relay, "billing", false},
		{"sre through the relay, by name", sreFar, "billing", true},
		{"sre through the relay, by host:port", sreFar, billingAddr, true},
		{"dev through the relay, by name", devFar, "billing", false},
		{"dev through the relay, by host:port", devFar, billingAddr, false},
		{"the server itself, by name", server, "billing", true},
		{"the server itself, by host:port", server, billingAddr, true},
		{"the server itself, not in admin", server, adminAddr, false},
		{"ops neighbour, not in admin", ops, adminAddr, false},
		{"dev neighbour, a listener without groups", dev, openAddr, true},
		{"dev through the relay, a listener without groups", devFar, openAddr, true},
	}
	refused := 0
	for _, tc := range cases {
		t.Run(tc.who, func(t *testing.T) {
			for range 2 { // the second dial to an accepting destination does not wait
				c, err := tc.n.Dial("", tc.addr)
				if !tc.admits {
					refused++
					if err == nil {
						c.Close()
						t.Fatal("dial admitted")
					}
					if !errors.Is(err, ErrNotAuthorized) {
						t.Fatalf("error %v is not ErrNotAuthorized", err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(patience))
				b, err := io.ReadAll(c)
				c.Close()
				if err != nil || string(b) != "ok" {
					t.Fatalf("read %q, %v", b, err)
				}
			}
		})
	}
	mu.Lock()
	for k := range accepted {
		if k.l == admin || k.l == ln && k.host != ops.ID() && k.host != sreFar.ID() && k.host != server.ID() {
			t.Errorf("%s accepted a connection from %s", k.l.Addr(), FormatID(k.host))
		}
	}
	mu.Unlock()
	if got := server.Stats().ConnsNotAuthorized; got != uint64(refused) {
		t.Errorf("Stats().ConnsNotAuthorized = %d, want %d", got, refused)
	}
	// The dev neighbour, refused, learns nothing of the listener:
	// nothing was queued for it, and a dial by name tries the next
	// instance (there is none) and fails with the refusal.
	if _, err := dev.Dial("", "billing"); !errors.Is(err, ErrNotAuthorized) || errors.Is(err, ErrNoService) {
		t.Errorf("dev's dial: %v", err)
	}
}

// TestAllowGroupsErrors: AllowGroups needs a secured node, at least one
// group, and well-formed names; Listen and Bind say so and bind nothing.
func TestAllowGroupsErrors(t *testing.T) {
	ca := newCA(t)
	secure := newNode(t, WithTLS(ca.nodeConfig(t, false)))
	insecure := newNode(t)
	for _, tc := range []struct {
		name string
		n    *Node
		opts []ListenOption
		want string
	}{
		{"insecure node", insecure, []ListenOption{AllowGroups("ops")}, "needs a secured node"},
		{"no group", secure, []ListenOption{AllowGroups()}, "would admit no one"},
		{"bad group", secure, []ListenOption{AllowGroups("ops", "bad name")}, `group name "bad name"`},
		{"empty group", secure, []ListenOption{AllowGroups("")}, "empty group name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, listen := range []func(string, string, ...ListenOption) (net.Listener, error){tc.n.Listen, tc.n.Bind} {
				ln, err := listen("", "svc", tc.opts...)
				if err == nil {
					ln.Close()
					t.Fatal("listening")
				}
				var op *net.OpError
				if !errors.As(err, &op) || op.Op != "listen" || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v: want a listen *net.OpError saying %q", err, tc.want)
				}
			}
			if ln, err := tc.n.Listen("", "svc"); err != nil { // nothing was bound
				t.Errorf("svc after the failure: %v", err)
			} else {
				ln.Close()
			}
		})
	}
}
