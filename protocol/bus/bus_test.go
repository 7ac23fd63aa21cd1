package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/bus"
	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recvN returns the next n messages of s, sorted.
func recvN(t *testing.T, s socket.Socket, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		b, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	sort.Strings(got)
	return got
}

// TestMesh: in a full mesh every message reaches every other member, and
// never its sender.
func TestMesh(t *testing.T) {
	for _, scheme := range []string{"inproc", "tcp", "ipc"} {
		t.Run(scheme, func(t *testing.T) {
			const n = 4
			members := make([]socket.Socket, n)
			for i := range members {
				members[i] = prototest.Open(t, bus.New)
				var url string
				switch scheme {
				case "inproc":
					url = fmt.Sprintf("inproc://%s/%d", t.Name(), i)
				case "tcp":
					url = "tcp://127.0.0.1:0"
				case "ipc":
					url = fmt.Sprintf("ipc://%s/%d.sock", t.TempDir(), i)
				}
				addr, err := members[i].ListenAddr(url)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range members[:i] {
					if err := m.Dial(addr); err != nil {
						t.Fatal(err)
					}
				}
			}
			testutil.Eventually(t, "the mesh", func() bool {
				for _, m := range members {
					if m.Stats().Pipes != n-1 {
						return false
					}
				}
				return true
			})
			for i, m := range members {
				if err := m.Send([]byte(fmt.Sprint("from ", i))); err != nil {
					t.Fatal(err)
				}
			}
			for i, m := range members {
				var want []string
				for j := range members {
					if j != i {
						want = append(want, fmt.Sprint("from ", j))
					}
				}
				if got := recvN(t, m, n-1); !slices.Equal(got, want) {
					t.Fatalf("member %d got %q, want %q", i, got, want)
				}
			}
		})
	}
}

// TestDevice: one bus socket switched to itself forwards every message to
// every member but its sender, so members that only know the device hear
// each other.
func TestDevice(t *testing.T) {
	dev := prototest.Open(t, bus.New)
	addr, err := dev.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sw := socket.StartSwitch(dev, dev, nil)
	defer sw.Stop()
	members := make([]socket.Socket, 3)
	for i := range members {
		members[i] = prototest.Open(t, bus.New)
		if err := members[i].Dial(addr); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "the members", func() bool { return dev.Stats().Pipes == len(members) })
	for i, m := range members {
		if err := m.Send([]byte(fmt.Sprint("from ", i))); err != nil {
			t.Fatal(err)
		}
		for j, other := range members {
			if j == i {
				continue
			}
			if b, err := other.Recv(); err != nil || string(b) != fmt.Sprint("from ", i) {
				t.Fatalf("member %d got %q %v", j, b, err)
			}
		}
	}
	// Nobody got its own message back: the next message each member
	// receives is the next one sent.
	members[0].Send([]byte("last"))
	for _, m := range members[1:] {
		if b, err := m.Recv(); err != nil || string(b) != "last" {
			t.Fatalf("got %q %v", b, err)
		}
	}
	members[1].Send([]byte("last"))
	if b, err := members[0].Recv(); err != nil || string(b) != "last" {
		t.Fatalf("got %q %v", b, err)
	}
}

func TestInvalid(t *testing.T) {
	b := prototest.Open(t, bus.New)
	ctx := context.Background()
	for name, err := range map[string]error{
		"SendTo":        b.SendTo(socket.Path{1}, nil),
		"SendToContext": b.SendToContext(ctx, socket.Path{1}, nil),
		"SendMsg/dst":   b.SendMsg(&socket.Message{Destination: socket.Path{1}}),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// With no peer a message goes nowhere and sending succeeds, as NNG.
	for name, err := range map[string]error{
		"Send":           b.Send(nil),
		"SendContext":    b.SendContext(ctx, nil),
		"SendAll":        b.SendAll(nil),
		"SendAllContext": b.SendAllContext(ctx, nil),
		"SendMsg":        b.SendMsg(&socket.Message{}),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMismatch: bus peers only with bus.
func TestMismatch(t *testing.T) { prototest.Mismatch(t, bus.Protocol, bus.New) }
