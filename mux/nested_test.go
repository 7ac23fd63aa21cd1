package mux

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/nettest"
)

// nestedPair returns an inner session pair running over one stream of an
// outer session pair over TCP, and the outer streams.
func nestedPair(t *testing.T, cfg *Config) (ic, is *Session, x, y *Stream) {
	t.Helper()
	oc, os := sessionPair(t, tcpPipe, nil, nil)
	x, y = streamPair(t, oc, os)
	ic, err := Client(x, cfg)
	if err != nil {
		t.Fatal(err)
	}
	is, err = Server(y, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ic.Close()
		is.Close()
	})
	return ic, is, x, y
}

// TestNestedCarries: 8 streams of a nested session carry 1 MiB each way
// in writes of random sizes (small ones take the inline path, large ones
// the writer's), in order and whole, and messages keep their boundaries.
func TestNestedCarries(t *testing.T) {
	ic, is, _, _ := nestedPair(t, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		a, b := streamPair(t, ic, is)
		for j, c := range []struct{ w, r *Stream }{{a, b}, {b, a}} {
			want := randBytes(1<<20, int64(2*i+j))
			wg.Add(2)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(i)))
				for p := want; len(p) > 0; {
					n := min(len(p), 1+rng.Intn(20000))
					if _, err := c.w.Write(p[:n]); err != nil {
						t.Error(err)
						return
					}
					p = p[n:]
				}
				c.w.CloseWrite()
			}()
			go func() {
				defer wg.Done()
				got, err := io.ReadAll(c.r)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("stream %d: %d of %d bytes, %v", i, len(got), len(want), err)
				}
			}()
		}
	}
	a, b := streamPair(t, ic, is)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := range 1000 {
			if err := a.Send(randBytes(k, int64(k))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for k := range 1000 {
		m, err := b.Recv()
		if err != nil || !bytes.Equal(m, randBytes(k, int64(k))) {
			t.Fatalf("message %d: %d bytes, %v", k, len(m), err)
		}
	}
	wg.Wait()
}

// TestNestedOuterReset: when the stream under a nested session is reset,
// the nested session ends and its streams' reads and writes fail.
func TestNestedOuterReset(t *testing.T) {
	ic, is, x, _ := nestedPair(t, nil)
	a, b := streamPair(t, ic, is)
	errs := make(chan error, 1)
	go func() {
		p := make([]byte, 512)
		for {
			if _, err := a.Write(p); err != nil {
				errs <- err
				return
			}
		}
	}()
	if _, err := io.ReadFull(b, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	x.Reset(0x77)
	if err := <-errs; err == nil {
		t.Fatal("a write on a nested session over a reset stream succeeded")
	}
	if _, err := io.Copy(io.Discard, b); err == nil {
		t.Fatal("the far end read to EOF: want an error")
	}
	waitFor(t, func() bool { return ic.isClosed() && is.isClosed() })
	if _, err := ic.Ping(t.Context()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Ping on the ended nested session: %v, want net.ErrClosed", err)
	}
}

// TestNestedConn runs the net.Conn conformance suite on streams of a
// nested session.
func TestNestedConn(t *testing.T) {
	nettest.TestConn(t, func() (net.Conn, net.Conn, func(), error) {
		ic, is, x, y := nestedPair(t, nil)
		a, b := streamPair(t, ic, is)
		return a, b, func() {
			a.Close()
			b.Close()
			ic.Close()
			is.Close()
			x.Close()
			y.Close()
		}, nil
	})
}
