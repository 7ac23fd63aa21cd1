package respondent_test

import (
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a respondent receives surveys with RecvInto without
// allocating, remembering each one's backtrace for Send.
func TestRecvIntoAllocs(t *testing.T) {
	r := prototest.Open(t, respondent.New, socket.WithRecvQueueSize(256))
	s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(time.Hour), socket.WithSendQueueSize(256)) // a surveyor drops for a full queue
	prototest.Connect(t, r, s)
	prototest.RecvIntoAllocs(t, r, func(n int) {
		for range n {
			if err := s.Send(make([]byte, 32)); err != nil {
				t.Fatal(err)
			}
		}
	})
	if err := r.Send([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
}
