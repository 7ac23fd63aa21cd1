package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// quick is the bound within which failing dials must fail on a quiet
// mesh: "well under a second", with slack for a loaded machine.
const quick = 2 * time.Second

func TestDialNeighbourByPort(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	ln, err := b.Listen("", ":80")
	if err != nil {
		t.Fatal(err)
	}
	if got := ln.Addr(); got != (Addr{Host: b.ID(), Port: 80}) || got.Network() != "mesh" {
		t.Fatalf("listener address %v", got)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := a.Dial("", FormatID(b.ID())+":80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	defer s.Close()
	if s.RemoteAddr() != (Addr{Host: a.ID()}) {
		t.Fatalf("accepted conn's RemoteAddr %v, want %v", s.RemoteAddr(), Addr{Host: a.ID()})
	}
	if s.LocalAddr() != (Addr{Host: b.ID(), Port: 80}) || c.RemoteAddr() != (Addr{Host: b.ID(), Port: 80}) || c.LocalAddr().(Addr).Host != a.ID() {
		t.Fatalf("addresses: %v %v %v", s.LocalAddr(), c.RemoteAddr(), c.LocalAddr())
	}
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if want := FormatID(b.ID()) + ":80"; s.LocalAddr().String() != want {
		t.Fatalf("String() = %q, want %q", s.LocalAddr(), want)
	}
}

func TestDialNeighbourByService(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	ln, err := b.Listen("", "billing")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	eventually(t, "a to see billing", func() bool { return len(a.Services()) == 1 })
	got := a.Services()[0]
	if got != (Service{Name: "billing", Host: b.ID(), Port: ln.Addr().(Addr).Port, Hops: 1}) {
		t.Fatalf("Services: %+v", got)
	}
	c, err := a.Dial("", "billing")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, "hello billing")
	port := strconv.Itoa(int(got.Port))
	c2, err := a.Dial("", "billing:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if _, err := a.Dial("", "billing:1"); !errors.Is(err, ErrNoService) {
		t.Fatalf("dial billing on the wrong port: %v", err)
	}
}

func TestDialSelf(t *testing.T) {
	a := newNode(t)
	ln, err := a.Listen("", "self-svc:9")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	for _, addr := range []string{":9", FormatID(a.ID()) + ":9", "self-svc", "self-svc:9"} {
		c, err := a.Dial("", addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		roundTrip(t, c, "to myself via "+addr)
		c.Close()
	}
	if _, err := a.Dial("", ":10"); !errors.Is(err, ErrConnRefused) {
		t.Fatalf("dial a free port of our own: %v", err)
	}
}

func TestAddrInUse(t *testing.T) {
	a := newNode(t)
	l1, err := a.Listen("", "svc:80")
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{":80", "svc", "svc:81", "other:80"} {
		if _, err := a.Listen("", addr); !errors.Is(err, ErrAddrInUse) {
			t.Fatalf("Listen %q: %v, want ErrAddrInUse", addr, err)
		}
	}
	// Another env is another namespace.
	l2, err := a.WithEnv("staging").Listen("", "svc:80")
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	l1.Close()
	l3, err := a.Listen("", "svc:80")
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	l3.Close()
}

func TestListenPortZeroPicksFreePorts(t *testing.T) {
	a := newNode(t)
	seen := map[uint32]bool{}
	for range 10 {
		ln, err := a.Listen("", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		p := ln.Addr().(Addr).Port
		if p == 0 || seen[p] {
			t.Fatalf("port %d picked twice or zero", p)
		}
		seen[p] = true
	}
}

func TestBadAddresses(t *testing.T) {
	a := newNode(t)
	for _, addr := range []string{"", "a b", "x:y", "0123456789abcdef", "0123456789abcdef:99999999999", ".hidden", "mesh:-1"} {
		if _, err := a.Dial("", addr); !errors.Is(err, ErrBadAddress) {
			t.Errorf("Dial(%q): %v, want ErrBadAddress", addr, err)
		}
	}
	if _, err := a.Dial("tcp", ":80"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Dial on network tcp: %v", err)
	}
	if _, err := a.Listen("", "0123456789abcdef:80"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Listen on another host: %v", err)
	}
}

func TestFailFast(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	cases := []struct {
		addr string
		want error
	}{
		{FormatID(b.ID()) + ":81", ErrConnRefused},
		{"nosuch", ErrNoService},
		{"0123456789abcdef:80", ErrNoRoute},
	}
	for _, tc := range cases {
		start := time.Now()
		_, err := a.Dial("", tc.addr)
		if !errors.Is(err, tc.want) {
			t.Fatalf("Dial %s: %v, want %v", tc.addr, err, tc.want)
		}
		if d := time.Since(start); d > quick {
			t.Fatalf("Dial %s took %v", tc.addr, d)
		}
		t.Logf("%s: %v", tc.addr, err)
	}
}

func TestDialContextCancelled(t *testing.T) {
	a := newNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.DialContext(ctx, "", ":1"); err == nil {
		t.Fatal("dial with a cancelled context succeeded")
	}
	if _, err := a.DialTimeout("", "nosuch", time.Second); !errors.Is(err, ErrNoService) {
		t.Fatal(err)
	}
}

// TestWriteDeadlineToStalledReader: a peer that stopped reading makes our
// writes block until their deadline, not forever (astranet hangs), on every
// path: to ourselves, to a neighbour (and through a relay, in
// circuit_test.go).
func TestWriteDeadlineToStalledReader(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	for _, dst := range []*Node{a, b} {
		ln, _ := dst.Listen("", ":5")
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
		c, err := a.Dial("", FormatID(dst.ID())+":5")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		writeUntilDeadline(t, c)
	}
}

// writeUntilDeadline writes to c, whose peer does not read, until the
// write deadline fails a write.
func writeUntilDeadline(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 64<<10)
	start := time.Now()
	for {
		_, err := c.Write(buf)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("write failed with %v, want a deadline error", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("%v is not a net.Error timeout", err)
			}
			break
		}
		if time.Since(start) > patience {
			t.Fatal("writes to a peer that does not read never blocked")
		}
	}
}

func TestListenerCloseRefusesAndUnblocksAccept(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	ln, _ := b.Listen("", ":7")
	done := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		done <- err
	}()
	ln.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if _, err := a.Dial("", FormatID(b.ID())+":7"); !errors.Is(err, ErrConnRefused) {
		t.Fatalf("dial a closed port: %v", err)
	}
}

func TestCloseNodeUnblocksEverything(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	ln, _ := b.Listen("", ":8")
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := a.Dial("", FormatID(b.ID())+":8")
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	readErr := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		readErr <- err
	}()
	acceptErr := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		acceptErr <- err
	}()
	b.Close()
	if err := <-readErr; err == nil {
		t.Fatal("read on a closed node's conn succeeded")
	}
	if err := <-acceptErr; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(patience))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from the far end of a closed node: %v", err)
	}
	if _, err := b.Listen("", ":9"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Listen after Close: %v", err)
	}
	if _, err := b.Dial("", ":9"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
}

// fillSession dials port on dst from a until the session between them has
// no credit left for connections: each connection writes 64 KiB (with a
// write deadline) that dst's application never reads. It returns once the
// writes are over, with a function that tells how many bytes dst holds
// unread on them; the connections are closed when the test ends. conns 0
// dials as many as the default connection window takes (a link's
// class window, a circuit's session window), and a quarter more.
func fillSession(t *testing.T, a, dst *Node, port uint32, conns int) (unread func() int) {
	t.Helper()
	if conns == 0 {
		conns = DefaultLinkConnWindow/(64<<10) + DefaultLinkConnWindow/(256<<10)
	}
	sink, err := dst.Listen("", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never read
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		sink.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	var cs []net.Conn
	for range conns {
		c, err := a.DialTimeout("", fmt.Sprintf("%s:%d", FormatID(dst.ID()), port), patience)
		if err != nil {
			t.Fatalf("dial %d: %v", port, err)
		}
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c)
	}
	buf := make([]byte, 64<<10)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write(buf)
		}()
	}
	wg.Wait()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range held {
			n += c.(*conn).Buffered()
		}
		return n
	}
}

// TestDialDeadlineOnAFullSession: a dial bounded by a deadline returns at
// its deadline even when the session has no credit left for its header
// (an application that reads nothing on the same session took it all).
func TestDialDeadlineOnAFullSession(t *testing.T) {
	a, b := newNode(t), newNode(t)
	linked(t, a, b)
	ln, _ := b.Listen("", ":1")
	echo(t, ln)
	fillSession(t, a, b, 9, 0)
	for _, addr := range []string{FormatID(b.ID()) + ":1", FormatID(b.ID()) + ":9"} { // a first dial, a later one
		start := time.Now()
		c, err := a.DialTimeout("", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			t.Fatalf("%s: the dial went through a full session", addr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("DialTimeout(500ms) to %s returned after %v: %v", addr, d, err)
		}
		checkTimeout(t, err)
		t.Logf("%s: %v after %v", addr, err, time.Since(start))
	}
}

// checkTimeout checks that err is a dial timeout as package net makes
// them: os.ErrDeadlineExceeded, context.DeadlineExceeded and a net.Error
// whose Timeout is true.
func checkTimeout(t *testing.T, err error) {
	t.Helper()
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%v: want a timeout (os.ErrDeadlineExceeded, a net.Error with Timeout)", err)
	}
}

// TestDialTimeoutIsANetTimeout: a dial that runs out of time fails as
// package net's do, whichever path it was on.
func TestDialTimeoutIsANetTimeout(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	for _, dst := range ns {
		_, err := ns[0].DialTimeout("", FormatID(dst.ID())+":1", time.Nanosecond)
		checkTimeout(t, err)
	}
	_, err := ns[0].DialTimeout("", "nosuch", time.Nanosecond)
	if !errors.Is(err, ErrNoService) { // known at once: no time needed
		checkTimeout(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ns[0].DialContext(ctx, "", FormatID(ns[1].ID())+":1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled dial: %v", err)
	}
}

// TestUnreadConnectionsStarveNeitherRecordsNorCircuits: connections to a
// neighbour whose application reads nothing fill the credit of the link
// session's class, its connections' own, only: the link's control stream
// still carries records, and circuits through the link still carry data.
// (They once shared the link's session credit, and 48 unread connections
// stalled it all.)
func TestUnreadConnectionsStarveNeitherRecordsNorCircuits(t *testing.T) {
	ns := nodes(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	chain(t, ns)
	far, _ := c.Listen("", ":1")
	echo(t, far)
	unread := fillSession(t, a, b, 9, 0)
	// The connections' class is full: b holds most of its window unread
	// (frames cost their overhead too), and not a byte beyond it.
	eventually(t, "the unread connections to fill their class", func() bool {
		return unread() >= DefaultLinkConnWindow*3/4
	})
	if n := unread(); n > DefaultLinkConnWindow {
		t.Fatalf("b holds %d bytes unread on connections, beyond their class window %d", n, DefaultLinkConnWindow)
	}
	fresh, _ := a.Listen("", "fresh")
	defer fresh.Close()
	eventually(t, "b to see a's new service", func() bool {
		for _, s := range b.Services() {
			if s.Name == "fresh" {
				return true
			}
		}
		return false
	})
	conn, err := a.DialTimeout("", FormatID(c.ID())+":1", patience)
	if err != nil {
		t.Fatalf("a circuit through the link: %v", err)
	}
	defer conn.Close()
	roundTrip(t, conn, "through b")
}
