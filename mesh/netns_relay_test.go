package mesh

import (
	"context"
	"fmt"
	"io"
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
// transfer completes over D, on the same connection, its SHA-256 intact:
// the same circuit (A opened one, C accepted one), broken and resumed,
// its path now A–D–C, relayed by D; C's sink served the one connection,
// which ended cleanly.
const relayBulk = 200 << 20

// TestNetnsRelayKilled: a transfer on a circuit A–B–C survives the death
// of the relay B, moving onto A–D–C: B's process killed (SIGKILL), B's
// veths taken down (its host gone silent: found by the links' keep-alive),
// and, where tc's netem can be had, B's veths made to lose 5 % of their
// packets (the transfer completes, through B or through D).
func TestNetnsRelayKilled(t *testing.T) {
	for _, how := range []string{"kill", "vethdown", "netem"} {
		t.Run(how, func(t *testing.T) {
			l := netnsDiamond(t, "k")
			start := time.Now()
			kase := "relay-" + how
			var tc string
			if how == "netem" {
				var err error
				if tc, err = lookTool("tc"); err != nil {
					t.Skip("skipped: the netem case needs tc (Debian's iproute2)")
				}
				if err := l.in("b", tc, "qdisc", "add", "dev", l.prefix+"ba", "root", "netem", "loss", "0%"); err != nil {
					t.Skipf("skipped: this kernel has no netem queueing discipline (sch_netem): %v", err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4*patience) // 200 MiB under the race detector
			defer cancel()
			l.shareCA(t, kase)
			dir := filepath.Join(l.dir, kase)
			b := l.start(t, ctx, "b", "TestNetnsRelayHost", "b", kase)
			c := l.start(t, ctx, "c", "TestNetnsRelayHost", "c", kase)
			a := l.start(t, ctx, "a", "TestNetnsRelayHost", "a", kase)
			hostFiles(t, dir, "A's circuit to C through B", []*netnsHost{a, b, c}, "circuit")
			d := l.start(t, ctx, "d", "TestNetnsRelayHost", "d", kase)
			hostFiles(t, dir, "A and C to link to D", []*netnsHost{a, b, c, d}, "ready")
			hostFiles(t, dir, "A to send half of the transfer", []*netnsHost{a, b, c, d}, "half")
			hosts := []*netnsHost{a, c, d}
			switch how {
			case "kill":
				b.signal(t, syscall.SIGKILL)
				b.wait() // killed: what it says does not count
			case "vethdown":
				for _, dev := range []string{l.prefix + "ba", l.prefix + "bc"} {
					l.must("take B's veths down", "-n", l.ns["b"], "link", "set", dev, "down")
				}
				hosts = append(hosts, b)
			case "netem":
				for _, dev := range []string{l.prefix + "ba", l.prefix + "bc"} {
					if err := l.in("b", tc, "qdisc", "replace", "dev", dev, "root", "netem", "loss", "5%"); err != nil {
						t.Fatal(err)
					}
				}
				hosts = append(hosts, b)
			}
			natSignal(t, dir, "go", "")
			errA := a.wait()
			for _, h := range hosts[1:] { // C, D (and B) stop together
				h.stdin.Close()
			}
			errs := []error{errA}
			for _, h := range hosts[1:] {
				errs = append(errs, h.stop())
			}
			for _, h := range hosts {
				for _, line := range h.lines() {
					t.Logf("%s %s", strings.ToUpper(h.role), line)
				}
			}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("host %s: %v\nA:\n%s\nB:\n%s\nC:\n%s\nD:\n%s", strings.ToUpper(hosts[i].role), err, a.out, b.out, c.out, d.out)
				}
			}
			t.Logf("the case took %v", time.Since(start).Round(time.Millisecond))
		})
	}
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
		if role == "d" && st.CircuitsRelayedTotal < 1 && !relayLossy() {
			t.Error("D relayed no circuit: the transfer did not move onto A–D–C")
		}
	case "c":
		relayC(t, n, dir)
	case "a":
		relayA(t, n, dir)
	}
}

// relayLossy reports whether the case only makes B lose packets: the
// circuit may stay on B.
func relayLossy() bool { return os.Getenv(netnsCase) == "relay-netem" }

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
	var gaps *gapReader // the sink's connection's; read once it has ended
	countedSink(t, ln, dir, ends, func(c net.Conn) io.ReadWriter {
		gaps = &gapReader{Conn: c}
		return gaps
	})
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
		fmt.Printf("netns: C: the sink's connection ended: %v; the longest wait for its bytes (B's death, and A's pause for it) %v\n",
			err, gaps.longest.Round(time.Millisecond))
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
	st := n.Stats()
	fmt.Printf("netns: C: circuits accepted %d, breaks %d, resumes %d\n", st.CircuitsAccepted, st.CircuitBreaks, st.CircuitResumes)
	if st.CircuitsAccepted != 1 || st.CircuitResumes < 1 && !relayLossy() {
		t.Errorf("C: %d circuits accepted, %d resumed; want the one circuit, resumed", st.CircuitsAccepted, st.CircuitResumes)
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
	cID := sinkTwoHops(t, n)
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
	natSignal(t, dir, "ready", "")
	start := time.Now()
	err = sendPausing(conn, dir, relayBulk, 3)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		t.Fatalf("the transfer, after %v: %v", took, err)
	}
	conn.Close()
	if err := awaitFile(dir, "sink-end-1"); err != nil { // A stays up until C has the end
		t.Fatal(err)
	}
	st := n.Stats()
	fmt.Printf("netns: A: %d MiB to C in %v on one connection, B killed at half, SHA-256 ok; circuits opened %d, breaks %d, resumes %d\n",
		relayBulk>>20, took, st.CircuitsOpened, st.CircuitBreaks, st.CircuitResumes)
	var ci *CircuitInfo
	for _, x := range n.Circuits() {
		if x.Dest == cID {
			ci = &x
		}
	}
	if ci == nil {
		t.Fatalf("A has no circuit to C after the transfer: %+v", n.Circuits())
	}
	fmt.Printf("netns: A: the circuit to C: path %s, resumable %v, %d new paths taken\n", formatPath(ci.Path), ci.Resumable, ci.Resumes)
	if !ci.Resumable || !relayLossy() && (ci.Next != dID || ci.Resumes < 1) {
		t.Errorf("A's circuit to C after B's death: %+v; want it resumed through D", *ci)
	}
	if st.CircuitsOpened != 1 || !relayLossy() && (st.CircuitBreaks < 1 || st.CircuitResumes < 1) {
		t.Errorf("A: %d circuits opened, %d breaks, %d resumes; want the one circuit, broken and resumed", st.CircuitsOpened, st.CircuitBreaks, st.CircuitResumes)
	}
}

// formatPath formats the node ids of a circuit's path.
func formatPath(p []uint64) string {
	s := make([]string, len(p))
	for i, id := range p {
		s[i] = FormatID(id)
	}
	return strings.Join(s, "-")
}

// gapReader is a connection whose reads note the longest wait between
// the end of one read and the end of the next that returned bytes: the
// pause the application saw (measured, never asserted).
type gapReader struct {
	net.Conn
	last    time.Time
	longest time.Duration
}

func (g *gapReader) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 {
		now := time.Now()
		if !g.last.IsZero() {
			g.longest = max(g.longest, now.Sub(g.last))
		}
		g.last = now
	}
	return n, err
}
