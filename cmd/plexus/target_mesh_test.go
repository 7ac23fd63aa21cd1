package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh"
)

// TestMeshAddr: plexus cat and sock dial a node by its name: NAME:PORT
// becomes the node's id:PORT; a service name, an id and a port alone stay
// as they are; a node's name without a port asks for one; a name of two
// nodes is ambiguous. The dial itself reaches the named node.
func TestMeshAddr(t *testing.T) {
	a := newTestNode(t, "alpha")
	b := newTestNode(t, "beta")
	c := newTestNode(t, "twin")
	d := newTestNode(t, "twin")
	for _, n := range []*mesh.Node{b, c, d} {
		attachPipe(t, a, n)
	}
	ln, err := b.Listen("", "printer:7")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	testutil.WaitFor(t, "a knows the names and the printer", func() error {
		names := 0
		for _, tn := range a.Topology().Nodes {
			if tn.Name != "" {
				names++
			}
		}
		if names != 4 || len(a.Services()) != 1 {
			return fmt.Errorf("%d names, %d services", names, len(a.Services()))
		}
		return nil
	})
	bid := mesh.FormatID(b.ID())
	for _, tc := range []struct {
		addr, want string
		err        error
		says       string
	}{
		{addr: "beta:7", want: bid + ":7"},
		{addr: bid + ":7", want: bid + ":7"},
		{addr: "printer", want: "printer"},
		{addr: "printer:7", want: "printer:7"},
		{addr: ":7", want: ":7"},
		{addr: "nobody:7", want: "nobody:7"}, // a service, maybe later
		{addr: "beta", err: mesh.ErrBadAddress, says: `"beta" is the node beta (` + bid[:8] + `), not a service: give a port, beta:PORT`},
		{addr: "twin:7", err: mesh.ErrAmbiguousName, says: "twin (" + mesh.FormatID(min(c.ID(), d.ID()))[:8] + ")"},
	} {
		got, err := meshAddr(a, tc.addr)
		if tc.err == nil {
			if err != nil || got != tc.want {
				t.Errorf("meshAddr(%q) = %q, %v; want %q", tc.addr, got, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("meshAddr(%q) = %q, %v; want %v saying %q", tc.addr, got, err, tc.err, tc.says)
		}
	}

	// plexus cat's dial of beta:7 reaches b.
	go func() {
		if conn, err := ln.Accept(); err == nil {
			io.WriteString(conn, "hello from beta")
			conn.Close()
		}
	}()
	conn, err := catDial(context.Background(), a, "beta:7", 10*time.Second, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, err := io.ReadAll(conn); err != nil || string(got) != "hello from beta" {
		t.Errorf("read %q, %v", got, err)
	}
}

// newTestNode is an insecure mesh node named name, closed at the end of
// the test.
func newTestNode(t *testing.T, name string) *mesh.Node {
	t.Helper()
	n, err := mesh.New(mesh.WithInsecure(), mesh.WithNodeName(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// attachPipe links a and b over an in-memory pipe until the test ends.
func attachPipe(t *testing.T, a, b *mesh.Node) {
	t.Helper()
	x, y := net.Pipe()
	done := make(chan struct{}, 2)
	go func() { a.Attach(x); done <- struct{}{} }()
	go func() { b.Attach(y); done <- struct{}{} }()
	t.Cleanup(func() {
		x.Close()
		y.Close()
		<-done
		<-done
	})
}

// TestStatusNames: the node's status API carries the names of the nodes
// it shows: itself, its links, routes, services and graph.
func TestStatusNames(t *testing.T) {
	a := newTestNode(t, "alpha")
	b := newTestNode(t, "beta")
	attachPipe(t, a, b)
	ln, err := b.Listen("", "printer")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &nodeProvider{node: a}
	var st *status.Status
	testutil.WaitFor(t, "a's status shows beta's service", func() (err error) {
		if st, err = p.Status(context.Background()); err != nil {
			return err
		}
		if len(st.Services) != 1 || len(st.Routes) != 1 || len(st.Graph.Nodes) != 2 || st.Graph.Nodes[0].Name == "" || st.Graph.Nodes[1].Name == "" {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	if st.Node.NodeName != "alpha" || st.Node.NameVerified {
		t.Errorf("node: %q verified %v", st.Node.NodeName, st.Node.NameVerified)
	}
	if len(st.Links) != 1 || st.Links[0].PeerName != "beta" {
		t.Errorf("links: %+v", st.Links)
	}
	if r := st.Routes[0]; r.HostName != "beta" || r.NextHopName != "beta" {
		t.Errorf("routes: %+v", r)
	}
	if s := st.Services[0]; s.HostName != "beta" {
		t.Errorf("services: %+v", s)
	}
}

// TestResolveShortID: the first 8 hex digits of an id, as the tables show
// them, are not a target (an id is 16), and the error says so; a name
// that nobody has gets no such hint.
func TestResolveShortID(t *testing.T) {
	a := newTestNode(t, "alpha")
	p := &nodeProvider{node: a}
	short := mesh.FormatID(a.ID())[:8]
	for _, tc := range []struct {
		target string
		hint   bool
	}{
		{short, true},
		{"0a1b", true},
		{"cafe", false},
		{"nobody", false},
	} {
		_, err := p.Resolve(tc.target)
		if !errors.Is(err, status.ErrNoSuchTarget) {
			t.Errorf("Resolve(%q): %v, want ErrNoSuchTarget", tc.target, err)
			continue
		}
		if got := strings.Contains(err.Error(), "a node id is 16 hex digits"); got != tc.hint {
			t.Errorf("Resolve(%q): %v: hint %v, want %v", tc.target, err, got, tc.hint)
		}
	}
}
