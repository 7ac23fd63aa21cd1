package mesh

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/resume"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// diamond starts A, B, C and D, every one with resumable links and
// circuits and its own opts(), linked A–B, B–C, A–D, D–C over pipes,
// and waits until A and C see each other two hops away.
func diamond(t *testing.T, opts func() []Option) (ns []*Node, links map[string]*pipeLink) {
	t.Helper()
	ns = resumableNodes(t, 4, opts)
	a, b, c, d := ns[0], ns[1], ns[2], ns[3]
	links = map[string]*pipeLink{"AB": attach(t, a, b), "BC": attach(t, b, c), "AD": attach(t, a, d), "DC": attach(t, d, c)}
	waitRoute(t, a, c.ID(), 2)
	waitRoute(t, c, a.ID(), 2)
	return ns, links
}

// resumableNodes starts k nodes with resumable links and circuits, each
// with its own opts().
func resumableNodes(t *testing.T, k int, opts func() []Option) []*Node {
	ns := make([]*Node, k)
	for i := range ns {
		o := append([]Option{WithResume(true)}, opts()...)
		if os.Getenv("PLEXUS_TEST_LOG") != "" { // debug: every node logs to stderr
			o = append(o, WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		}
		ns[i] = newNode(t, o...)
	}
	return ns
}

// resumableModes are the meshes resumable circuits are tested on.
func resumableModes(t *testing.T) []struct {
	name string
	opts func() []Option
} {
	ca := newCA(t)
	return []struct {
		name string
		opts func() []Option
	}{
		{"insecure", func() []Option { return nil }},
		{"secured", func() []Option { return []Option{WithTLS(ca.nodeConfig(t, true))} }},
	}
}

// TestResumeCircuitRelayDies: a transfer from A to C on a circuit through
// one relay completes intact when that relay closes mid-transfer (or its
// links are cut): the source resumes the circuit through the other relay;
// the same circuit, resumed at both ends, no new one.
func TestResumeCircuitRelayDies(t *testing.T) {
	for _, m := range resumableModes(t) {
		for _, how := range []string{"close", "cut"} {
			t.Run(m.name+"/"+how, func(t *testing.T) {
				ns, links := diamond(t, m.opts)
				a, c := ns[0], ns[2]
				cc, sc := dialed(t, a, c)
				ci := circuitOf(a, c.ID())
				if ci == nil || ci.rc == nil {
					t.Fatal("no resumable circuit from A to C")
				}
				first := ci.currentPath()
				relay, other := ns[1], ns[3]
				if first[1] == other.ID() {
					relay, other = other, relay
				}
				transferAcross(t, cc, sc, 16<<20, func() {
					if how == "close" {
						relay.Close()
						return
					}
					for k, l := range links {
						if relay == ns[1] && (k == "AB" || k == "BC") || relay == ns[3] && (k == "AD" || k == "DC") {
							l.cut()
						}
					}
				})
				if got := ci.currentPath(); !slices.Equal(got, []uint64{a.ID(), other.ID(), c.ID()}) {
					t.Fatalf("the circuit's path is %s, want it through the other relay %s", wire.FormatPath(got), FormatID(other.ID()))
				}
				// (C may not see the break: the source's proved resume
				// takes the circuit over from the old path.)
				if st := a.Stats(); st.CircuitResumes < 1 || st.CircuitBreaks < 1 {
					t.Fatalf("A: %d breaks, %d resumes; want one of each at least", st.CircuitBreaks, st.CircuitResumes)
				}
				eventually(t, "C counting the resume", func() bool { return c.Stats().CircuitResumes >= 1 })
				if st := a.Stats(); st.CircuitsOpened != 1 {
					t.Fatalf("A opened %d circuits, want 1 (resumed, not replaced)", st.CircuitsOpened)
				}
				if circuitOf(a, c.ID()) != ci {
					t.Fatal("A uses another circuit to C")
				}
			})
		}
	}
}

// TestResumeCircuitMovesDirect: when A and C, talking through B, become
// neighbours, the circuit moves onto their link mid-transfer, intact, and
// B relays nothing any more.
func TestResumeCircuitMovesDirect(t *testing.T) {
	for _, m := range resumableModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ns := resumableNodes(t, 3, m.opts)
			a, b, c := ns[0], ns[1], ns[2]
			chain(t, ns)
			cc, sc := dialed(t, a, c)
			ci := circuitOf(a, c.ID())
			if ci == nil || ci.rc == nil {
				t.Fatal("no resumable circuit from A to C")
			}
			transferAcross(t, cc, sc, 16<<20, func() { attach(t, a, c) })
			eventually(t, "the circuit on the direct link", func() bool { return len(ci.currentPath()) == 2 })
			eventually(t, "B relaying nothing", func() bool { return b.Stats().CircuitsRelayed == 0 })
			if st := a.Stats(); st.CircuitsOpened != 1 || st.CircuitResumes < 1 {
				t.Fatalf("A: %d circuits opened, %d resumes; want 1 circuit, resumed", st.CircuitsOpened, st.CircuitResumes)
			}
		})
	}
}

// hostileResume plays a member e, a neighbour of dst, that sends dst a
// circuit resume for id claiming src as the source, and runs the resume
// exchange with a key of its own. It returns the exchange's error.
func hostileResume(t *testing.T, e, dst *Node, src uint64, id resume.ID) error {
	t.Helper()
	l := e.c.links.get(dst.ID())
	if l == nil {
		t.Fatal("the member has no link to the destination")
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	st, err := l.sess.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := []uint64{src, e.ID(), dst.ID()}
	pre := circuitPreface{kind: prefaceResume, id: id}
	if _, err := st.Write(pre.appendTo(wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 2, Path: path}))); err != nil {
		t.Fatal(err)
	}
	x, y := net.Pipe()
	defer y.Close()
	rc, err := resume.NewWithID(id, x, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Fail(ErrClosed)
	rc.Break(nil)
	rc.SetKey(bytes.Repeat([]byte{7}, 32)) // not the circuit's
	// The member keeps its end open until the destination has answered
	// (a Resume that fails closes its path at once, maybe before its own
	// RESUME went out).
	err = rc.Resume(ctx, keepOpen{&setupAnswer{Stream: st, path: path}})
	st.SetReadDeadline(time.Now().Add(patience))
	io.Copy(io.Discard, st)
	st.Close()
	return err
}

// keepOpen is a path whose Close does nothing.
type keepOpen struct{ *setupAnswer }

func (keepOpen) Close() error { return nil }

// TestResumeCircuitHijack: a member that copied a circuit's id (it goes
// in the clear) cannot resume it: while the circuit is up its resume is
// turned away, and while it is suspended the exchange is refused (the MAC)
// and counted, and the circuit is left as it was; an unknown id is
// refused as lost. The real source then
// resumes, the data intact.
func TestResumeCircuitHijack(t *testing.T) {
	for _, m := range resumableModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ns := resumableNodes(t, 4, m.opts)
			a, b, c, e := ns[0], ns[1], ns[2], ns[3]
			ab := attach(t, a, b)
			attach(t, b, c)
			attach(t, e, c)
			waitRoute(t, a, c.ID(), 2)
			waitRoute(t, c, a.ID(), 2)
			waitRoute(t, e, c.ID(), 1)
			cc, sc := dialed(t, a, c)
			ci := circuitOf(a, c.ID())
			if ci == nil || ci.rc == nil {
				t.Fatal("no resumable circuit from A to C")
			}
			id := ci.rc.ID()
			dst := circuitOf(c, a.ID())

			if err := hostileResume(t, e, c, a.ID(), id); err == nil {
				t.Fatal("a resume of a live circuit by a member succeeded")
			}
			eventually(t, "C refusing the member's resume", func() bool { return c.Stats().CircuitResumesRefused == 1 })
			if dst.rc.Suspended() || c.Stats().CircuitBreaks != 0 {
				t.Fatal("a refused resume broke the live circuit")
			}
			var rid resume.ID
			rid[0] = 1
			if err := hostileResume(t, e, c, a.ID(), rid); err == nil {
				t.Fatal("a resume of an unknown circuit succeeded")
			}

			// Cut A off: A's circuit waits for a path, C's is suspended.
			ab.cut()
			eventually(t, "C's end suspended", func() bool { return dst.rc.Suspended() })
			refused := c.Stats().CircuitResumesRefused
			if err := hostileResume(t, e, c, a.ID(), id); err == nil {
				t.Fatal("a member resumed a suspended circuit with a copied id")
			}
			eventually(t, "C refusing the member's resume", func() bool { return c.Stats().CircuitResumesRefused == refused+1 })
			if !dst.rc.Suspended() {
				t.Fatal("the refused resume took the circuit")
			}

			// The real source comes back.
			attach(t, a, b)
			carries(t, cc, sc, "still here")
			eventually(t, "C counting the resume", func() bool { return c.Stats().CircuitResumes >= 1 })
		})
	}
}

// TestResumeCircuitLost: a circuit whose far end gave it up while it was
// cut off fails at the source with ErrCircuitLost, rather than waiting out
// the resume window, once the far end says so itself (over a link to it:
// through relays, such a refusal could be a relay's forgery, see
// TestResumeCircuitForgedLost).
func TestResumeCircuitLost(t *testing.T) {
	ns := nodes(t, 3, WithResume(true))
	a, b, c := ns[0], ns[1], ns[2]
	ab := attach(t, a, b)
	attach(t, b, c)
	waitRoute(t, a, c.ID(), 2)
	cc, _ := dialed(t, a, c)
	dst := circuitOf(c, a.ID())
	ab.cut()
	eventually(t, "C's end suspended", func() bool { return dst.rc.Suspended() })
	dst.rc.Fail(errors.New("given up"))
	eventually(t, "C forgetting the circuit", func() bool { return circuitOf(c, a.ID()) == nil })
	attach(t, a, c)
	cc.SetReadDeadline(time.Now().Add(patience))
	_, err := cc.Read(make([]byte, 1))
	if !errors.Is(err, ErrCircuitLost) {
		t.Fatalf("read on a lost circuit: %v, want ErrCircuitLost", err)
	}
}

// carries checks that msg, written on w, arrives whole on r.
func carries(t *testing.T, w, r net.Conn, msg string) {
	t.Helper()
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	r.SetReadDeadline(time.Now().Add(patience))
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != msg {
		t.Fatalf("sent %q, got %q, %v", msg, buf, err)
	}
}

// relayOn returns the relay of ci's path in the diamond ns, and the other.
func relayOn(ns []*Node, ci *circuit) (relay, other *Node) {
	relay, other = ns[1], ns[3]
	if ci.currentPath()[1] == other.ID() {
		relay, other = other, relay
	}
	return relay, other
}

// cutRelay cuts both links of relay, B or D of the diamond ns.
func cutRelay(ns []*Node, links map[string]*pipeLink, relay *Node) {
	for k, l := range links {
		if relay == ns[1] && (k == "AB" || k == "BC") || relay == ns[3] && (k == "AD" || k == "DC") {
			l.cut()
		}
	}
}

// TestResumeCircuitForgedLost: a relay on the path of a resume that
// forges the refusal "no such circuit" (a reset code: nothing
// authenticates it) does not kill the circuit: the source takes that for
// a failed path, and the circuit waits for another (here none comes
// before the window is over, and it fails with ErrResumeTimeout).
func TestResumeCircuitForgedLost(t *testing.T) {
	ns, links := diamond(t, func() []Option { return []Option{WithResumeWindow(time.Second)} })
	a, c := ns[0], ns[2]
	cc, _ := dialed(t, a, c)
	ci := circuitOf(a, c.ID())
	relay, other := relayOn(ns, ci)
	var forged atomic.Int32
	other.c.hooks.hostileRelay = func(st *mux.Stream, s wire.SetupHeader) bool {
		forged.Add(1)
		st.Reset(resetCode(codeNoCircuit, len(s.Path)-1))
		return true
	}
	cutRelay(ns, links, relay)
	cc.SetReadDeadline(time.Now().Add(patience))
	_, err := cc.Read(make([]byte, 1))
	if errors.Is(err, ErrCircuitLost) || !errors.Is(err, ErrResumeTimeout) || forged.Load() == 0 {
		t.Fatalf("after %d forged refusals: %v, want ErrResumeTimeout (not ErrCircuitLost)", forged.Load(), err)
	}
}

// TestResumeCircuitIDCopied: a member E that copied the id of A's circuit
// to C (it goes in the clear) and sets up a circuit of its own to C with
// it does not take A's circuit's place at C: A's circuit resumes when its
// relay dies.
func TestResumeCircuitIDCopied(t *testing.T) {
	for _, m := range resumableModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ns, links := diamond(t, m.opts)
			a, c := ns[0], ns[2]
			ef := resumableNodes(t, 2, m.opts)
			e, f := ef[0], ef[1]
			attach(t, e, f)
			attach(t, f, c)
			waitRoute(t, e, c.ID(), 2)
			cc, sc := dialed(t, a, c)
			ci := circuitOf(a, c.ID())
			id := ci.rc.ID()
			e.c.hooks.circuitID = func() (resume.ID, error) { return id, nil }
			d, err := e.DialContext(ctxT(t), "", FormatID(c.ID())+":1")
			if err == nil {
				d.Close()
			}
			relay, _ := relayOn(ns, ci)
			cutRelay(ns, links, relay)
			carries(t, cc, sc, "after")
		})
	}
}

// TestResumeCircuitInnerKeepAlive: the inner session's own keep-alive
// never ends a suspended circuit within the resume window, even when the
// circuit config sets a short keep-alive interval (and no timeout).
func TestResumeCircuitInnerKeepAlive(t *testing.T) {
	ns := nodes(t, 3, WithResume(true), WithResumeWindow(10*time.Second),
		WithCircuitConfig(&mux.Config{KeepAliveInterval: 100 * time.Millisecond}))
	a, b, c := ns[0], ns[1], ns[2]
	ab := attach(t, a, b)
	attach(t, b, c)
	waitRoute(t, a, c.ID(), 2)
	waitRoute(t, c, a.ID(), 2)
	cc, sc := dialed(t, a, c)
	ab.cut()
	time.Sleep(1500 * time.Millisecond) // five times the inner session's default timeout (3 x 100 ms) and more: an absence of failure can only be waited for
	attach(t, a, b)
	carries(t, cc, sc, "x") // within the window, it still carries bytes
}

// TestResumeCircuitWindowMismatch: a source whose inner sessions have
// larger windows than the destination's still gets resumable circuits.
func TestResumeCircuitWindowMismatch(t *testing.T) {
	a := newNode(t, WithResume(true), WithCircuitConfig(&mux.Config{SessionWindow: 16 << 20}))
	b, c := newNode(t, WithResume(true)), newNode(t, WithResume(true))
	chain(t, []*Node{a, b, c})
	cc, sc := dialed(t, a, c)
	if ci := circuitOf(a, c.ID()); ci == nil || ci.rc == nil {
		t.Fatal("no resumable circuit")
	}
	go io.Copy(sc, sc)
	roundTrip(t, cc, "windows differ")
}

// TestResumeCircuitWindowOver: a circuit with no path back within the
// resume window fails with ErrResumeTimeout at both ends.
func TestResumeCircuitWindowOver(t *testing.T) {
	ns := nodes(t, 3, WithResume(true), WithResumeWindow(300*time.Millisecond))
	a, b, c := ns[0], ns[1], ns[2]
	ab := attach(t, a, b)
	attach(t, b, c)
	waitRoute(t, a, c.ID(), 2)
	cc, sc := dialed(t, a, c)
	ab.cut()
	for _, conn := range []net.Conn{cc, sc} {
		conn.SetReadDeadline(time.Now().Add(patience))
		_, err := conn.Read(make([]byte, 1))
		if !errors.Is(err, ErrResumeTimeout) {
			t.Fatalf("read past the resume window: %v, want ErrResumeTimeout", err)
		}
	}
}

// TestResumeCircuitReplayBound: a receiver that never reads makes the
// sender block; its replay state stays within the circuit's window.
func TestResumeCircuitReplayBound(t *testing.T) {
	ns := nodes(t, 3, WithResume(true))
	a, c := ns[0], ns[2]
	chain(t, ns)
	cc, _ := dialed(t, a, c)
	ci := circuitOf(a, c.ID())
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		for {
			if _, err := cc.Write(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	// The writer stalls: the bytes sent stop growing.
	var last uint64
	eventually(t, "the writer blocked", func() bool {
		s := ci.rc.Stats().BytesSent
		stalled := s == last && s > 0
		last = s
		if !stalled {
			time.Sleep(50 * time.Millisecond) // a stall is two equal samples apart
		}
		return stalled
	})
	st := ci.rc.Stats()
	if w := int(a.c.circuitWindow()); st.ReplayBytes > w || st.ReplayMemory > w+resumeChunk {
		t.Fatalf("replay holds %d bytes in %d of memory, window %d", st.ReplayBytes, st.ReplayMemory, w)
	}
	cc.Close()
	<-done
}

// resumeChunk is the replay buffer's block size.
const resumeChunk = 64 << 10

// TestResumeCircuitFrozenRelay: the relay of a circuit freezes (its links'
// connections go silent and no new one gets through: its links stay
// suspended for the resume window, as those of a relay killed or cut
// off). A connection that sends a numbered message every 5 ms from A to C
// sees a pause, then carries on through the other relay, every message
// there, in order. The pause (from the freeze to the next message
// delivered) is logged against the keep-alive timeout: the goal is at
// most that timeout plus 1 s. Default keep-alive: 1 s, 3 s.
func TestResumeCircuitFrozenRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the default keep-alive timeout")
	}
	ns := resumableNodes(t, 4, func() []Option { return nil })
	a, b, c, d := ns[0], ns[1], ns[2], ns[3]
	pab, pcb := joinThrough(t, b, a, c)
	waitRoute(t, a, c.ID(), 2)
	waitRoute(t, c, a.ID(), 2)
	cc, sc := dialed(t, a, c)
	ci := circuitOf(a, c.ID())
	if p := ci.currentPath(); p[1] != b.ID() {
		t.Fatalf("the circuit goes %s, want it through B", wire.FormatPath(p))
	}
	attach(t, a, d)
	attach(t, d, c)
	waitRoute(t, a, d.ID(), 1)
	waitRoute(t, c, d.ID(), 1)

	stop := make(chan struct{})
	werr := sendNumbered(cc, stop)
	var frozen time.Time
	var pause time.Duration
	readNumbered(t, sc, func(i uint64) bool {
		switch {
		case i == 100:
			pab.block(true)
			pcb.block(true)
			pab.freeze()
			pcb.freeze()
			frozen = time.Now()
		case i > 100 && pause == 0 && slices.Equal(ci.currentPath(), []uint64{a.ID(), d.ID(), c.ID()}):
			pause = time.Since(frozen)
		case pause > 0 && i >= 100+uint64(pause/numberedEvery)+100:
			return false
		}
		return true
	})
	close(stop)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	t.Logf("pause after the relay froze: %v (keep-alive timeout %v, goal %v)", pause.Round(time.Millisecond), DefaultKeepAliveTimeout, DefaultKeepAliveTimeout+time.Second)
	if st := a.Stats(); st.CircuitsOpened != 1 || st.CircuitResumes < 1 {
		t.Fatalf("A: %d circuits opened, %d resumes; want 1, resumed", st.CircuitsOpened, st.CircuitResumes)
	}
}

// joinThrough makes relay serve links, and p and q join it, each through
// a cutProxy of its own, which it returns.
func joinThrough(t *testing.T, relay, p, q *Node) (pp, pq *cutProxy) {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Serve(ln); err != nil {
		t.Fatal(err)
	}
	pp, pq = newCutProxy(t, ln.Addr().String()), newCutProxy(t, ln.Addr().String())
	if err := p.Join("tcp", pp.addr()); err != nil {
		t.Fatal(err)
	}
	if err := q.Join("tcp", pq.addr()); err != nil {
		t.Fatal(err)
	}
	return pp, pq
}

// numberedEvery is how often sendNumbered sends.
const numberedEvery = 5 * time.Millisecond

// sendNumbered sends on w an 8-byte message numbered from 0 every
// numberedEvery until stop is closed, then reports nil, or the write's
// error.
func sendNumbered(w net.Conn, stop <-chan struct{}) <-chan error {
	werr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(numberedEvery)
		defer tick.Stop()
		var msg [8]byte
		for i := uint64(0); ; i++ {
			select {
			case <-stop:
				werr <- nil
				return
			case <-tick.C:
			}
			binary.BigEndian.PutUint64(msg[:], i)
			if _, err := w.Write(msg[:]); err != nil {
				werr <- err
				return
			}
		}
	}()
	return werr
}

// readNumbered reads sendNumbered's messages from r, checking that each
// is the next one, and calls each with its number until each says stop.
func readNumbered(t *testing.T, r net.Conn, each func(i uint64) bool) {
	t.Helper()
	var msg [8]byte
	r.SetReadDeadline(time.Now().Add(4 * patience))
	for i := uint64(0); ; i++ {
		if _, err := io.ReadFull(r, msg[:]); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got := binary.BigEndian.Uint64(msg[:]); got != i {
			t.Fatalf("message %d arrived as number %d", i, got)
		}
		if !each(i) {
			return
		}
	}
}

// TestResumeCircuitIdleQuiet: an idle resumable circuit sends nothing (no
// keep-alive of its own, acknowledgements done), so its relay forwards
// nothing, however short the keep-alive interval.
func TestResumeCircuitIdleQuiet(t *testing.T) {
	ka := WithKeepAlive(20*time.Millisecond, 200*time.Millisecond)
	ns := nodes(t, 3, WithResume(true), ka)
	a, b, c := ns[0], ns[1], ns[2]
	chain(t, ns)
	cc, sc := dialed(t, a, c)
	go io.Copy(sc, sc)
	roundTrip(t, cc, "hello")
	relayed := func() uint64 {
		for _, ci := range b.Circuits() {
			if ci.Role == CircuitRelayed {
				return ci.Bytes
			}
		}
		t.Fatal("B relays no circuit")
		return 0
	}
	// The acknowledgements of the round trip go within AckDelay; then
	// the count must stay put.
	var last uint64
	eventually(t, "the relayed bytes to settle", func() bool {
		n := relayed()
		settled := n == last
		last = n
		time.Sleep(50 * time.Millisecond) // two samples apart, past the ACK delay
		return settled
	})
	time.Sleep(20 * 20 * time.Millisecond) // twenty keep-alive intervals: an absence can only be waited for
	if n := relayed(); n != last {
		t.Fatalf("an idle resumable circuit carried %d bytes in 20 keep-alive intervals", n-last)
	}
	if st := a.Stats(); st.CircuitBreaks != 0 {
		t.Fatalf("the idle circuit broke %d times", st.CircuitBreaks)
	}
}

// TestResumeCircuitFarRelayFreezes: on A–X–B–C, B freezes (its links
// suspended, none of them A's) while C streams to A, which only reads:
// A's keep-alive, running for a keep-alive timeout after bytes came in,
// finds the dead path, and A resumes through D. The pause is logged
// (default keep-alive: goal 4 s).
func TestResumeCircuitFarRelayFreezes(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the default keep-alive timeout")
	}
	ns := resumableNodes(t, 5, func() []Option { return nil })
	a, x, b, c, d := ns[0], ns[1], ns[2], ns[3], ns[4]
	pxb, pcb := joinThrough(t, b, x, c)
	attach(t, a, x)
	waitRoute(t, a, c.ID(), 3)
	waitRoute(t, c, a.ID(), 3)
	cc, sc := dialed(t, a, c)
	ci := circuitOf(a, c.ID())
	attach(t, a, d)
	attach(t, d, c)
	waitRoute(t, a, d.ID(), 1)
	waitRoute(t, c, d.ID(), 1)
	stop := make(chan struct{})
	werr := sendNumbered(sc, stop)
	var frozen time.Time
	readNumbered(t, cc, func(i uint64) bool {
		if i == 100 {
			pxb.block(true)
			pcb.block(true)
			pxb.freeze()
			pcb.freeze()
			frozen = time.Now()
		}
		return i <= 100 || !slices.Equal(ci.currentPath(), []uint64{a.ID(), d.ID(), c.ID()})
	})
	t.Logf("A, only reading, resumed through D %v after B froze (keep-alive timeout %v)", time.Since(frozen).Round(time.Millisecond), DefaultKeepAliveTimeout)
	close(stop)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}

// TestResumeCircuitPrefaceAltered: on a secured mesh a relay that alters
// the preface of a circuit (it goes before end-to-end TLS) is caught by
// the destination's confirmation inside TLS: that circuit fails as a
// failed setup, the dial takes another, relayed honestly, and that one
// resumes when its relay dies.
func TestResumeCircuitPrefaceAltered(t *testing.T) {
	ca := newCA(t)
	ns, links := diamond(t, func() []Option { return []Option{WithTLS(ca.nodeConfig(t, true))} })
	a, c := ns[0], ns[2]
	var once atomic.Bool
	altered := make(chan struct{}, 1)
	alter := func(self *Node) func(st *mux.Stream, s wire.SetupHeader) bool {
		return func(st *mux.Stream, s wire.SetupHeader) bool {
			if !once.CompareAndSwap(false, true) {
				return false // the first setup only
			}
			go func() {
				out, err := self.c.links.get(s.Path[s.Hop+1]).sess.OpenStream(ctxT(t))
				if err != nil {
					st.Reset(mux.CodeCancel)
					return
				}
				fwd := s
				fwd.Hop++
				out.Write(wire.AppendSetupHeader(nil, fwd))
				var pre [circuitNewLen]byte
				if _, err := io.ReadFull(st, pre[:]); err != nil {
					return
				}
				pre[6] ^= 0xff // another id
				out.Write(pre[:])
				altered <- struct{}{}
				go func() { io.Copy(out, st); out.Close() }()
				io.Copy(st, out)
				st.Close()
			}()
			return true
		}
	}
	ns[1].c.hooks.hostileRelay = alter(ns[1])
	ns[3].c.hooks.hostileRelay = alter(ns[3])
	ln, err := c.Listen("", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	echo(t, ln)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	conn, err := a.DialContext(ctxT(t), "", FormatID(c.ID())+":"+port)
	if err != nil {
		t.Fatal(err) // the dial takes another circuit, relayed honestly
	}
	conn.Close()
	<-altered
	if st := a.Stats(); st.CircuitSetupsFailed < 1 {
		t.Fatalf("A counted %d failed setups, want the altered one", st.CircuitSetupsFailed)
	}
	cc, sc := dialed(t, a, c)
	ci := circuitOf(a, c.ID())
	relay, _ := relayOn(ns, ci)
	cutRelay(ns, links, relay)
	carries(t, cc, sc, "after")
}

// TestResumeCircuitAtLimit: a resume counts as the circuit it resumes,
// not as a new one: a source at its destination's MaxCircuitsPerHost
// resumes its circuit (an insecure mesh, where the destination counts a
// setup before it has read the preface).
func TestResumeCircuitAtLimit(t *testing.T) {
	ns, links := diamond(t, func() []Option {
		return []Option{WithLimits(Limits{MaxCircuitsPerHost: 1}), WithResumeWindow(3 * time.Second)}
	})
	a, c := ns[0], ns[2]
	cc, sc := dialed(t, a, c)
	ci := circuitOf(a, c.ID())
	relay, _ := relayOn(ns, ci)
	cutRelay(ns, links, relay)
	carries(t, cc, sc, "after")
}
