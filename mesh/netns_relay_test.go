package mesh

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The relay-killed test (issue 18, resumable circuits), on the diamond
// (see netnsDiamond): A and C linked through B and through D, all four with
// WithResume(true), on a secured mesh. B and D serve links at :7000. B, C
// and A start; C joins B and serves a sink; A joins B and dials the sink:
// a circuit A–B–C, the only path then. A leaves the file "circuit"; the
// test starts D, and A and C join it. Once C has its link to D ("c-d"),
// A sends relayBulk bytes on the circuit's connection, pausing at half
// ("half", "go"): the test kills B's process (SIGKILL) in between. The
// transfer completes over D, on the same connection, its SHA-256 intact;
// A's circuit to C then goes through D, and D has relayed it.
const relayBulk = 200 << 20

// TestNetnsRelayKilled: a transfer on a circuit A–B–C survives the death
// of the relay B (SIGKILL), moving onto A–D–C.
func TestNetnsRelayKilled(t *testing.T) {
	t.Skip("skipped: resumable circuits (issue 18, part 1: WithResume(true) making a circuit survive the loss of a relay) are not in this build yet; the test is ready for them: remove this skip once they are")
	l := netnsDiamond(t, "k")
	start := time.Now()
	const kase = "relay"
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	l.shareCA(t, kase)
	dir := filepath.Join(l.dir, kase)
	b := l.start(t, ctx, "b", "TestNetnsRelayHost", "b", kase)
	c := l.start(t, ctx, "c", "TestNetnsRelayHost", "c", kase)
	a := l.start(t, ctx, "a", "TestNetnsRelayHost", "a", kase)
	hostFiles(t, dir, "A's circuit to C through B", []*netnsHost{a, b, c}, "circuit")
	d := l.start(t, ctx, "d", "TestNetnsRelayHost", "d", kase)
	hostFiles(t, dir, "A to send half of the transfer", []*netnsHost{a, b, c, d}, "half")
	b.signal(t, syscall.SIGKILL)
	b.wait() // killed: what it says does not count
	natSignal(t, dir, "go", "")
	errA := a.wait()
	c.stdin.Close() // C and D stop together
	d.stdin.Close()
	errC, errD := c.stop(), d.stop()
	for _, h := range []*netnsHost{a, c, d} {
		for _, line := range h.lines() {
			t.Logf("%s %s", strings.ToUpper(h.role), line)
		}
	}
	if errA != nil || errC != nil || errD != nil {
		t.Fatalf("hosts A, C, D: %v, %v, %v\nA:\n%s\nB (killed):\n%s\nC:\n%s\nD:\n%s", errA, errC, errD, a.out, b.out, c.out, d.out)
	}
	t.Logf("the test took %v", time.Since(start).Round(time.Millisecond))
}

// TestNetnsRelayHost is one host of TestNetnsRelayKilled; it runs only in
// a re-executed test binary.
func TestNetnsRelayHost(t *testing.T) {
	role, dir := os.Getenv(netnsRole), os.Getenv(netnsDir)
	if role == "" {
		t.Skip("a host of TestNetnsRelayKilled, run by it")
	}
	rl := &resumeLog{}
	n := newNode(t, WithName("netns"), WithResume(true), netnsTLS(t, dir), WithLogger(slog.New(rl)))
	switch role {
	case "b", "d":
		stop := stopSignal()
		if err := n.ListenAndServe("tcp", ":7000"); err != nil {
			t.Fatal(err)
		}
		natSignal(t, dir, role, FormatID(n.ID()))
		waitStop(t, stop)
		st := n.Stats()
		fmt.Printf("netns: %s: circuits relayed %d in all, %d now\n", strings.ToUpper(role), st.CircuitsRelayedTotal, st.CircuitsRelayed)
		if role == "d" && st.CircuitsRelayedTotal < 1 {
			t.Error("D relayed no circuit: the transfer did not move onto A–D–C")
		}
	case "c":
		relayC(t, n, dir)
	case "a":
		relayA(t, n, dir)
	}
}

// relayC plays C: it joins B and serves the sink; once A has its circuit,
// it joins D too; told to stop, it checks that the sink served the one
// connection, intact.
func relayC(t *testing.T, n *Node, dir string) {
	stop := stopSignal()
	if err := n.Join("tcp", diamondCtoB); err != nil {
		t.Fatal(err)
	}
	ln, err := n.Listen("", "sink")
	if err != nil {
		t.Fatal(err)
	}
	ends := make(chan error, 4)
	serveEach(t, ln, func(c net.Conn) { ends <- sinkConn(c) })
	natSignalWait(t, dir, "circuit", "A's circuit through B")
	if err := n.Join("tcp", diamondCtoD); err != nil {
		t.Fatal(err)
	}
	dID := natID(t, dir, "d")
	eventually(t, "C's link to D", func() bool { _, ok := linkTo(n, dID); return ok })
	natSignal(t, dir, "c-d", "")
	waitStop(t, stop)
	select {
	case err := <-ends:
		fmt.Printf("netns: C: the sink's connection ended: %v\n", err)
		if err != nil {
			t.Errorf("the sink's connection ended with %v", err)
		}
	case <-time.After(patience):
		t.Fatal("the sink's connection never ended")
	}
	select {
	case err := <-ends:
		t.Errorf("the sink served a second connection (ended: %v)", err)
	default:
	}
}

// relayA plays A: it joins B, dials C's sink (a circuit through B), then
// joins D, and sends relayBulk bytes, pausing at half for the test to
// kill B.
func relayA(t *testing.T, n *Node, dir string) {
	bID := natID(t, dir, "b")
	if err := n.Join("tcp", diamondAtoB); err != nil {
		t.Fatal(err)
	}
	var cID uint64
	eventually(t, "C's sink to be seen two hops away", func() bool {
		s := n.Services()
		if len(s) == 1 && s[0].Name == "sink" && s[0].Hops == 2 {
			cID = s[0].Host
			return true
		}
		return false
	})
	conn, err := n.Dial("", "sink")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// via reports whether A's circuit to C goes through relay.
	via := func(relay uint64) bool {
		for _, ci := range n.Circuits() {
			if ci.Dest == cID && ci.Next == relay {
				return true
			}
		}
		return false
	}
	if !via(bID) {
		t.Fatalf("A's circuit to C does not go through B: %+v", n.Circuits())
	}
	natSignal(t, dir, "circuit", "")
	if err := n.Join("tcp", diamondAtoD); err != nil {
		t.Fatal(err)
	}
	dID := natID(t, dir, "d")
	eventually(t, "A's link to D", func() bool { _, ok := linkTo(n, dID); return ok })
	natSignalWait(t, dir, "c-d", "C's link to D")
	start := time.Now()
	err = sendPausing(conn, dir, relayBulk, 3)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		t.Fatalf("the transfer, after %v: %v", took, err)
	}
	st := n.Stats()
	fmt.Printf("netns: A: %d MiB to C in %v on one connection, B killed at half, SHA-256 ok; circuits opened %d; circuits now %+v\n",
		relayBulk>>20, took, st.CircuitsOpened, n.Circuits())
	if !via(dID) {
		t.Errorf("A's circuit to C does not go through D after B's death: %+v", n.Circuits())
	}
}
