package mesh

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
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
