package sub_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
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
	p := prototest.Open(t, pub.New, pub.WithBlocking())
	prototest.Connect(t, s, p)
	prototest.RecvIntoAllocs(t, s, func(n int) {
		for range n {
			if err := p.Send([]byte("topic: a message")); err != nil {
				t.Fatal(err)
			}
		}
	})
}
