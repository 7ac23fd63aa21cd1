package rep_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a rep socket receives requests with RecvInto without
// allocating, remembering each one's backtrace for Send, which answers
// it.
func TestRecvIntoAllocs(t *testing.T) {
	r := prototest.Open(t, rep.New, socket.WithRecvQueueSize(256))
	q := prototest.Open(t, req.New)
	prototest.Connect(t, r, q)
	prototest.RecvIntoAllocs(t, r, func(n int) {
		for range n {
			if err := q.Send(make([]byte, 32)); err != nil {
				t.Fatal(err)
			}
		}
	})
	// The last request received is the one Send answers.
	if err := r.Send([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Recv(); err != nil {
		t.Fatal(err)
	}
}
