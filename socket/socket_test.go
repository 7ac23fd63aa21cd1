package socket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
	"github.com/plexusnet/plexus/transport/inproc"
)

func TestTransports(t *testing.T) {
	srvTLS, cliTLS := testutil.TLSConfigs(t)
	for _, url := range transportURLs(t) {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			l, d := connected(t, url, []Option{WithTLSConfig(srvTLS)}, []Option{WithTLSConfig(cliTLS)})
			const n = 500
			// Send while receiving: 500 small writes can fill a Unix
			// socket's buffer (each write costs the kernel far more than
			// its bytes) while the listener's queue is full, and a test
			// that sent them all first waited forever.
			sent := make(chan error, 1)
			go func() {
				for i := 0; i < n; i++ {
					if err := d.Send([]byte(fmt.Sprint(i))); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			var src Path
			for i := 0; i < n; i++ {
				m, err := l.RecvMsg()
				if err != nil {
					t.Fatal(err)
				}
				if string(m.Content) != fmt.Sprint(i) {
					t.Fatalf("message %d: %q", i, m.Content)
				}
				if len(m.Source) != 1 || m.Source[0]&EndOfPath != 0 || m.TTL != DefaultTTL-1 {
					t.Fatalf("source %v ttl %d", m.Source, m.TTL)
				}
				src = m.Source
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			big := bytes.Repeat([]byte("x"), 200_000)
			if err := l.SendTo(src, big); err != nil {
				t.Fatal(err)
			}
			if r, err := d.Recv(); err != nil || !bytes.Equal(r, big) {
				t.Fatalf("reply: %d bytes, %v", len(r), err)
			}
			testutil.Eventually(t, "the reply to be counted", func() bool { return l.Stats().MsgsSent == 1 })
			if st := l.Stats(); st.MsgsRecv != n || st.PipesOpened != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestBadURLs(t *testing.T) {
	s := mustNew()
	defer s.Close()
	tests := []struct {
		url string
		err error
	}{
		{"nope://x", transport.ErrUnknownScheme},
		{"tcp:/x", transport.ErrBadURL},
		{"127.0.0.1:80", transport.ErrBadURL},
		{"tcp://127.0.0.1", transport.ErrBadURL},
		{"tcp://127.0.0.1:1/path", transport.ErrBadURL},
		{"ipc://", transport.ErrBadURL},
		{"inproc://", transport.ErrBadURL},
		{"ws://127.0.0.1", transport.ErrBadURL},
		{"tls+tcp://127.0.0.1:0", transport.ErrNoTLSConfig},
	}
	for _, tt := range tests {
		if err := s.Dial(tt.url); !errors.Is(err, tt.err) {
			t.Errorf("Dial(%q) = %v, want %v", tt.url, err, tt.err)
		}
		if err := s.Listen(tt.url); !errors.Is(err, tt.err) {
			t.Errorf("Listen(%q) = %v, want %v", tt.url, err, tt.err)
		}
	}
}

// other is a protocol that does not pair with the raw one.
var other = Protocol{
	Self:   transport.Proto{ID: 0x30, Name: "req"},
	Peer:   transport.Proto{ID: 0x31, Name: "rep"},
	Header: HeaderRequest,
	TTL:    8,
}

func TestProtocolMismatch(t *testing.T) {
	srvTLS, cliTLS := testutil.TLSConfigs(t)
	for _, url := range transportURLs(t) {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			l := mustNew(WithProtocol(other), WithTLSConfig(srvTLS))
			defer l.Close()
			addr, err := l.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			d := mustNew(WithTLSConfig(cliTLS))
			defer d.Close()
			if err := d.Dial(addr); !errors.Is(err, ErrProtocolMismatch) {
				t.Fatalf("raw dialing req: %v", err)
			}
			if l.Stats().Pipes != 0 || d.Stats().Pipes != 0 {
				t.Fatal("a mismatched pipe was kept")
			}
		})
	}
}

func TestNewPair(t *testing.T) {
	a, b := newPair(t)
	defer a.Close()
	defer b.Close()
	if err := a.Send([]byte("to b")); err != nil {
		t.Fatal(err)
	}
	m, err := b.RecvMsg()
	if err != nil || string(m.Content) != "to b" {
		t.Fatal(m, err)
	}
	if err := b.SendTo(m.Source, []byte("to a")); err != nil {
		t.Fatal(err)
	}
	if r, err := a.Recv(); err != nil || string(r) != "to a" {
		t.Fatal(string(r), err)
	}
	a.Close()
	testutil.Eventually(t, "b to see a gone", func() bool { return b.Stats().Pipes == 0 })

	// A protocol that does not pair with itself is an error, and no
	// socket is left behind (goleak checks their goroutines).
	c, d, err := NewPair(WithProtocol(other))
	if !errors.Is(err, ErrProtocolMismatch) || c != nil || d != nil {
		t.Fatalf("req paired with req: %v, %v, %v", c, d, err)
	}
}

func TestCloseUnblocksAndRefuses(t *testing.T) {
	s := mustNew(WithSendQueueSize(1))
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(2)
	go func() { defer wg.Done(); _, err := s.Recv(); errs <- err }()
	go func() {
		defer wg.Done()
		s.Send([]byte("fills the queue"))
		errs <- s.Send([]byte("waits"))
	}()
	testutil.Eventually(t, "both calls to block", func() bool {
		s := s.(*sock)
		s.rq.mu.Lock()
		w := s.rq.waiters
		s.rq.mu.Unlock()
		s.sq.mu.Lock()
		sw := s.sq.spaceWait
		s.sq.mu.Unlock()
		return w == 1 && sw == 1
	})
	s.(*sock).o.sendStopTimeout = 0
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked call ended with %v", err)
		}
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Send":   s.Send(nil),
		"Dial":   s.Dial("inproc://x"),
		"Listen": s.Listen("inproc://x"),
		"SendTo": s.SendTo(Path{1}, nil),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	if _, err := s.RecvMsg(); !errors.Is(err, ErrClosed) {
		t.Errorf("RecvMsg after Close: %v", err)
	}
}

// TestErrClosedIsNetErrClosed: every way a closed socket refuses work
// matches net.ErrClosed as well as ErrClosed, as mux's errors do.
func TestErrClosedIsNetErrClosed(t *testing.T) {
	s := mustNew()
	s.Close()
	_, recvErr := s.Recv()
	for name, err := range map[string]error{
		"ErrClosed": ErrClosed,
		"Close":     s.Close(),
		"Send":      s.Send(nil),
		"Recv":      recvErr,
		"Dial":      s.Dial("inproc://x"),
		"Listen":    s.Listen("inproc://x"),
		"deadline":  s.SetRecvDeadline(time.Now()),
	} {
		if !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrClosed) {
			t.Errorf("%s: %v does not match both net.ErrClosed and ErrClosed", name, err)
		}
	}
	if errors.Is(net.ErrClosed, ErrClosed) || errors.Is(ErrBrokenPath, net.ErrClosed) {
		t.Fatal("the match goes one way only, and only for ErrClosed")
	}
}

func TestConcurrentSendRecv(t *testing.T) {
	l, d := connected(t, "tcp://127.0.0.1:0", nil, nil)
	const senders, each = 4, 500
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := d.Send([]byte(fmt.Sprintf("%d/%d", g, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	var mu sync.Mutex
	seen := make(map[string]bool)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if len(seen) == senders*each {
					mu.Unlock()
					return
				}
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				b, err := l.RecvContext(ctx)
				cancel()
				if err != nil {
					continue
				}
				mu.Lock()
				seen[string(b)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != senders*each {
		t.Fatalf("got %d distinct messages", len(seen))
	}
}

func TestWithTransportPrivateNamespace(t *testing.T) {
	private := inproc.New()
	l := mustNew(WithTransport(private))
	defer l.Close()
	if err := l.Listen("inproc://private-name"); err != nil {
		t.Fatal(err)
	}
	outsider := mustNew()
	defer outsider.Close()
	if err := outsider.Dial("inproc://private-name"); !errors.Is(err, transport.ErrConnRefused) {
		t.Fatalf("registry inproc reached a private name: %v", err)
	}
	insider := mustNew(WithTransport(private))
	defer insider.Close()
	if err := insider.Dial("inproc://private-name"); err != nil {
		t.Fatal(err)
	}
}

// TestRecvDoneContext: a done context makes a receive non-blocking: a
// queued message is returned, an empty queue gives the context's error.
func TestRecvDoneContext(t *testing.T) {
	a, b := newPair(t)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.RecvContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("empty queue: %v", err)
	}
	if err := a.Send([]byte("queued")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "message queued", func() bool {
		m, err := b.RecvContext(ctx)
		return err == nil && string(m) == "queued"
	})
}
