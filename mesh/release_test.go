package mesh

import (
	"io"
	"net"
	"testing"
	"time"
	"weak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// TestCloseReleasesNodes: once Close returns, nothing keeps a node's state
// alive: three nodes in a chain, a circuit across them and a connection
// with its deadlines armed for an hour are closed, and with many live
// timers on the one P (so that stopped timers stay below a quarter of its
// heap) and no wait by a timer of the test's own, the nodes must be
// collected by the first collections. A stopped timer whose callback
// held a node would keep it until its original time only if the runtime
// did not clean its timer heap meanwhile, which it does as soon as a
// re-armed timer comes due on that P; the winding down of these nodes
// re-arms such timers, so this test alone does not catch that case
// (mux's TestCloseReleasesDespiteZombies does, for a session, and the
// mesh soak does, for nodes; see internal/timerref).
func TestCloseReleasesNodes(t *testing.T) {
	testutil.LiveTimersOnOneP(t, 4000)
	cores := closedChain(t)
	collected := func() bool {
		for _, c := range cores {
			if c.Value() != nil {
				return false
			}
		}
		return true
	}
	if !testutil.Collected(collected) {
		t.Fatal("the closed nodes are not collected: a stopped timer still holds one")
	}
}

// closedChain runs three nodes in a chain, a connection over a circuit
// from the first to the last, closes them and waits for every goroutine
// that used them. It returns weak pointers to their cores.
func closedChain(t *testing.T) []weak.Pointer[core] {
	ns := make([]*Node, 3)
	for i := range ns {
		n, err := New(fast, WithInsecure())
		if err != nil {
			t.Fatal(err)
		}
		ns[i] = n
	}
	var ends []chan error
	for i := 0; i+1 < len(ns); i++ {
		x, y := net.Pipe()
		ea, eb := make(chan error, 1), make(chan error, 1)
		go func(a *Node) { ea <- a.Attach(x) }(ns[i])
		go func(b *Node) { eb <- b.Attach(y) }(ns[i+1])
		ends = append(ends, ea, eb)
	}
	waitRoute(t, ns[0], ns[2].ID(), 2)
	ln, err := ns[2].Listen("", ":7")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	c, err := ns[0].Dial("", FormatID(ns[2].ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "across a relay")
	c.SetDeadline(time.Now().Add(time.Hour))
	if circuitOf(ns[0], ns[2].ID()) == nil {
		t.Fatal("no circuit")
	}
	cores := make([]weak.Pointer[core], len(ns))
	for i, n := range ns {
		cores[i] = weak.Make(n.c)
		n.Close()
	}
	c.Close()
	<-served
	for _, e := range ends {
		<-e
	}
	return cores
}
