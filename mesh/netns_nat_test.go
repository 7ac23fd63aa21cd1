package mesh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/wire"
)

// The NAT test: a relayed pair goes direct across a NAT.
//
//	A 10.201.1.2/24 ── 10.201.1.1/24 R 10.201.0.1/30 ── 10.201.0.2/30 B
//	                                  R 10.201.0.5/30 ── 10.201.0.6/30 C
//	                                  B 10.201.0.9/30 ── 10.201.0.10/30 C
//
// A sits behind the router R, its default route: R forwards IP (the only
// host that does) and masquerades what comes from A's private network
// (iptables -t nat -A POSTROUTING -s 10.201.1.0/24 -j MASQUERADE), so A
// can dial out, and every connection of A's reaches the others from R's
// outside address; nobody outside has a route to A's network, so nobody
// can dial A. B is the relay: A and C join it. C accepts links at
// 10.201.0.6:7000.
//
// Cases (subtests):
//   - direct: C advertises 10.201.0.6:7000. A dials C's service by name:
//     a circuit through B (2 hops), the first transfer's SHA-256 checked;
//     A dials C's advertised address through the NAT, the two become
//     neighbours, B's relayed circuit is closed once idle (B relays 0),
//     and a second transfer, 32 MiB, goes over the direct link (1 hop),
//     its SHA-256 checked.
//   - nodialback: only A advertises, its private address, which C cannot
//     reach. A asks C through the circuit to dial back; C's dials fail at
//     once (no route), at most directPerAddr of them however often it is
//     asked, and the pair stays relayed, transfers still working.

const (
	natAddrA = "10.201.1.2:7000"      // A's listener: a private address behind R
	natAddrB = "10.201.0.2:7000"      // B, on R's side
	natAddrC = "10.201.0.6:7000"      // C, on R's side: what C advertises
	natCtoB  = "10.201.0.9:7000"      // B, on C's side
	natOutR  = "10.201.0.5"           // R's outside address towards C
	natFirst = 8 << 20                // the first transfer, through the relay
	natBulk  = 32 << 20               // the transfer over the direct link
	natIdle  = 300 * time.Millisecond // circuits idle this long are closed
)

func TestNetnsNATGoesDirect(t *testing.T) {
	l := newNetnsLab(t, "n", "a", "r", "b", "c")
	iptables, err := lookTool("iptables")
	if err != nil {
		t.Skip("skipped: the NAT test needs iptables (Debian's iptables package; make deps installs it)")
	}
	l.veth("a", "10.201.1.2/24", "r", "10.201.1.1/24")
	l.veth("r", "10.201.0.1/30", "b", "10.201.0.2/30")
	l.veth("r", "10.201.0.5/30", "c", "10.201.0.6/30")
	l.veth("b", "10.201.0.9/30", "c", "10.201.0.10/30")
	l.must("give A its default route", "-n", l.ns["a"], "route", "add", "default", "via", "10.201.1.1")
	for _, h := range []string{"a", "b", "c"} {
		l.forwarding(h, false)
	}
	l.forwarding("r", true)
	if err := l.in("r", iptables, "-t", "nat", "-A", "POSTROUTING", "-s", "10.201.1.0/24", "-j", "MASQUERADE"); err != nil {
		t.Skipf("skipped: cannot set up NAT with iptables: %v", err)
	}
	for _, kase := range []string{"direct", "nodialback", "resume"} {
		t.Run(kase, func(t *testing.T) {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
			defer cancel()
			b := l.start(t, ctx, "b", "TestNetnsNATHost", "b", kase)
			c := l.start(t, ctx, "c", "TestNetnsNATHost", "c", kase)
			a := l.start(t, ctx, "a", "TestNetnsNATHost", "a", kase)
			errA := a.stop() // A does not wait to be told
			b.stdin.Close()  // B and C stop together
			c.stdin.Close()
			errB, errC := b.stop(), c.stop()
			for _, h := range []*netnsHost{a, b, c} {
				for _, s := range h.lines() {
					t.Logf("%s %s", strings.ToUpper(h.role), s)
				}
			}
			if errA != nil || errB != nil || errC != nil {
				t.Fatalf("hosts A, B, C: %v, %v, %v\nA:\n%s\nB:\n%s\nC:\n%s", errA, errB, errC, a.out, b.out, c.out)
			}
			t.Logf("the case took %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestNetnsNATHost is one host of TestNetnsNATGoesDirect; it runs only in
// a re-executed test binary.
func TestNetnsNATHost(t *testing.T) {
	role, dir := os.Getenv(netnsRole), os.Getenv(netnsDir)
	if role == "" {
		t.Skip("a host of TestNetnsNATGoesDirect, run by it")
	}
	kase := os.Getenv(netnsCase)
	direct := kase != "nodialback"
	if kase == "resume" {
		natResume = true
	}
	switch role {
	case "b":
		natRelay(t, dir, direct)
	case "c":
		natC(t, dir, direct)
	case "a":
		natA(t, dir, direct)
	}
}

// natResume: the resume case, where every node has WithResume(true) and
// A's connection stays open across the upgrade, its circuit moved onto the
// direct link (set in the re-executed test binary only, one case each).
var natResume bool

// natOpts returns the options every host of the NAT test starts with.
func natOpts() []Option {
	return []Option{WithName("netns"), withCircuitIdle(natIdle), WithResume(natResume)}
}

// natRelay plays B: it relays, and says when it relays no circuit any
// more after it relayed one (the file released).
func natRelay(t *testing.T, dir string, direct bool) {
	n := newNode(t, natOpts()...)
	stop := stopSignal()
	if err := n.ListenAndServe("tcp", ":7000"); err != nil {
		t.Fatal(err)
	}
	released := false
	tick := time.NewTicker(10 * time.Millisecond) // polls B's relayed circuits
	defer tick.Stop()
	deadline := time.NewTimer(2 * patience)
	defer deadline.Stop()
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		case <-deadline.C:
			t.Error("never told to stop")
			done = true
		case <-tick.C:
			if st := n.Stats(); !released && st.CircuitsRelayedTotal >= 1 && st.CircuitsRelayed == 0 {
				released = true
				natSignal(t, dir, "released", "")
				fmt.Printf("netns: B relays 0 circuits now, %d relayed in all so far\n", st.CircuitsRelayedTotal)
			}
		}
	}
	st := n.Stats()
	fmt.Printf("netns: B at the end: circuits relayed %d in all, %d now; direct dials %d\n", st.CircuitsRelayedTotal, st.CircuitsRelayed, st.DirectDials)
	if st.DirectDials != 0 {
		t.Errorf("the relay dialed %d direct links for a pair it is not part of", st.DirectDials)
	}
	if direct && st.CircuitsRelayedTotal != 1 {
		t.Errorf("B relayed %d circuits, want 1 (the transfer after the upgrade is not relayed)", st.CircuitsRelayedTotal)
	}
}

// natC plays C: it joins B and serves a sink; it checks that it cannot
// reach A, and then, in the direct case, that A's direct link reaches it
// from R's outside address; in the nodialback case, that its dials back
// to A are bounded and fail.
func natC(t *testing.T, dir string, direct bool) {
	opts := natOpts()
	if direct {
		opts = append(opts, WithAdvertise(natAddrC))
	}
	n := newNode(t, opts...)
	stop := stopSignal()
	if err := n.ListenAndServe("tcp", ":7000"); err != nil {
		t.Fatal(err)
	}
	if err := n.Join("tcp", natCtoB); err != nil {
		t.Fatal(err)
	}
	ln, err := n.Listen("", "sink")
	if err != nil {
		t.Fatal(err)
	}
	sink(t, ln)
	aID := natID(t, dir, "a") // A listens once its id is there
	d := net.Dialer{Timeout: time.Second}
	if conn, err := d.Dial("tcp", natAddrA); err == nil {
		conn.Close()
		t.Fatal("C reaches A's listener over IP: the test network is wrong (A must be behind the NAT)")
	} else {
		fmt.Printf("netns: C cannot reach A at %s: %v\n", natAddrA, err)
	}
	if !direct {
		natNoDialBack(t, n, aID)
		natSignal(t, dir, "tried", "")
		waitStop(t, stop)
		return
	}
	// A's direct link: A's process may end before B and C are told to
	// stop, so its address is taken while it is up.
	var from net.Addr
	tick := time.NewTicker(10 * time.Millisecond) // polls C's links
	defer tick.Stop()
	deadline := time.NewTimer(2 * patience)
	defer deadline.Stop()
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		case <-deadline.C:
			t.Error("never told to stop")
			done = true
		case <-tick.C:
			if l, ok := linkTo(n, aID); ok && from == nil && l.Direct {
				from = l.RemoteAddr
				if l.Dialer {
					t.Error("C dialed the direct link to A")
				}
			}
		}
	}
	if from == nil {
		t.Fatal("no direct link from A")
	}
	host, _, _ := net.SplitHostPort(from.String())
	fmt.Printf("netns: C's direct link from A comes from %v (the NAT's outside address is %s)\n", from, natOutR)
	if host != natOutR {
		t.Errorf("A's direct link comes from %v, not through the NAT (%s)", from, natOutR)
	}
	if st := n.Stats(); st.DirectDials != 0 {
		t.Errorf("C dialed %d direct links (A advertises nothing)", st.DirectDials)
	}
}

// natNoDialBack: C was asked by A to dial back, to A's private address.
// Its dial fails; asked again and again (its backoff cut short each time,
// as if it had run out), it dials at most directPerAddr times.
func natNoDialBack(t *testing.T, n *Node, aID uint64) {
	dialing := func() bool {
		n.c.direct.mu.Lock()
		defer n.c.direct.mu.Unlock()
		h := n.c.direct.hosts[aID]
		return h != nil && h.dialing
	}
	eventually(t, "A's dial-back request, and C's dial to fail", func() bool {
		st := n.Stats()
		return st.DialBacks >= 1 && st.DirectDials >= 1 && !dialing()
	})
	for i := 0; i < 2*directPerAddr; i++ {
		n.c.direct.mu.Lock()
		if h := n.c.direct.hosts[aID]; h != nil {
			h.notBefore = time.Time{}
		}
		n.c.direct.mu.Unlock()
		n.c.considerDirect(aID, true)
		eventually(t, "C's dial to end", func() bool { return !dialing() })
	}
	st := n.Stats()
	fmt.Printf("netns: C, asked by A to dial back (requests: %d) and made to try %d times more, dialed A at %s %d times (at most %d a minute), %d direct links\n",
		st.DialBacks, 2*directPerAddr, natAddrA, st.DirectDials, directPerAddr, st.DirectLinks)
	if st.DirectDials < 1 || st.DirectDials > directPerAddr || st.DirectLinks != 0 {
		t.Errorf("C's direct counters: %+v", st.LinkStats)
	}
	if _, ok := linkTo(n, aID); ok {
		t.Error("C has a link to A")
	}
}

// natA plays A, behind the NAT: it listens (nobody can reach it), joins B,
// and sends to C's sink.
func natA(t *testing.T, dir string, direct bool) {
	opts := natOpts()
	if !direct {
		opts = append(opts, WithAdvertise(natAddrA))
	}
	n := newNode(t, opts...)
	ln, err := net.Listen("tcp", ":7000")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Serve(ln); err != nil {
		t.Fatal(err)
	}
	natSignal(t, dir, "a", FormatID(n.ID()))
	if err := n.Join("tcp", natAddrB); err != nil {
		t.Fatal(err)
	}
	cID := sinkTwoHops(t, n)
	start := time.Now()
	conn, err := n.Dial("", "sink")
	if err != nil {
		t.Fatal(err)
	}
	if st := n.Stats(); st.CircuitsOpened != 1 || circuitOf(n, cID) == nil {
		t.Fatalf("the first dial opened %d circuits", st.CircuitsOpened)
	}
	took := transfer(t, conn, natFirst, 1)
	fmt.Printf("netns: A -> C through B (a circuit, 2 hops): %d MiB in %v, SHA-256 ok\n", natFirst>>20, took.Round(time.Millisecond))

	if !direct {
		natSignalWait(t, dir, "tried", "C's dials back to A")
		took := transfer(t, conn, natFirst, 2)
		conn.Close()
		fmt.Printf("netns: A -> C through B again, after C's dials back failed: %d MiB in %v, SHA-256 ok\n", natFirst>>20, took.Round(time.Millisecond))
		if _, ok := linkTo(n, cID); ok {
			t.Error("A has a link to C")
		}
		if h := hopsTo(n, cID); h != 2 {
			t.Errorf("A reaches C in %d hops, want 2 (relayed)", h)
		}
		if st := n.Stats(); st.DirectDials != 0 {
			t.Errorf("A dialed %d direct links (C advertises nothing)", st.DirectDials)
		}
		return
	}

	if natResume {
		natMoved(t, n, dir, conn, cID, start)
		return
	}
	// Without resumption the first connection stays on the relay: it ends
	// here, and its circuit is closed by the idle rule once the two are
	// neighbours; new connections take the direct link.
	conn.Close()
	eventually(t, "a direct link from A to C, through the NAT", func() bool {
		l, ok := linkTo(n, cID)
		return ok && l.Direct
	})
	l, _ := linkTo(n, cID)
	fmt.Printf("netns: A dialed C's advertised address %s through the NAT: direct link up %v after the first dial (the first transfer ran meanwhile)\n",
		natAddrC, l.Since.Sub(start).Round(time.Millisecond))
	if !l.Dialer {
		t.Error("A did not dial the direct link")
	}
	waitRoute(t, n, cID, 1)
	natSignalWait(t, dir, "released", "B to relay 0 circuits")
	fmt.Printf("netns: B relays 0 circuits %v after the first dial (circuits idle %v are closed)\n", time.Since(start).Round(time.Millisecond), natIdle)
	eventually(t, "A's circuit to C to end", func() bool { return circuitOf(n, cID) == nil })

	conn2, err := n.Dial("", "sink")
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	took = transfer(t, conn2, natBulk, 3)
	if l, _ := linkTo(n, cID); l.Conns != 1 {
		t.Errorf("the direct link carries %d connections, want 1 (the transfer's)", l.Conns)
	}
	fmt.Printf("netns: A -> C over the direct link (1 hop): %d MiB in %v (%.0f MiB/s), SHA-256 ok\n",
		natBulk>>20, took.Round(time.Millisecond), float64(natBulk>>20)/took.Seconds())
	if st := n.Stats(); st.CircuitsOpened != 1 || st.DirectDials != 1 || st.DirectLinks != 1 {
		t.Errorf("A's counters: %d circuits opened, want 1; direct %+v", st.CircuitsOpened, st.LinkStats)
	}
	if circuitOf(n, cID) != nil {
		t.Error("the transfer after the upgrade set up a circuit")
	}
}

// natMoved is the rest of A in the resume case: the connection on the
// circuit through B stays open; once the direct link to C is up, the
// circuit moves onto it (B released at once, not by the idle rule), and
// the connection carries a second transfer, SHA-256 checked, over the
// link.
func natMoved(t *testing.T, n *Node, dir string, conn net.Conn, cID uint64, start time.Time) {
	defer conn.Close()
	ci := circuitOf(n, cID)
	if ci == nil || ci.rc == nil {
		t.Fatal("A's circuit to C is not resumable")
	}
	eventually(t, "A's circuit to C on the direct link", func() bool {
		l, ok := linkTo(n, cID)
		return ok && l.Direct && len(ci.currentPath()) == 2
	})
	fmt.Printf("netns: A's circuit to C moved onto the direct link %v after the first dial\n", time.Since(start).Round(time.Millisecond))
	natSignalWait(t, dir, "released", "B to relay 0 circuits")
	took := transfer(t, conn, natBulk, 3)
	fmt.Printf("netns: A -> C on the same connection, over the direct link: %d MiB in %v (%.0f MiB/s), SHA-256 ok\n",
		natBulk>>20, took.Round(time.Millisecond), float64(natBulk>>20)/took.Seconds())
	if st := n.Stats(); st.CircuitsOpened != 1 || st.CircuitResumes < 1 || st.DirectLinks != 1 {
		t.Errorf("A's counters: %d circuits opened, want 1; %d resumes, want 1; direct %+v", st.CircuitsOpened, st.CircuitResumes, st.LinkStats)
	}
	if p := ci.currentPath(); len(p) != 2 || circuitOf(n, cID) != ci {
		t.Errorf("after the transfer A's circuit goes %s", wire.FormatPath(p))
	}
}

// natSignal leaves a file name holding s in dir, for the other hosts
// (written whole, then renamed: a reader never sees half of it).
func natSignal(t *testing.T, dir, name, s string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name)
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// natSignalWait waits for the file name in dir (what: what it says) and
// returns what it holds.
func natSignalWait(t *testing.T, dir, name, what string) string {
	t.Helper()
	var b []byte
	eventually(t, what, func() bool {
		var err error
		b, err = os.ReadFile(filepath.Join(dir, name))
		return err == nil
	})
	return string(b)
}

// natID waits for the id that host left in dir.
func natID(t *testing.T, dir, host string) uint64 {
	t.Helper()
	s := natSignalWait(t, dir, host, "the id of host "+host)
	id, err := ParseID(s)
	if err != nil {
		t.Fatalf("host %s's id %q: %v", host, s, err)
	}
	return id
}

// sink serves ln: a connection sends an 8-byte length and that many
// bytes, and gets back their SHA-256; then it may send again.
func sink(t testing.TB, ln net.Listener) {
	t.Helper()
	serveEach(t, ln, func(c net.Conn) {
		var hdr [8]byte
		for {
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			h := sha256.New()
			if _, err := io.CopyN(h, c, int64(binary.BigEndian.Uint64(hdr[:]))); err != nil {
				return
			}
			if _, err := c.Write(h.Sum(nil)); err != nil {
				return
			}
		}
	})
}

// transfer sends size pseudo-random bytes (from seed) to a sink on c and
// checks the SHA-256 it returns; it returns how long that took.
func transfer(t testing.TB, c net.Conn, size int64, seed byte) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetDeadline(start.Add(patience))
	defer c.SetDeadline(time.Time{})
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{seed}), size), h)
	if _, err := c.Write(binary.BigEndian.AppendUint64(nil, uint64(size))); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(c, src); err != nil {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("the sink's SHA-256: %v", err)
	}
	if want := h.Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("the sink got SHA-256 %x, sent %x", got, want)
	}
	return time.Since(start)
}
