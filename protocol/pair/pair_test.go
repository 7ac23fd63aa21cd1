package pair_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/pair"
	"github.com/plexusnet/plexus/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func urls(t *testing.T) []string {
	return []string{"inproc://" + t.Name(), "tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/pair.sock"}
}

func TestBothWays(t *testing.T) {
	for _, url := range urls(t) {
		t.Run(url[:3], func(t *testing.T) {
			a, b := prototest.Open(t, pair.New), prototest.Open(t, pair.New)
			addr, err := a.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			// Sent before the peer exists: it waits for it.
			if err := a.Send([]byte("early")); err != nil {
				t.Fatal(err)
			}
			if err := b.Dial(addr); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 20; i++ {
				from, to := a, b
				if i%2 == 1 {
					from, to = b, a
				}
				want := fmt.Sprint("message ", i)
				if i == 0 {
					want = "early"
				} else if err := from.Send([]byte(want)); err != nil {
					t.Fatal(err)
				}
				m, err := to.RecvMsg()
				if err != nil || string(m.Content) != want {
					t.Fatalf("got %q %v, want %q", m.Content, err, want)
				}
				if len(m.Source) != 1 || len(m.Destination) != 0 {
					t.Fatalf("paths %v %v", m.Source, m.Destination)
				}
				// A received message is forwarded as is.
				if i == 0 {
					continue
				}
				if err := to.SendMsg(m); err != nil {
					t.Fatal(err)
				}
				if b, err := from.Recv(); err != nil || string(b) != want {
					t.Fatalf("echo %q %v", b, err)
				}
			}
		})
	}
}

// TestSecondPeerRefused: while a pair has its peer, another is refused,
// whichever side dials; once the peer is gone a new one is accepted.
func TestSecondPeerRefused(t *testing.T) {
	a, b, c := prototest.Open(t, pair.New), prototest.Open(t, pair.New), prototest.Open(t, pair.New, socket.WithReconnectInterval(time.Millisecond, 5*time.Millisecond))
	addr, err := a.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the first peer", func() bool { return a.Stats().Pipes == 1 })

	// c dials: the handshake completes, then a closes the connection.
	// c keeps redialing and is refused every time.
	if err := c.Dial(addr); err != nil && !errors.Is(err, socket.ErrTooManyPeers) {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the intruder to be refused twice", func() bool { return c.Stats().PipesClosed >= 2 })
	if err := c.Send([]byte("intruder")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send([]byte("peer")); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Recv(); err != nil || string(got) != "peer" {
		t.Fatalf("got %q %v", got, err)
	}
	if st := a.Stats(); st.PipesOpened != 1 || st.Pipes != 1 {
		t.Fatalf("listener stats %+v", st)
	}

	// A pair that has its peer cannot dial another.
	other := prototest.Open(t, pair.New)
	otherAddr, _ := other.ListenAddr("inproc://" + t.Name())
	if err := b.Dial(otherAddr); !errors.Is(err, socket.ErrTooManyPeers) {
		t.Fatalf("second dial: %v", err)
	}

	// Once b is gone, c's redial gets in. (The message c queued while it
	// was refused may have been written to a refused connection and lost,
	// as with NNG.)
	b.Close()
	testutil.Eventually(t, "the second peer", func() bool { st := a.Stats(); return st.PipesOpened == 2 && st.Pipes == 1 })
	if err := c.Send([]byte("newcomer")); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := a.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) == "newcomer" {
			break
		}
		if string(got) != "intruder" {
			t.Fatalf("got %q", got)
		}
	}
}

// TestDevice: two pair sockets switched to each other join their peers,
// both ways.
func TestDevice(t *testing.T) {
	left, right := prototest.Open(t, pair.New), prototest.Open(t, pair.New)
	leftAddr, _ := left.ListenAddr("tcp://127.0.0.1:0")
	rightAddr, _ := right.ListenAddr("ipc://" + t.TempDir() + "/right.sock")
	sw := socket.StartSwitch(left, right, nil)
	defer sw.Stop()
	a, b := prototest.Open(t, pair.New), prototest.Open(t, pair.New)
	if err := a.Dial(leftAddr); err != nil {
		t.Fatal(err)
	}
	if err := b.Dial(rightAddr); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		a.Send([]byte(fmt.Sprint("to b ", i)))
		b.Send([]byte(fmt.Sprint("to a ", i)))
		if got, err := b.Recv(); err != nil || string(got) != fmt.Sprint("to b ", i) {
			t.Fatalf("b got %q %v", got, err)
		}
		if got, err := a.Recv(); err != nil || string(got) != fmt.Sprint("to a ", i) {
			t.Fatalf("a got %q %v", got, err)
		}
	}
}

func TestInvalidSendTypes(t *testing.T) {
	s := prototest.Open(t, pair.New)
	ctx := context.Background()
	for name, err := range map[string]error{
		"SendAll":            s.SendAll(nil),
		"SendAllContext":     s.SendAllContext(ctx, nil),
		"SendTo":             s.SendTo(socket.Path{1}, nil),
		"SendToContext":      s.SendToContext(ctx, socket.Path{1}, nil),
		"SendMsg/dest":       s.SendMsg(&socket.Message{Destination: socket.Path{1}}),
		"SendMsgContext/dst": s.SendMsgContext(ctx, &socket.Message{Destination: socket.Path{1}}),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMismatch: pair peers only with pair.
func TestMismatch(t *testing.T) { prototest.Mismatch(t, pair.Protocol, pair.New) }
