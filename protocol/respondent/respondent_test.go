package respondent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// connected returns a surveyor (with a long survey time) and a
// respondent connected to it.
func connected(t *testing.T) (s, r socket.Socket) {
	t.Helper()
	s = prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(time.Hour))
	r = prototest.Open(t, respondent.New)
	addr, err := s.ListenAddr("inproc://" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the respondent", func() bool { return s.Stats().Pipes == 1 })
	return s, r
}

// TestAnswer: Send answers the last survey received, once; SendTo
// answers any survey at any time.
func TestAnswer(t *testing.T) {
	s, r := connected(t)
	if err := r.Send([]byte("unasked")); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("answer with no survey: %v", err)
	}
	s.Send([]byte("one"))
	s.Send([]byte("two"))
	one, err := r.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Source) != 2 || one.Source[1]&socket.EndOfPath == 0 {
		t.Fatalf("backtrace %v", one.Source)
	}
	if b, err := r.Recv(); err != nil || string(b) != "two" {
		t.Fatalf("%q %v", b, err)
	}
	if err := r.Send([]byte("answer two")); err != nil {
		t.Fatal(err)
	}
	if err := r.Send([]byte("again")); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("second answer: %v", err)
	}
	if err := r.SendTo(one.Source, []byte("answer one")); err != nil {
		t.Fatal(err)
	}
	// A received survey forwarded with SendMsg and no Destination is the
	// same as Send.
	s.Send([]byte("three"))
	m, _ := r.RecvMsg()
	m.Content = []byte("answer three")
	if err := r.SendMsg(m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"answer two", "answer one", "answer three"} {
		if b, err := s.Recv(); err != nil || string(b) != want {
			t.Fatalf("got %q %v, want %q", b, err, want)
		}
	}
}

// TestAnswerToGoneSurveyor: an answer whose surveyor has left fails with
// ErrBrokenPath and reaches no one else.
func TestAnswerToGoneSurveyor(t *testing.T) {
	r := prototest.Open(t, respondent.New)
	addr, _ := r.ListenAddr("tcp://127.0.0.1:0")
	s1 := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(time.Hour))
	if err := s1.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the first surveyor", func() bool { return r.Stats().Pipes == 1 })
	s1.Send([]byte("q"))
	m, err := r.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	s1.Close()
	testutil.Eventually(t, "the surveyor to leave", func() bool { return r.Stats().Pipes == 0 })
	s2 := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(time.Hour))
	if err := s2.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the second surveyor", func() bool { return r.Stats().Pipes == 1 })
	if err := r.SendTo(m.Source, []byte("stale")); !errors.Is(err, socket.ErrBrokenPath) {
		t.Fatalf("answer to a gone surveyor: %v", err)
	}
}

func TestInvalid(t *testing.T) {
	r := prototest.Open(t, respondent.New)
	ctx := context.Background()
	for name, err := range map[string]error{
		"SendAll":        r.SendAll(nil),
		"SendAllContext": r.SendAllContext(ctx, nil),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMismatch: respondent peers only with surveyor.
func TestMismatch(t *testing.T) { prototest.Mismatch(t, respondent.Protocol, respondent.New) }
