package mesh

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
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

func TestServeAndJoinOverTCP(t *testing.T) {
	a, b := newNode(t), newNode(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(ln); err != nil {
		t.Fatal(err)
	}
	if err := b.Join("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, a, b.ID(), 1)
	waitRoute(t, b, a.ID(), 1)
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

func TestJoinBackoff(t *testing.T) {
	d := joinMinDelay
	for i := 0; i < 20; i++ {
		w, next := backoff(d)
		if w < d/2 || w > d {
			t.Fatalf("wait %v outside [%v, %v]", w, d/2, d)
		}
		if next > joinMaxDelay || next < d {
			t.Fatalf("next delay %v after %v", next, d)
		}
		d = next
	}
	if d != joinMaxDelay {
		t.Fatalf("delay %v after 20 failures, want %v", d, joinMaxDelay)
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
