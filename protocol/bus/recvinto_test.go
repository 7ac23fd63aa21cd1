package bus_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/protocol/bus"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a bus socket receives with RecvInto without allocating.
func TestRecvIntoAllocs(t *testing.T) {
	a := prototest.Open(t, bus.New, socket.WithRecvQueueSize(256))
	b := prototest.Open(t, bus.New, socket.WithSendQueueSize(256)) // a bus drops for a full queue
	prototest.Connect(t, a, b)
	prototest.RecvIntoAllocs(t, a, func(n int) {
		for range n {
			if err := b.Send(make([]byte, 64)); err != nil {
				t.Fatal(err)
			}
		}
	})
}
