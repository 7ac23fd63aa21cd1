package req_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a req socket receives its replies with RecvInto without
// allocating: the check that a reply answers a request outstanding
// copies nothing.
func TestRecvIntoAllocs(t *testing.T) {
	r := prototest.Open(t, rep.New)
	addr, _ := r.ListenAddr("tcp://127.0.0.1:0")
	go func() { // an echo server
		for {
			m, err := r.RecvMsg()
			if err != nil {
				return
			}
			r.SendTo(m.Source, m.Content)
		}
	}()
	q := prototest.Open(t, req.New, socket.WithRecvQueueSize(256))
	if err := q.Dial(addr); err != nil {
		t.Fatal(err)
	}
	prototest.RecvIntoAllocs(t, q, func(n int) {
		for range n {
			if err := q.Send(make([]byte, 32)); err != nil {
				t.Fatal(err)
			}
		}
	})
}
