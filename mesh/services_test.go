package mesh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serveID answers every connection with the id of the node that accepted
// it.
func serveID(t testing.TB, n *Node, ln net.Listener) {
	t.Helper()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(FormatID(n.ID())))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
}

// whoAnswers dials addr from n and returns the id the service sends.
func whoAnswers(t testing.TB, n *Node, addr string) string {
	t.Helper()
	c, err := n.Dial("", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(patience))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServicesListing(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	l0, _ := ns[0].Listen("", "zeta")
	defer l0.Close()
	l1, _ := ns[1].Listen("", "alpha:80")
	defer l1.Close()
	l2, _ := ns[2].Listen("", "alpha:81")
	defer l2.Close()
	want := []Service{
		{"alpha", ns[1].ID(), 80, 1},
		{"alpha", ns[2].ID(), 81, 2},
		{"zeta", ns[0].ID(), l0.Addr().(Addr).Port, 0},
	}
	eventually(t, "the services", func() bool { return slices.Equal(ns[0].Services(), want) })
}

func TestEnvsAreSeparateNamespaces(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	staging := b.WithEnv("staging")
	if staging.Env() != "staging" || staging.ID() != b.ID() {
		t.Fatal("a view is the same node in another env")
	}
	ls, err := staging.Listen("", "billing:80")
	if err != nil {
		t.Fatal(err)
	}
	serveID(t, b, ls)
	lp, err := b.Listen("", "billing:80") // the same name and port in the default env
	if err != nil {
		t.Fatal(err)
	}
	serveID(t, b, lp)
	aStaging := a.WithEnv("staging")
	eventually(t, "each env to see its own service", func() bool {
		return len(a.Services()) == 1 && len(aStaging.Services()) == 1
	})
	if s := a.WithEnv("prod").Services(); len(s) != 0 {
		t.Fatalf("env prod sees %v", s)
	}
	lp.Close()
	eventually(t, "the default env's billing to go", func() bool { return len(a.Services()) == 0 })
	if _, err := a.Dial("", "billing"); !errors.Is(err, ErrNoService) {
		t.Fatalf("the default env dials a staging service: %v", err)
	}
	if _, err := a.Dial("", FormatID(b.ID())+":80"); !errors.Is(err, ErrConnRefused) {
		t.Fatalf("the default env dials a staging port: %v", err)
	}
	if got := whoAnswers(t, aStaging, "billing"); got != FormatID(b.ID()) {
		t.Fatalf("staging dial answered by %s", got)
	}
	c, err := aStaging.Dial("", FormatID(b.ID())+":80")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if s := b.WithEnv("bad env!").Services(); s != nil {
		t.Fatal("an invalid env sees services")
	}
	if _, err := b.WithEnv("bad env!").Listen("", ":1"); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("Listen in an invalid env: %v", err)
	}
}

func TestBalancingNearestFirst(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	near, _ := ns[1].Listen("", "svc")
	serveID(t, ns[1], near)
	far, _ := ns[2].Listen("", "svc")
	serveID(t, ns[2], far)
	eventually(t, "both instances", func() bool { return len(ns[0].Services()) == 2 })
	for range 20 {
		if got := whoAnswers(t, ns[0], "svc"); got != FormatID(ns[1].ID()) {
			t.Fatalf("a dial reached %s, not the nearest instance", got)
		}
	}
}

func TestBalancingRandomAmongEquals(t *testing.T) {
	a, b, c := newNode(t), newNode(t), newNode(t)
	linked(t, a, b)
	linked(t, a, c)
	for _, n := range []*Node{b, c} {
		ln, _ := n.Listen("", "svc")
		serveID(t, n, ln)
	}
	eventually(t, "both instances", func() bool { return len(a.Services()) == 2 })
	seen := map[string]int{}
	for range 60 {
		seen[whoAnswers(t, a, "svc")]++
	}
	if len(seen) != 2 {
		t.Fatalf("60 dials reached only %v", seen)
	}
}

// TestDialTriesTheNextInstance: when the nearest instance has just gone
// (its record is not yet updated), the dial goes to the next one.
func TestDialTriesTheNextInstance(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	near, _ := ns[1].Listen("", "svc")
	far, _ := ns[2].Listen("", "svc")
	serveID(t, ns[2], far)
	eventually(t, "both instances", func() bool { return len(ns[0].Services()) == 2 })
	// Close near's listener without announcing it: take it out of the
	// port table by hand, as if the close raced with the dial.
	p := &ns[1].c.ports
	p.mu.Lock()
	delete(p.names, nameKey{"", "svc"})
	delete(p.ports, portKey{"", near.Addr().(Addr).Port})
	p.mu.Unlock()
	if got := whoAnswers(t, ns[0], "svc"); got != FormatID(ns[2].ID()) {
		t.Fatalf("answered by %s", got)
	}
	near.Close()
}

func TestServiceWithdrawnWhenListenerCloses(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	ln, _ := ns[2].Listen("", "billing")
	eventually(t, "billing to be seen", func() bool { return len(ns[0].Services()) == 1 })
	start := time.Now()
	ln.Close()
	eventually(t, "billing to be withdrawn", func() bool { return len(ns[0].Services()) == 0 })
	if d := time.Since(start); d > DefaultKeepAliveTimeout {
		t.Fatalf("withdrawn after %v", d)
	}
	if _, err := ns[0].Dial("", "billing"); !errors.Is(err, ErrNoService) {
		t.Fatalf("dial a withdrawn service: %v", err)
	}
}

// TestServiceWithdrawnWhenNodeDiesSilently: the node offering a service
// goes silent (no close, no error); its service disappears within the
// keep-alive timeout.
func TestServiceWithdrawnWhenNodeDiesSilently(t *testing.T) {
	const every, timeout = 200 * time.Millisecond, time.Second
	a := newNode(t, WithKeepAlive(every, timeout))
	b := newNode(t, WithKeepAlive(every, timeout))
	c := newNode(t, WithKeepAlive(every, timeout))
	linked(t, a, b)
	var swallow atomic.Bool
	attachOver(t, b, c, func() (io.ReadWriteCloser, io.ReadWriteCloser) { return swallowPipe(&swallow) })
	ln, _ := c.Listen("", "billing")
	defer ln.Close()
	eventually(t, "billing to be seen", func() bool { return len(a.Services()) == 1 })
	start := time.Now()
	swallow.Store(true)
	eventually(t, "billing to be withdrawn", func() bool { return len(a.Services()) == 0 })
	d := time.Since(start)
	t.Logf("withdrawn after %v", d)
	if d > timeout+2*time.Second {
		t.Fatalf("withdrawn after %v, keep-alive timeout %v", d, timeout)
	}
}

func TestTooManyServices(t *testing.T) {
	a := newNode(t, WithLimits(Limits{MaxServices: 2}))
	for _, name := range []string{"one", "two"} {
		ln, err := a.Listen("", name)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	}
	_, err := a.Listen("", "three")
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "MaxServices" || !errors.Is(err, ErrLimit) {
		t.Fatalf("a third service: %v", err)
	}
}

// TestServicesMustFitOurRecord: a service that would make our record
// larger than MaxRecordSize, which every peer would skip, is refused by
// Listen (it was announced, and the node's record was lost to the mesh).
func TestServicesMustFitOurRecord(t *testing.T) {
	a := newNode(t, WithLimits(Limits{MaxRecordSize: 1024}))
	long := strings.Repeat("s", 60)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		var ln net.Listener
		if ln, err = a.Listen("", fmt.Sprintf("%s%02d", long, i)); err == nil {
			defer ln.Close()
		}
	}
	wantLimit(t, err, "MaxRecordSize")
	a.c.rt.mu.Lock()
	size := len(a.c.rt.r.Held(a.ID()))
	a.c.rt.mu.Unlock()
	if size > 1024 {
		t.Fatalf("our record has %d bytes", size)
	}
}
