package mesh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/wire"
)

func TestAttachLinksTwoNodes(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	if got := a.Routes(); len(got) != 1 || got[0] != (Route{Host: b.ID(), NextHop: b.ID(), Hops: 1}) {
		t.Fatalf("routes of a: %+v", got)
	}
}

func TestMeshNameMismatchRefusedOnBothSides(t *testing.T) {
	a := newNode(t, WithName("prod"))
	b := newNode(t, WithName("dev"))
	p := attach(t, a, b)
	ea, eb := p.wait()
	for _, err := range []error{ea, eb} {
		if !errors.Is(err, ErrMeshMismatch) {
			t.Fatalf("got %v, want ErrMeshMismatch", err)
		}
		t.Log(err)
	}
}

func TestSameIDRefused(t *testing.T) {
	a := newNode(t, WithID(7))
	b := newNode(t, WithID(7))
	p := attach(t, a, b)
	ea, eb := p.wait()
	for _, err := range []error{ea, eb} {
		if !errors.Is(err, ErrIDMismatch) {
			t.Fatalf("got %v, want ErrIDMismatch", err)
		}
	}
}

func TestListenAndServe(t *testing.T) {
	a := newNode(t)
	if err := a.ListenAndServe("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := a.ListenAndServe("tcp", "256.0.0.1:1"); err == nil {
		t.Fatal("ListenAndServe on a bad address succeeded")
	}
}

// TestJoinReconnects: the node Join points at goes away and another one
// takes its address; the joining node links to it.
func TestJoinReconnects(t *testing.T) {
	a, b := newNode(t), newNode(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	a.Serve(ln)
	b.Join("tcp", addr)
	waitRoute(t, b, a.ID(), 1)
	a.Close()
	waitRoute(t, b, a.ID(), -1)
	c := newNode(t)
	var ln2 net.Listener
	eventually(t, "the address to be free", func() bool {
		ln2, err = net.Listen("tcp", addr)
		return err == nil
	})
	c.Serve(ln2)
	waitRoute(t, b, c.ID(), 1)
}

// TestJoinBackoff: Join backs off, doubling up to joinMaxDelay, on every
// failure but a hang-up, which it retries after joinMinDelay twenty times
// in a row, leaving the backoff where it was, and then backs off as from
// a refusal; the wait is jittered in [d/2, d].
func TestJoinBackoff(t *testing.T) {
	refused := errors.New("refused")
	hung := fmt.Errorf("link handshake: %w", errHungUp)
	d, h := joinMinDelay, 0
	var w time.Duration
	for range 20 {
		prev := d
		w, d, h = joinDelay(refused, d, h)
		if w != prev || d != min(2*prev, joinMaxDelay) || h != 0 {
			t.Fatalf("after a refusal: wait %v, next %v, %d hang-ups", w, d, h)
		}
	}
	if d != joinMaxDelay {
		t.Fatalf("delay %v after 20 failures, want %v", d, joinMaxDelay)
	}
	var waits []time.Duration
	d = joinMinDelay
	for range 40 {
		prev := d
		w, d, h = joinDelay(hung, d, h)
		waits = append(waits, w)
		if h <= joinFastTries && d != prev || h > joinFastTries && d != min(2*prev, joinMaxDelay) {
			t.Fatalf("hang-up %d moved the backoff from %v to %v", h, prev, d)
		}
	}
	if d != joinMaxDelay {
		t.Fatalf("delay %v after 40 hang-ups, want %v", d, joinMaxDelay)
	}
	back := joinMinDelay
	for i, w := range waits {
		want := joinMinDelay
		if i >= joinFastTries {
			want = max(min(joinMinDelay<<(i-joinFastTries+1), joinHangUpMax), back)
			back = min(2*back, joinMaxDelay)
		}
		if w != want {
			t.Fatalf("hang-up %d: wait %v, want %v (%v)", i+1, w, want, waits)
		}
	}
	if _, _, h = joinDelay(refused, d, h); h != 0 {
		t.Fatal("a refusal does not end the hang-ups in a row")
	}
	for range 100 {
		if j := jitter(joinMinDelay); j < joinMinDelay/2 || j > joinMinDelay {
			t.Fatalf("jitter %v outside [%v, %v]", j, joinMinDelay/2, joinMinDelay)
		}
	}
}

func TestCloseEndsAttach(t *testing.T) {
	a, b := newNode(t), newNode(t)
	p := linked(t, a, b)
	a.Close()
	if err, _ := p.wait(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Attach on the closed node returned %v", err)
	}
	waitRoute(t, b, a.ID(), -1)
	if err := a.Attach(nopRWC{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Attach after Close: %v", err)
	}
	if err := a.Join("tcp", "127.0.0.1:1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Join after Close: %v", err)
	}
}

type nopRWC struct{}

func (nopRWC) Read([]byte) (int, error)    { select {} }
func (nopRWC) Write(p []byte) (int, error) { return len(p), nil }
func (nopRWC) Close() error                { return nil }

var _ = time.Second

// unhashablePipe is a pipe end of a type that cannot be a map key.
type unhashablePipe struct {
	net.Conn
	_ []byte
}

func TestAttachAnyPipeType(t *testing.T) {
	a, b := newNode(t), newNode(t)
	attachOver(t, a, b, func() (io.ReadWriteCloser, io.ReadWriteCloser) {
		x, y := net.Pipe()
		return unhashablePipe{Conn: x}, unhashablePipe{Conn: y}
	})
	waitRoute(t, a, b.ID(), 1)
}

// TestNoPhantomNeighbour: a second link to a neighbour whose handshake
// fails after the first link ended leaves no route behind. (The accepting
// side used to register a link at the peer's hello, so the first link's
// end was not the last, and the failed handshake removed the second with
// no link-down: the peer stayed a neighbour with no link.)
func TestNoPhantomNeighbour(t *testing.T) {
	n, p := newNode(t), newNode(t)
	link1 := linked(t, n, p)
	st, errc := fakePeer(t, n, true) // a second connection claiming p's id
	st.Write(wire.AppendCtrl(nil, wire.MsgHello, wire.AppendHello(nil, wire.Hello{Version: Version, Flags: wire.HelloRelay, ID: p.ID(), Name: DefaultName})))
	if typ, _, err := wire.ReadCtrl(st, 1024); err != nil || typ != wire.MsgHello {
		t.Fatalf("n's hello: %v %v", typ, err)
	}
	link1.cut() // returns once both ends have let the link go
	st.Write(wire.AppendCtrl(nil, wire.MsgRefuse, wire.AppendRefuse(nil, uint8(codeProtocol), "changed my mind")))
	if err := errc(); err == nil {
		t.Fatal("the second link's handshake succeeded")
	}
	eventually(t, "p to be no neighbour of n", func() bool { return hopsTo(n, p.ID()) == -1 })
	if _, err := n.Dial("", FormatID(p.ID())+":1"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("dial to the gone neighbour: %v", err)
	}
}

// TestLinkTableFollowsLinks: links to one peer coming and going in any
// order leave the router's view of the peer equal to the link table's.
func TestLinkTableFollowsLinks(t *testing.T) {
	n, p := newNode(t), newNode(t)
	l1 := linked(t, n, p)
	l2 := attach(t, n, p)
	eventually(t, "two links", func() bool {
		n.c.links.mu.Lock()
		defer n.c.links.mu.Unlock()
		return len(n.c.links.byPeer[p.ID()]) == 2
	})
	l1.cut()
	if hopsTo(n, p.ID()) != 1 {
		t.Fatal("the peer is gone while a link to it is up")
	}
	l2.cut()
	waitRoute(t, n, p.ID(), -1)
	waitRoute(t, p, n.ID(), -1)
}

// TestJoinError: JoinError says why the last join failed (a dial, a
// refusal, which errors.Is finds, with the address), and is nil before
// any failure and once a link of Join is up.
func TestJoinError(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nobody listens there
	prod := newNode(t, WithName("prod"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prod.Serve(ln)
	for _, tc := range []struct {
		name string
		mesh string
		addr string
		want error // nil: the link comes up
	}{
		{"dead address", "prod", deadAddr, syscall.ECONNREFUSED},
		{"another mesh", "dev", ln.Addr().String(), ErrMeshMismatch},
		{"up", "prod", ln.Addr().String(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, WithName(tc.mesh))
			if err := n.JoinError(); err != nil {
				t.Fatalf("JoinError before any join: %v", err)
			}
			n.Join("tcp", tc.addr)
			if tc.want == nil {
				waitRoute(t, n, prod.ID(), 1)
				if err := n.JoinError(); err != nil {
					t.Fatalf("JoinError with the link up: %v", err)
				}
				return
			}
			eventually(t, "a join error", func() bool { return n.JoinError() != nil })
			err := n.JoinError()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.addr) {
				t.Fatalf("JoinError %v, want %v and the address %s", err, tc.want, tc.addr)
			}
		})
	}
}

// TestFailedLinksSaidOnce: a listener says a failed link handshake once
// per source IP and reason within joinLogEvery, whatever the source port,
// and its memory is bounded.
func TestFailedLinksSaidOnce(t *testing.T) {
	var f failedLinks
	a1 := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 40001}
	a2 := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 40002}
	b := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 40001}
	notAuth := fmt.Errorf("handshake with %v: %w", a1, ErrNotAuthorized)
	notAuth2 := fmt.Errorf("handshake with %v: %w", a2, ErrNotAuthorized)
	if !f.first(a1, notAuth) {
		t.Fatal("the first failure is not said")
	}
	if f.first(a2, notAuth2) {
		t.Error("the same failure from another port of the same IP is said again")
	}
	if !f.first(a1, ErrMeshMismatch) {
		t.Error("another reason from the same IP is not said")
	}
	if !f.first(b, notAuth) {
		t.Error("the same reason from another IP is not said")
	}
	for i := range 2 * maxFailedLinks {
		f.first(&net.TCPAddr{IP: net.IPv4(10, 1, byte(i>>8), byte(i)), Port: 1}, ErrNotAuthorized)
	}
	if n := len(f.seen); n > maxFailedLinks {
		t.Errorf("%d failures remembered, at most %d", n, maxFailedLinks)
	}
}
