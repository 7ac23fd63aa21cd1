package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// TestOneCircuitPerHostPair: the second and later dials to a far host (in
// either direction) open streams on the existing circuit: the relay sees
// no new circuit.
func TestOneCircuitPerHostPair(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	a, relay, c := ns[0], ns[1], ns[2]
	lc, _ := c.Listen("", ":1")
	echo(t, lc)
	la, _ := a.Listen("", ":1")
	echo(t, la)
	var conns []net.Conn
	for i := range 10 {
		conn, err := a.Dial("", FormatID(c.ID())+":1")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		roundTrip(t, conn, fmt.Sprint("stream ", i))
		if n := relay.c.relays.relayed(); n != 1 {
			t.Fatalf("after %d dials the relay holds %d circuits", i+1, n)
		}
	}
	back, err := c.Dial("", FormatID(a.ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, back, "the other way")
	if n := relay.c.relays.relayed(); n != 1 {
		t.Fatalf("a dial the other way made the relay hold %d circuits", n)
	}
	back.Close()
	for _, conn := range conns {
		conn.Close()
	}
}

// TestConcurrentDialsShareOneSetup: many dials at once to a far host wait
// for one circuit setup.
func TestConcurrentDialsShareOneSetup(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	ln, _ := ns[2].Listen("", ":1")
	echo(t, ln)
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			c, err := ns[0].Dial("", FormatID(ns[2].ID())+":1")
			if err == nil {
				c.Close()
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := ns[1].c.relays.relayed(); n != 1 {
		t.Fatalf("20 concurrent dials made %d circuits", n)
	}
}

func TestNoRelayNodeIsNotPassedThrough(t *testing.T) {
	a, b, c := newNode(t), newNode(t, WithRelay(false)), newNode(t)
	attach(t, a, b)
	attach(t, b, c)
	waitRoute(t, a, b.ID(), 1)
	waitRoute(t, c, b.ID(), 1)
	// b's record (relay: false) reaches a; a does not route through it.
	eventually(t, "b's record at a", func() bool {
		a.c.rt.mu.Lock()
		defer a.c.rt.mu.Unlock()
		_, ok := a.c.rt.r.HeldSeq(b.ID())
		_, okc := a.c.rt.r.HeldSeq(c.ID())
		return ok && okc
	})
	if h := hopsTo(a, c.ID()); h != -1 {
		t.Fatalf("a routes to c through a node that does not relay (%d hops)", h)
	}
	if _, err := a.Dial("", FormatID(c.ID())+":1"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("dial: %v, want ErrNoRoute", err)
	}
	// A setup that asks b to relay anyway is refused by b.
	err := setupVia(t, a, []uint64{a.ID(), b.ID(), c.ID()})
	if !errors.Is(err, ErrNotRelay) {
		t.Fatalf("setup through a node that does not relay: %v", err)
	}
	t.Log(err)
}

// setupVia sends a hand-made circuit setup from n along path.
func setupVia(t *testing.T, n *Node, path []uint64) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ci, err := n.c.openCircuit(ctx, path)
	if err == nil {
		ci.sess.Close()
		n.c.untrack(ci.h)
	}
	return err
}

func TestSetupRulesRefused(t *testing.T) {
	ns := nodes(t, 3, WithLimits(Limits{MaxHops: 4}))
	chain(t, ns)
	a, b, c := ns[0].ID(), ns[1].ID(), ns[2].ID()
	cases := []struct {
		name string
		path []uint64
		want error
	}{
		{"loop", []uint64{a, b, a, c}, ErrLoop},
		{"loop further on", []uint64{a, b, c, 99, c}, ErrLoop},
		{"hop limit", []uint64{a, b, 10, 11, 12, c}, ErrHopLimit},
		{"a source that is not the previous hop", []uint64{77, b, c}, ErrIDMismatch},
		{"a next hop that is not a neighbour", []uint64{a, b, 55}, ErrNoRoute},
		{"zero id", []uint64{a, b, 0, c}, ErrProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if tc.path[0] != a {
				// Send from a anyway: b sees a setup whose hop 0 is not a.
				err := setupVia(t, ns[0], tc.path)
				if !errors.Is(err, tc.want) {
					t.Fatalf("%v, want %v", err, tc.want)
				}
				return
			}
			err := setupVia(t, ns[0], tc.path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > quick {
				t.Fatalf("refusal took %v", d)
			}
			t.Log(err)
		})
	}
	if n := ns[1].c.relays.relayed(); n != 0 {
		t.Fatalf("refused setups left %d relayed circuits", n)
	}
}

func TestFailFastThroughRelays(t *testing.T) {
	ns := nodes(t, 4)
	chain(t, ns)
	far := ns[3]
	ln, _ := far.Listen("", "present")
	defer ln.Close()
	eventually(t, "the service to be seen", func() bool { return len(ns[0].Services()) == 1 })
	cases := []struct {
		addr string
		want error
	}{
		{FormatID(far.ID()) + ":4242", ErrConnRefused},
		{"absent", ErrNoService},
		{"present:1", ErrNoService},
		{"fedcba9876543210:1", ErrNoRoute},
	}
	for _, tc := range cases {
		start := time.Now()
		_, err := ns[0].Dial("", tc.addr)
		if !errors.Is(err, tc.want) {
			t.Fatalf("Dial %s: %v, want %v", tc.addr, err, tc.want)
		}
		if d := time.Since(start); d > quick {
			t.Fatalf("Dial %s took %v", tc.addr, d)
		}
	}
}

func TestWriteDeadlineThroughRelay(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	ln, _ := ns[2].Listen("", ":5")
	defer ln.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			<-stop // never reads
		}
	}()
	c, err := ns[0].Dial("", FormatID(ns[2].ID())+":5")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeUntilDeadline(t, c)
}

// TestSlowReaderSlowsOnlyItsOwnStream: behind one relay, a stream whose
// reader stalls does not hold up another stream, nor another circuit.
func TestSlowReaderSlowsOnlyItsOwnStream(t *testing.T) {
	a, relay, c, d := newNode(t), newNode(t), newNode(t), newNode(t)
	attach(t, a, relay)
	attach(t, relay, c)
	attach(t, relay, d)
	waitRoute(t, a, c.ID(), 2)
	waitRoute(t, a, d.ID(), 2)
	stall, _ := c.Listen("", ":1")
	defer stall.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		conn, err := stall.Accept()
		if err == nil {
			defer conn.Close()
			<-stop
		}
	}()
	s, err := a.Dial("", FormatID(c.ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeUntilDeadline(t, s) // the stalled stream is full
	const size = 8 << 20
	for _, host := range []*Node{c, d} {
		sink, _ := host.Listen("", ":2")
		got := make(chan int64, 1)
		go func() {
			conn, err := sink.Accept()
			if err != nil {
				got <- -1
				return
			}
			n, _ := io.Copy(io.Discard, conn)
			conn.Close()
			got <- n
		}()
		conn, err := a.Dial("", FormatID(host.ID())+":2")
		if err != nil {
			t.Fatal(err)
		}
		conn.SetWriteDeadline(time.Now().Add(patience))
		if _, err := conn.Write(make([]byte, size)); err != nil {
			t.Fatalf("a stream beside a stalled one: %v", err)
		}
		conn.Close()
		if n := <-got; n != size {
			t.Fatalf("received %d of %d bytes", n, size)
		}
		sink.Close()
	}
}

// TestIdleCircuitClosed: a circuit without streams is closed by its source
// after the idle time, so the relay forgets it; the next dial builds a new
// one.
func TestIdleCircuitClosed(t *testing.T) {
	ns := nodes(t, 3, withCircuitIdle(200*time.Millisecond))
	chain(t, ns)
	ln, _ := ns[2].Listen("", ":1")
	echo(t, ln)
	c, err := ns[0].Dial("", FormatID(ns[2].ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "busy")
	// Checked every idle/2, the circuit would be closed by the fourth check
	// were the open stream not counted.
	ci := circuitOf(ns[0], ns[2].ID())
	eventually(t, "four idleness checks", func() bool { return ci.checks.Load() >= 4 })
	if n := ns[1].c.relays.relayed(); n != 1 {
		t.Fatalf("a circuit with an open stream was closed (%d relayed)", n)
	}
	c.Close()
	eventually(t, "the idle circuit to close", func() bool { return ns[1].c.relays.relayed() == 0 })
	c, err = ns[0].Dial("", FormatID(ns[2].ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "again")
	c.Close()
}

func TestHostBeyondTheHopLimit(t *testing.T) {
	ns := nodes(t, 4, WithLimits(Limits{MaxHops: 2}))
	chain(t, ns)
	if _, err := ns[0].Dial("", FormatID(ns[3].ID())+":1"); !errors.Is(err, ErrHopLimit) {
		t.Fatalf("a host 3 hops away with a hop limit of 2: %v", err)
	}
}

// TestCircuitInSteadyUseStaysUp: a circuit that carries one short stream
// after another is not idle, even if no stream happens to be open when its
// idleness is checked. (The check sampled the open streams only, and such
// a circuit was closed and set up again and again.)
func TestCircuitInSteadyUseStaysUp(t *testing.T) {
	ns := nodes(t, 3, withCircuitIdle(200*time.Millisecond))
	chain(t, ns)
	ln, _ := ns[2].Listen("", ":1")
	echo(t, ln)
	var first *circuit
	// One short stream between two checks, each check after the stream's
	// Close: ten checks (five times the idle time) see no stream open, but
	// one opened since the last.
	for range 10 {
		c, err := ns[0].Dial("", FormatID(ns[2].ID())+":1")
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c, "x")
		c.Close()
		ci := circuitOf(ns[0], ns[2].ID())
		if first == nil {
			first = ci
		} else if ci != first {
			t.Fatal("the circuit in use was closed as idle")
		}
		n := ci.checks.Load()
		eventually(t, "the next idleness check", func() bool { return ci.checks.Load() > n })
	}
	if ci := circuitOf(ns[0], ns[2].ID()); ci != first {
		t.Fatal("the circuit in use was closed as idle")
	}
}

// TestSetupCarriesClientHello: on a secured mesh the source sends its TLS
// ClientHello right behind the circuit setup, before any answer: the
// relay, which here answers nothing, finds a TLS handshake record on the
// stream after the setup. It then refuses the setup, and the dial fails
// with that refusal.
func TestSetupCarriesClientHello(t *testing.T) {
	ns := secureNodes(t, newCA(t), 3)
	first := make(chan []byte, 1)
	ns[1].c.hooks.hostileRelay = func(st *mux.Stream, s wire.SetupHeader) bool {
		b := make([]byte, 5) // a TLS record header
		st.SetReadDeadline(time.Now().Add(patience))
		n, _ := io.ReadFull(st, b)
		select {
		case first <- b[:n]:
		default:
		}
		st.Reset(resetCode(codeOf(ErrNotRelay), s.Hop))
		return true
	}
	chain(t, ns)
	_, err := ns[0].Dial("", FormatID(ns[2].ID())+":1")
	if !errors.Is(err, ErrNotRelay) {
		t.Fatalf("dial: %v, want ErrNotRelay", err)
	}
	b := <-first
	if len(b) != 5 || b[0] != 0x16 { // handshake
		t.Fatalf("after the setup the relay read %x, want a TLS handshake record", b)
	}
}

// TestFirstDialOverlapsTheVerdict: on a secured mesh the first dial on a
// new circuit sends its connection without waiting for the destination's
// verdict on the circuit: the connection goes out with the source's last
// TLS handshake flight. Here the destination holds its verdict until the
// source's inner session has opened the dial's stream and written it.
func TestFirstDialOverlapsTheVerdict(t *testing.T) {
	ns := secureNodes(t, newCA(t), 3)
	src, dst := ns[0], ns[2]
	held := make(chan bool, 1)
	dst.c.hooks.beforeVerdict = func() {
		held <- testutil.Until(func() bool {
			ci := circuitOf(src, dst.ID())
			if ci == nil {
				return false
			}
			st := ci.sess.Stats()
			return st.StreamsOpened == 1 && st.BytesOut > 0
		})
	}
	chain(t, ns)
	ln, _ := dst.Listen("", ":1")
	echo(t, ln)
	c, err := src.Dial("", FormatID(dst.ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	if !<-held {
		t.Fatal("the source waited for the verdict before its first connection went out")
	}
	roundTrip(t, c, "hello")
	c.Close()
}
