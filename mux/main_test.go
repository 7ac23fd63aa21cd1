package mux

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// transports the tests run sessions over.
var transports = []struct {
	name string
	pipe func(t testing.TB) (net.Conn, net.Conn)
}{
	{"TCP", tcpPipe},
	{"Pipe", func(testing.TB) (net.Conn, net.Conn) { return net.Pipe() }},
}

// tcpPipe returns both ends of a loopback TCP connection.
func tcpPipe(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return c1, r.c
}

// sessionPair starts a client and a server session over pipe; both are
// closed when the test ends.
func sessionPair(t testing.TB, pipe func(testing.TB) (net.Conn, net.Conn), ccfg, scfg *Config) (*Session, *Session) {
	t.Helper()
	c1, c2 := pipe(t)
	cs, err := Client(c1, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Server(c2, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Close()
	})
	return cs, ss
}

// streamPair opens a stream on c and accepts it on s.
func streamPair(t testing.TB, c, s *Session) (*Stream, *Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
