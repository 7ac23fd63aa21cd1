package pull_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a pull socket receives with RecvInto without allocating.
func TestRecvIntoAllocs(t *testing.T) {
	r := prototest.Open(t, pull.New, socket.WithRecvQueueSize(256))
	p := prototest.Open(t, push.New)
	prototest.Connect(t, r, p)
	prototest.RecvIntoAllocs(t, r, func(n int) {
		for range n {
			if err := p.Send(make([]byte, 64)); err != nil {
				t.Fatal(err)
			}
		}
	})
}
