package mesh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// The paths a dial can take: to this node, to a neighbour, through a relay.
func dialPaths(t *testing.T) (src *Node, dsts map[string]*Node) {
	ns := nodes(t, 3)
	chain(t, ns)
	return ns[0], map[string]*Node{"self": ns[0], "neighbour": ns[1], "relayed": ns[2]}
}

// isEarly reports whether c was dialed without waiting for its verdict.
func isEarly(c net.Conn) bool { return c.(*conn).early.known != nil }

// TestLaterDialsDoNotWait: the first dial to a port or a service waits for
// its verdict; once it was accepted, later dials to it on the same session
// return at once and carry data as well; another port waits again.
func TestLaterDialsDoNotWait(t *testing.T) {
	src, dsts := dialPaths(t)
	for name, dst := range dsts {
		ln, _ := dst.Listen("", "svc-"+name+":7")
		echo(t, ln)
		other, _ := dst.Listen("", ":8")
		echo(t, other)
		for _, addr := range []string{FormatID(dst.ID()) + ":7", "svc-" + name} {
			eventually(t, addr+" to be reachable", func() bool {
				c, err := src.Dial("", addr)
				if err == nil {
					c.Close()
				}
				return err == nil
			})
			for i := range 3 {
				c, err := src.Dial("", addr)
				if err != nil {
					t.Fatalf("%s: dial %d of %s: %v", name, i, addr, err)
				}
				if !isEarly(c) {
					t.Errorf("%s: dial %d of %s waited for its verdict", name, i, addr)
				}
				roundTrip(t, c, "early "+addr)
				c.Close()
			}
		}
		c, err := src.Dial("", FormatID(dst.ID())+":8")
		if err != nil {
			t.Fatal(err)
		}
		if isEarly(c) {
			t.Errorf("%s: the first dial to another port did not wait for its verdict", name)
		}
		roundTrip(t, c, "first")
		c.Close()
	}
}

// TestEarlyDialRefused: a destination that accepted once, then closed:
// the next dial returns at once, and its first Read (then every Write)
// fails with the refusal, which is also a mux stream reset; the dial after
// it waits for its verdict again and fails fast. (The dials are made
// past the service lookup, which would soon learn that the service is
// gone and fail on its own.)
func TestEarlyDialRefused(t *testing.T) {
	src, dsts := dialPaths(t)
	for name, dst := range dsts {
		for _, tc := range []struct {
			listen string
			h      wire.ConnHeader
			want   error
		}{
			{":9", wire.ConnHeader{Port: 9}, ErrConnRefused},
			{"gone:10", wire.ConnHeader{Port: 10, Name: "gone"}, ErrNoService},
		} {
			ln, _ := dst.Listen("", tc.listen)
			echo(t, ln)
			dial := func() (net.Conn, error) {
				return src.c.dialHost(ctxT(t), dst.ID(), tc.h, Addr{Host: dst.ID(), Port: tc.h.Port})
			}
			c, err := dial()
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			ln.Close()
			c, err = dial()
			if err != nil || !isEarly(c) {
				t.Fatalf("%s %+v: dial: %v, early %v", name, tc.h, err, err == nil && isEarly(c))
			}
			_, err = c.Read(make([]byte, 1))
			if !errors.Is(err, tc.want) || !errors.Is(err, mux.ErrStreamReset) {
				t.Fatalf("%s %+v: Read: %v, want %v (a stream reset)", name, tc.h, err, tc.want)
			}
			t.Logf("%s: %v", name, err)
			if _, err := c.Write([]byte("x")); !errors.Is(err, tc.want) {
				t.Fatalf("%s %+v: Write after the refusal: %v, want %v", name, tc.h, err, tc.want)
			}
			c.Close()
			start := time.Now()
			if _, err := dial(); !errors.Is(err, tc.want) {
				t.Fatalf("%s %+v: the dial after a refusal: %v, want %v", name, tc.h, err, tc.want)
			}
			if d := time.Since(start); d > quick {
				t.Fatalf("%s: the dial after a refusal took %v", name, d)
			}
		}
	}
}

// TestEarlyDialRefusedOnWrite: a connection that only writes learns of
// the refusal from a Write.
func TestEarlyDialRefusedOnWrite(t *testing.T) {
	src, dsts := dialPaths(t)
	dst := dsts["relayed"]
	ln, _ := dst.Listen("", ":9")
	echo(t, ln)
	addr := FormatID(dst.ID()) + ":9"
	c, err := src.Dial("", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	ln.Close()
	c, err = src.Dial("", addr)
	if err != nil || !isEarly(c) {
		t.Fatalf("dial: %v, early %v", err, err == nil && isEarly(c))
	}
	defer c.Close()
	var werr error
	waitFor(t, "a Write to learn of the refusal", func() error {
		if _, werr = c.Write(make([]byte, 100)); werr == nil {
			return errors.New("the Write went through")
		}
		return nil
	})
	if !errors.Is(werr, ErrConnRefused) {
		t.Fatalf("Write: %v, want ErrConnRefused", werr)
	}
}

// TestKnownDestsBounded: a session remembers at most maxKnownDests
// destinations.
func TestKnownDestsBounded(t *testing.T) {
	var k knownDests
	for i := range 3 * maxKnownDests {
		k.add(wire.ConnHeader{Port: uint32(i)})
		if len(k.m) > maxKnownDests {
			t.Fatalf("%d destinations remembered", len(k.m))
		}
	}
	last := wire.ConnHeader{Port: 3*maxKnownDests - 1}
	if !k.has(last) {
		t.Fatal("the newest destination was forgotten")
	}
	k.drop(last)
	if k.has(last) {
		t.Fatal("a dropped destination is still known")
	}
}

// TestConnRefusalAllocs: telling a refusal from another error costs a
// connection no allocation on the common paths: the end of the stream,
// and a reset, bare or wrapped once.
func TestConnRefusalAllocs(t *testing.T) {
	reset := &mux.StreamError{StreamID: 1, Code: resetCode(codeRefused, 0), Remote: true}
	for _, err := range []error{io.EOF, mux.ErrStreamClosed, reset, fmt.Errorf("wrapped: %w", reset)} {
		if n := testing.AllocsPerRun(100, func() { asStreamError(err) }); n != 0 {
			t.Errorf("%v: %v allocations", err, n)
		}
	}
	if rf := connRefusal(1, fmt.Errorf("wrapped: %w", reset)); rf == nil || !errors.Is(rf, ErrConnRefused) {
		t.Fatalf("a wrapped refusal: %v", rf)
	}
	if rf := connRefusal(1, errors.Join(io.EOF, reset)); rf == nil {
		t.Fatal("a refusal in a tree of errors was not found")
	}
}

// TestConnPerRequestOneRoundTrip: a connection per request through a
// relay (dial, request, reply, close) costs one round trip once its
// destination is known: the destination sends no verdict before its reply,
// and the dial, the request and the close each return without waiting for
// a frame from it.
func TestConnPerRequestOneRoundTrip(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	src, dst := ns[0], ns[2]
	ln, err := dst.Listen("", "svc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	eventually(t, "svc to be seen", func() bool { return len(src.Services()) == 1 })
	accepted := make(chan net.Conn, 1)
	go func() {
		for {
			s, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- s
		}
	}()
	other, _ := dst.Listen("", ":9") // the circuit, set up before the requests
	echo(t, other)
	roundTripTo(t, src, FormatID(dst.ID())+":9")
	ci := circuitOf(dst, src.ID())
	buf := make([]byte, 1)
	request := func(i int) (sent uint64) {
		before := ci.sess.Stats().FramesOut
		c, err := src.Dial("", "svc")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		defer s.Close()
		if _, err := io.ReadFull(s, buf); err != nil || buf[0] != byte(i) {
			t.Fatalf("request %d: read %v %v", i, buf, err)
		}
		sent = ci.sess.Stats().FramesOut - before
		s.Write(buf)
		s.Close()
		if _, err := io.ReadFull(c, buf); err != nil || buf[0] != byte(i) {
			t.Fatalf("reply %d: read %v %v", i, buf, err)
		}
		c.Close()
		// Both ends are done with it: nothing more moves for it.
		eventually(t, "the connection to end at both ends", func() bool { return ci.sess.NumStreams() == 0 })
		return sent
	}
	// Before the reply, the destination sends mux's accept ACK (a WINDOW
	// frame that nobody waits for: it tells the opener's backlog it has
	// room) and, to the first dial only, the verdict.
	first := request(0)
	for i := 1; i <= 3; i++ {
		if sent := request(i); sent > 1 || sent >= first {
			t.Errorf("request %d: the destination sent %d frames before its reply (to the first dial, %d)", i, sent, first)
		}
	}
}

// roundTripTo dials addr from n, and checks that an echo comes back.
func roundTripTo(t *testing.T, n *Node, addr string) {
	t.Helper()
	c, err := n.Dial("", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, "hello")
}
