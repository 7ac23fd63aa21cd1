package pub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/bus"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// subscribers connects n subscribers (subscribed to everything) to p and
// returns them; none of them reads.
func subscribers(t *testing.T, p socket.Socket, n int) []socket.Socket {
	t.Helper()
	addr, err := p.ListenAddr("inproc://" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	subs := make([]socket.Socket, n)
	for i := range subs {
		s, err := sub.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sub.Subscribe(s, nil)
		if err := s.Dial(addr); err != nil {
			t.Fatal(err)
		}
		subs[i] = s
	}
	testutil.Eventually(t, "the subscribers", func() bool { return p.Stats().Pipes == n })
	return subs
}

// TestSlowSubscriber: a subscriber that does not read never blocks the
// publisher (it misses messages instead, counted as dropped), and the
// others still get what they keep up with.
func TestSlowSubscriber(t *testing.T) {
	p := prototest.Open(t, pub.New)
	subs := subscribers(t, p, 2)
	fast := subs[1]
	got := make(chan int, 1)
	go func() {
		n := 0
		for {
			if _, err := fast.Recv(); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	// Far more than the slow subscriber's queues and pipe hold.
	msg := make([]byte, 16<<10)
	for i := 0; i < 2000; i++ {
		if err := p.Send(msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	testutil.Eventually(t, "drops for the slow subscriber", func() bool { return p.Stats().Dropped > 0 })
	fast.Close()
	if n := <-got; n == 0 {
		t.Fatal("the fast subscriber got nothing")
	}
}

// TestBlocking: with WithBlocking a publisher waits for its slowest
// subscriber, until the send deadline.
func TestBlocking(t *testing.T) {
	p := prototest.Open(t, pub.New, pub.WithBlocking())
	subscribers(t, p, 1)
	msg := make([]byte, 16<<10)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := p.SendContext(ctx, msg)
		cancel()
		if err == nil {
			if i > 100000 {
				t.Fatal("the publisher never blocked")
			}
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("send %d: %v", i, err)
		}
		break
	}
	if d := p.Stats().Dropped; d != 0 {
		t.Fatalf("%d messages dropped", d)
	}
}

// TestNoSubscribers: publishing with nobody listening discards the
// message and succeeds, as NNG.
func TestNoSubscribers(t *testing.T) {
	p := prototest.Open(t, pub.New)
	for i := 0; i < 1000; i++ {
		if err := p.Send([]byte("into the void")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInvalid(t *testing.T) {
	p := prototest.Open(t, pub.New)
	ctx := context.Background()
	for name, err := range map[string]error{
		"SendTo":         p.SendTo(socket.Path{1}, nil),
		"SendToContext":  p.SendToContext(ctx, socket.Path{1}, nil),
		"SendMsg/dst":    p.SendMsg(&socket.Message{Destination: socket.Path{1}}),
		"SendMsgCtx/dst": p.SendMsgContext(ctx, &socket.Message{Destination: socket.Path{1}}),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := p.Recv(); !errors.Is(err, socket.ErrInvalidRecvType) {
		t.Errorf("Recv: %v", err)
	}
	for name, err := range map[string]error{
		"SendAll":        p.SendAll(nil),
		"SendAllContext": p.SendAllContext(ctx, nil),
		"SendMsg":        p.SendMsg(&socket.Message{}),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMismatch: pub peers only with sub.
func TestMismatch(t *testing.T) { prototest.Mismatch(t, pub.Protocol, pub.New) }

// TestOptionChecked: pub's option is an error on any other socket; sub's
// operations on a pub socket too.
func TestOptionChecked(t *testing.T) {
	for name, newSocket := range map[string]func(...socket.Option) (socket.Socket, error){
		"bus": bus.New, "sub": sub.New,
	} {
		if _, err := newSocket(pub.WithBlocking()); !errors.Is(err, socket.ErrBadOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p := prototest.Open(t, pub.New)
	if err := sub.Subscribe(p, nil); !errors.Is(err, socket.ErrBadOption) {
		t.Errorf("sub.Subscribe on a pub socket: %v", err)
	}
	if _, err := pub.New(socket.WithSendMode(socket.SendToOne)); !errors.Is(err, socket.ErrBadOption) {
		t.Errorf("pub.New sending to one: %v", err)
	}
}
