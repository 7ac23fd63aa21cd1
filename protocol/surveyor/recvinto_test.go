package surveyor_test

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
)

// TestRecvIntoAllocs: a surveyor receives answers with RecvInto without
// allocating: the survey's deadline bounds the wait with a recycled
// timer, and the check that an answer is to an open survey copies
// nothing.
func TestRecvIntoAllocs(t *testing.T) {
	s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(long), socket.WithRecvQueueSize(256), socket.WithSendQueueSize(256))
	r := prototest.Open(t, respondent.New)
	prototest.Connect(t, s, r)
	answer(r, "")
	prototest.RecvIntoAllocs(t, s, func(n int) {
		for range n {
			if err := s.Send(make([]byte, 32)); err != nil {
				t.Fatal(err)
			}
		}
	})
}
