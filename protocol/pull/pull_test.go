package pull_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFanIn: one puller receives from several pushers.
func TestFanIn(t *testing.T) {
	q := prototest.Open(t, pull.New)
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
	q := prototest.Open(t, pull.New)
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
func TestMismatch(t *testing.T) { prototest.Mismatch(t, pull.Protocol, pull.New) }
