package mesh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestChainOfFiveEndToEnd(t *testing.T) {
	ns := nodes(t, 5)
	chain(t, ns)
	for i, n := range ns {
		for j, m := range ns {
			if i != j {
				waitRoute(t, n, m.ID(), max(i-j, j-i))
			}
		}
	}
	ln, err := ns[4].Listen("", ":7")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	c, err := ns[0].Dial("", FormatID(ns[4].ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, "across three relays")
	// Routes: the far end is 4 hops away, through ns[1].
	for _, r := range ns[0].Routes() {
		if r.Host == ns[4].ID() && (r.Hops != 4 || r.NextHop != ns[1].ID()) {
			t.Fatalf("route %+v", r)
		}
	}
	// And back: ns[4] dials ns[0] over the same circuit.
	ln0, _ := ns[0].Listen("", ":8")
	echo(t, ln0)
	c2, err := ns[4].Dial("", FormatID(ns[0].ID())+":8")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	roundTrip(t, c2, "and back")
}

// TestRingReroutesAfterCut: in a ring of five, cutting a link on the
// short way makes new dials take the long way within 3 s.
func TestRingReroutesAfterCut(t *testing.T) {
	ns := nodes(t, 5)
	var links []*pipeLink
	for i := range ns {
		links = append(links, attach(t, ns[i], ns[(i+1)%len(ns)]))
	}
	src, dst := ns[0], ns[2]
	waitRoute(t, src, dst.ID(), 2)
	ln, _ := dst.Listen("", ":7")
	echo(t, ln)
	c, err := src.Dial("", FormatID(dst.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "the short way")
	start := time.Now()
	links[1].cut() // ns[1] - ns[2]
	// The circuit on the broken path dies: its reset passes through.
	c.SetReadDeadline(time.Now().Add(patience))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a circuit over a cut link still reads")
	}
	c.Close()
	var c2 net.Conn
	waitFor(t, "a new path", func() (err error) {
		c2, err = src.Dial("", FormatID(dst.ID())+":7")
		return err
	})
	roundTrip(t, c2, "the long way")
	c2.Close()
	d := time.Since(start)
	t.Logf("rerouted in %v", d)
	if d > 3*time.Second {
		t.Fatalf("rerouting took %v, more than 3s", d)
	}
	// The dial may come through before the routes follow the cut: the
	// setup along the broken path fails and the next attempt takes
	// another.
	waitRoute(t, src, dst.ID(), 3)
}

// TestRestartedNodeReplacesItsRecord: a node that restarts with the same
// id (a new run) outranks its old record everywhere.
func TestRestartedNodeReplacesItsRecord(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	x1 := newNode(t, WithID(0x1234))
	attach(t, b, x1)
	l1, _ := x1.Listen("", "old-service")
	defer l1.Close()
	eventually(t, "a to see old-service", func() bool { return len(a.Services()) == 1 })
	x1.Close()
	waitRoute(t, a, 0x1234, -1)
	x2 := newNode(t, WithID(0x1234))
	l2, _ := x2.Listen("", "new-service")
	defer l2.Close()
	attach(t, b, x2)
	eventually(t, "a to see only new-service", func() bool {
		s := a.Services()
		return len(s) == 1 && s[0].Name == "new-service"
	})
}

func TestRoutesAfterNodeLeaves(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	ns[2].Close()
	waitRoute(t, ns[0], ns[2].ID(), -1)
	_, err := ns[0].Dial("", FormatID(ns[2].ID())+":1")
	if !errors.Is(err, ErrNoRoute) {
		t.Fatalf("dial a node that left: %v", err)
	}
}

// TestRingReroutesAfterSilentCut: the cut link goes silent instead of
// closing; keep-alive finds it dead and dials take the other way within
// the keep-alive timeout and a little more.
func TestRingReroutesAfterSilentCut(t *testing.T) {
	const every, timeout = 200 * time.Millisecond, time.Second
	ns := nodes(t, 5, WithKeepAlive(every, timeout))
	var swallow atomic.Bool
	for i := range ns {
		if i == 1 {
			attachOver(t, ns[1], ns[2], func() (io.ReadWriteCloser, io.ReadWriteCloser) { return swallowPipe(&swallow) })
			continue
		}
		attach(t, ns[i], ns[(i+1)%len(ns)])
	}
	src, dst := ns[0], ns[2]
	waitRoute(t, src, dst.ID(), 2)
	ln, _ := dst.Listen("", ":7")
	echo(t, ln)
	start := time.Now()
	swallow.Store(true)
	var c net.Conn
	waitFor(t, "a new path", func() (err error) {
		if h := hopsTo(src, dst.ID()); h != 3 {
			return fmt.Errorf("%d hops", h)
		}
		c, err = src.Dial("", FormatID(dst.ID())+":7")
		return err
	})
	roundTrip(t, c, "the long way")
	c.Close()
	d := time.Since(start)
	t.Logf("rerouted %v after the link went silent (keep-alive timeout %v)", d, timeout)
	if d > timeout+2*time.Second {
		t.Fatalf("rerouting took %v", d)
	}
}
