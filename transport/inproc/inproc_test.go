package inproc

import (
	"context"
	"errors"
	"io"
	"net/url"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/mempipe"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	req, rep       = testutil.ReqRep()
	reqCfg, repCfg = testutil.ReqRepConfigs()
)

func mustURL(t *testing.T, s string) *url.URL {
	u, err := transport.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDialListen(t *testing.T) {
	tr := New()
	ctx := context.Background()
	u := mustURL(t, "inproc://a/b")
	if _, err := tr.Dial(ctx, u, reqCfg); !errors.Is(err, transport.ErrConnRefused) {
		t.Fatalf("dial with no listener: %v", err)
	}
	l, err := tr.Listen(ctx, u, repCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := tr.Listen(ctx, u, repCfg); !errors.Is(err, transport.ErrAddrInUse) {
		t.Fatalf("second listen: %v", err)
	}
	if _, err := tr.Dial(ctx, u, repCfg); !errors.Is(err, transport.ErrProtocolMismatch) {
		t.Fatalf("rep dialing rep: %v", err)
	}
	c, s := testutil.Connect(t, tr, u, reqCfg, l)
	if c.Peer() != rep || s.Peer() != req || l.Addr() != "inproc://a/b" {
		t.Fatalf("peers %v %v addr %s", c.Peer(), s.Peer(), l.Addr())
	}
	if err := c.Send(transport.AppendFrame(nil, []byte("one")), transport.AppendFrame(nil, []byte("two"))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "two"} {
		m, err := s.Recv()
		if err != nil || string(m) != want {
			t.Fatalf("%q %v", m, err)
		}
	}
	// Frames sent before a close are still delivered, then EOF.
	c.Send(transport.AppendFrame(nil, []byte("last")))
	c.Close()
	if m, err := s.Recv(); err != nil || string(m) != "last" {
		t.Fatalf("after close: %q %v", m, err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if err := s.Send(transport.AppendFrame(nil, nil)); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("send on closed: %v", err)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, transport.ErrClosed) {
		t.Fatal(err)
	}
	// The name is free again.
	l2, err := tr.Listen(ctx, u, repCfg)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
}

func TestOversizeAndBackpressure(t *testing.T) {
	a, b := NewPair(reqCfg, &transport.Config{Self: rep, Peer: req, MaxRecvSize: 4})
	defer a.Close()
	a.Send(transport.AppendFrame(nil, []byte("12345")))
	if _, err := b.Recv(); !errors.Is(err, transport.ErrMsgTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	// A writer beyond the queue limit waits until the reader takes it.
	big := transport.AppendFrame(nil, make([]byte, mempipe.QueueLimit))
	if err := a.Send(big); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- a.Send(big) }()
	b.Close()
	if err := <-done; !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("blocked send after close: %v", err)
	}
}

func TestBadURL(t *testing.T) {
	tr := New()
	u := &url.URL{Scheme: "inproc"}
	if _, err := tr.Listen(context.Background(), u, repCfg); !errors.Is(err, transport.ErrBadURL) {
		t.Fatal(err)
	}
	if _, err := tr.Dial(context.Background(), u, repCfg); !errors.Is(err, transport.ErrBadURL) {
		t.Fatal(err)
	}
}

func TestDialContext(t *testing.T) {
	tr := New()
	u := mustURL(t, "inproc://full")
	l, _ := tr.Listen(context.Background(), u, repCfg)
	defer l.Close()
	var pipes []transport.Pipe
	for i := 0; i < acceptBacklog; i++ {
		p, err := tr.Dial(context.Background(), u, reqCfg)
		if err != nil {
			t.Fatal(err)
		}
		pipes = append(pipes, p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Dial(ctx, u, reqCfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("full backlog with cancelled ctx: %v", err)
	}
	for _, p := range pipes {
		p.Close()
	}
}

func TestInterrupt(t *testing.T) {
	a, b := NewPair(reqCfg, repCfg)
	defer a.Close()
	if !b.Interruptible() {
		t.Fatal("not interruptible")
	}
	b.Interrupt()
	if _, err := b.Recv(); !errors.Is(err, transport.ErrInterrupted) {
		t.Fatalf("interrupted Recv: %v", err)
	}
	a.Send(transport.AppendFrame(nil, []byte("still there")))
	if m, err := b.Recv(); err != nil || string(m) != "still there" {
		t.Fatalf("%q %v", m, err)
	}
}
