package rep_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a rep socket receives requests with RecvInto without
// allocating, remembering each one's backtrace for Send, which answers
// it.
func TestRecvIntoAllocs(t *testing.T) {
	r := prototest.Open(t, rep.New, socket.WithRecvQueueSize(256))
	addr, _ := r.ListenAddr("tcp://127.0.0.1:0")
	q := prototest.Open(t, req.New)
	if err := q.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the requester", func() bool { return r.Stats().Pipes == 1 })
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
