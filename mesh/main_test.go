package mesh

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// patience bounds every wait of the tests, and eventually waits for a
// condition within it (internal/testutil).
const patience = testutil.Patience

var eventually = testutil.Eventually

// waitFor waits until a call returns nil (internal/testutil).
var waitFor = testutil.WaitFor

// fast are the routing timers of the tests: a short hold-down.
var fast = withTimers(20*time.Millisecond, 10*time.Minute)

// newNode starts a node that is closed when the test ends: secured if
// opts has WithTLS, else insecure (WithInsecure).
func newNode(t testing.TB, opts ...Option) *Node {
	t.Helper()
	opts = append([]Option{fast}, opts...)
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.tls == nil {
		opts = append(opts, WithInsecure())
	}
	n, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// nodes starts k nodes.
func nodes(t testing.TB, k int, opts ...Option) []*Node {
	ns := make([]*Node, k)
	for i := range ns {
		ns[i] = newNode(t, opts...)
	}
	return ns
}

// pipeLink is a link between two nodes over a pipe, run by Attach on
// both ends.
type pipeLink struct {
	x, y       io.ReadWriteCloser
	errA, errB chan error
	once       sync.Once
	ea, eb     error
}

// wait waits for both Attach calls to return, and returns what they did.
func (p *pipeLink) wait() (errA, errB error) {
	p.once.Do(func() { p.ea, p.eb = <-p.errA, <-p.errB })
	return p.ea, p.eb
}

// cut ends the link by closing the pipe, and waits for both Attach calls.
func (p *pipeLink) cut() (errA, errB error) {
	p.x.Close()
	p.y.Close()
	return p.wait()
}

// attach links a and b over a net.Pipe. The link ends when either node
// closes or when cut is called; the test waits for both Attach calls.
func attach(t testing.TB, a, b *Node) *pipeLink {
	t.Helper()
	return attachOver(t, a, b, func() (io.ReadWriteCloser, io.ReadWriteCloser) {
		x, y := net.Pipe()
		return x, y
	})
}

func attachOver(t testing.TB, a, b *Node, mk func() (io.ReadWriteCloser, io.ReadWriteCloser)) *pipeLink {
	t.Helper()
	x, y := mk()
	p := &pipeLink{x: x, y: y, errA: make(chan error, 1), errB: make(chan error, 1)}
	go func() { p.errA <- a.Attach(x) }()
	go func() { p.errB <- b.Attach(y) }()
	t.Cleanup(func() { p.cut() })
	return p
}

// linked links a and b and waits until each has a route to the other.
func linked(t testing.TB, a, b *Node) *pipeLink {
	t.Helper()
	p := attach(t, a, b)
	waitRoute(t, a, b.ID(), 1)
	waitRoute(t, b, a.ID(), 1)
	return p
}

// chain links ns[0] - ns[1] - ... - ns[k-1] and waits until the ends see
// each other.
func chain(t testing.TB, ns []*Node) []*pipeLink {
	t.Helper()
	var ps []*pipeLink
	for i := 0; i+1 < len(ns); i++ {
		ps = append(ps, attach(t, ns[i], ns[i+1]))
	}
	waitRoute(t, ns[0], ns[len(ns)-1].ID(), len(ns)-1)
	waitRoute(t, ns[len(ns)-1], ns[0].ID(), len(ns)-1)
	return ps
}

// circuitOf returns the circuit n uses to reach host, or nil.
func circuitOf(n *Node, host uint64) *circuit {
	n.c.circuits.mu.Lock()
	defer n.c.circuits.mu.Unlock()
	return n.c.circuits.byHost[host]
}

// hopsTo returns the hops n's route table gives host, or -1.
func hopsTo(n *Node, host uint64) int {
	for _, r := range n.Routes() {
		if r.Host == host {
			return r.Hops
		}
	}
	return -1
}

// waitRoute waits until n routes to host in exactly hops hops (-1: no
// route).
func waitRoute(t testing.TB, n *Node, host uint64, hops int) {
	t.Helper()
	eventually(t, "a route from "+FormatID(n.ID())+" to "+FormatID(host), func() bool { return hopsTo(n, host) == hops })
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// echo serves ln: every connection gets back what it sends.
func echo(t testing.TB, ln net.Listener) {
	t.Helper()
	serveEach(t, ln, func(c net.Conn) { io.Copy(c, c) })
}

// serveEach accepts on ln until the test ends, and serves each
// connection with serve in a goroutine of its own, then closes it.
func serveEach(t testing.TB, ln net.Listener, serve func(net.Conn)) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
}

// roundTrip writes msg on c and reads it back.
func roundTrip(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(patience))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != msg {
		t.Fatalf("got %q, want %q", buf, msg)
	}
	c.SetDeadline(time.Time{})
}

// netListen listens on a free loopback TCP port.
func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
