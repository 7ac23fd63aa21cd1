package pull_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/protocol/bus"
	"github.com/plexusnet/plexus/protocol/pair"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newPull(t *testing.T) socket.Socket {
	t.Helper()
	s, err := pull.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestFanIn: one puller receives from several pushers.
func TestFanIn(t *testing.T) {
	q := newPull(t)
	addr, err := q.ListenAddr("inproc://" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, name := range []string{"a", "b", "c"} {
		p, err := push.New()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Dial(addr); err != nil {
			t.Fatal(err)
		}
		if err := p.Send([]byte(name)); err != nil {
			t.Fatal(err)
		}
		want[name] = true
	}
	for len(want) > 0 {
		b, err := q.Recv()
		if err != nil || !want[string(b)] {
			t.Fatalf("got %q %v, want one of %v", b, err, want)
		}
		delete(want, string(b))
	}
}

func TestInvalid(t *testing.T) {
	q := newPull(t)
	ctx := context.Background()
	for name, err := range map[string]error{
		"Send":           q.Send(nil),
		"SendContext":    q.SendContext(ctx, nil),
		"SendAll":        q.SendAll(nil),
		"SendAllContext": q.SendAllContext(ctx, nil),
		"SendTo":         q.SendTo(socket.Path{1}, nil),
		"SendMsg":        q.SendMsg(&socket.Message{}),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMismatch: pull peers only with push.
func TestMismatch(t *testing.T) {
	for _, p := range []socket.Protocol{
		pair.Protocol, bus.Protocol, pub.Protocol, sub.Protocol, pull.Protocol,
		req.Protocol, rep.Protocol, surveyor.Protocol, respondent.Protocol, socket.RawProtocol,
	} {
		t.Run(p.Self.Name, func(t *testing.T) {
			ours := newPull(t)
			theirs := socket.New(socket.WithProtocol(p))
			defer theirs.Close()
			addr, err := ours.ListenAddr("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := theirs.Dial(addr); !errors.Is(err, socket.ErrProtocolMismatch) {
				t.Fatalf("%s dialing pull: %v", p.Self.Name, err)
			}
			addr, err = theirs.ListenAddr("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := ours.Dial(addr); !errors.Is(err, socket.ErrProtocolMismatch) {
				t.Fatalf("pull dialing %s: %v", p.Self.Name, err)
			}
			if n := ours.Stats().PipesOpened + theirs.Stats().PipesOpened; n != 0 {
				t.Fatalf("%d pipes opened", n)
			}
		})
	}
}
