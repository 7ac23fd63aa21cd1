package pull_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a pull socket receives with RecvInto without allocating.
func TestRecvIntoAllocs(t *testing.T) {
	r := prototest.Open(t, pull.New, socket.WithRecvQueueSize(256))
	addr, _ := r.ListenAddr("tcp://127.0.0.1:0")
	p := prototest.Open(t, push.New)
	if err := p.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the pusher", func() bool { return r.Stats().Pipes == 1 })
	prototest.RecvIntoAllocs(t, r, func(n int) {
		for range n {
			if err := p.Send(make([]byte, 64)); err != nil {
				t.Fatal(err)
			}
		}
	})
}
