package sub_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a sub socket receives with RecvInto without allocating, its topics
// checked at each receive.
func TestRecvIntoAllocs(t *testing.T) {
	s := prototest.Open(t, sub.New, socket.WithRecvQueueSize(256))
	if err := sub.Subscribe(s, []byte("topic")); err != nil {
		t.Fatal(err)
	}
	addr, _ := s.ListenAddr("tcp://127.0.0.1:0")
	p := prototest.Open(t, pub.New, pub.WithBlocking())
	if err := p.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the subscriber", func() bool { return p.Stats().Pipes == 1 })
	prototest.RecvIntoAllocs(t, s, func(n int) {
		for range n {
			if err := p.Send([]byte("topic: a message")); err != nil {
				t.Fatal(err)
			}
		}
	})
}
