package inproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/mempipe"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/internal/testsupport/transporttest"
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

func TestConformance(t *testing.T) {
	var n atomic.Int64
	transporttest.Run(t, transporttest.Setup{
		Transport: New(),
		ListenURL: func(testing.TB) string { return fmt.Sprintf("inproc://conformance/%d", n.Add(1)) },
		BadURLs:   []string{"inproc://", "inproc:"},
		AddrInUse: true,
	})
}

// TestDialListen: what inproc adds to the suite: a dial to a name nobody
// listens on is refused, a closed pipe's peer reads io.EOF, and a
// listener's name is free again once it is closed.
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
	c, s := testutil.Connect(t, tr, u, reqCfg, l)
	if l.Addr() != "inproc://a/b" {
		t.Fatalf("addr %s", l.Addr())
	}
	c.Close()
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if err := s.Send(transport.AppendFrame(nil, nil)); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("send on closed: %v", err)
	}
	l.Close()
	// The name is free again.
	l2, err := tr.Listen(ctx, u, repCfg)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
}

// TestBackpressure: a writer beyond the queue limit waits until the reader
// takes it, or until the pipe closes.
func TestBackpressure(t *testing.T) {
	a, b := NewPair(reqCfg, repCfg)
	defer a.Close()
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
