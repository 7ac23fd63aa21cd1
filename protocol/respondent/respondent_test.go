package respondent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/protocol/bus"
	"github.com/plexusnet/plexus/protocol/pair"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// eventually waits for cond; the bound is a safety net, not a timing
// assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// must(t)(respondent.New()) fails the test on error and closes the
// socket at the end.
func must(t *testing.T) func(socket.Socket, error) socket.Socket {
	return func(s socket.Socket, err error) socket.Socket {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// connected returns a surveyor (with a long survey time) and a
// respondent connected to it.
func connected(t *testing.T) (s, r socket.Socket) {
	t.Helper()
	s = must(t)(surveyor.New(surveyor.WithSurveyTime(time.Hour)))
	r = must(t)(respondent.New())
	addr, err := s.ListenAddr("inproc://" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Dial(addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the respondent", func() bool { return s.Stats().Pipes == 1 })
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
	r := must(t)(respondent.New())
	addr, _ := r.ListenAddr("tcp://127.0.0.1:0")
	s1 := must(t)(surveyor.New(surveyor.WithSurveyTime(time.Hour)))
	if err := s1.Dial(addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first surveyor", func() bool { return r.Stats().Pipes == 1 })
	s1.Send([]byte("q"))
	m, err := r.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	s1.Close()
	eventually(t, "the surveyor to leave", func() bool { return r.Stats().Pipes == 0 })
	s2 := must(t)(surveyor.New(surveyor.WithSurveyTime(time.Hour)))
	if err := s2.Dial(addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second surveyor", func() bool { return r.Stats().Pipes == 1 })
	if err := r.SendTo(m.Source, []byte("stale")); !errors.Is(err, socket.ErrBrokenPath) {
		t.Fatalf("answer to a gone surveyor: %v", err)
	}
}

func TestInvalid(t *testing.T) {
	r := must(t)(respondent.New())
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
func TestMismatch(t *testing.T) {
	for _, p := range []socket.Protocol{
		pair.Protocol, bus.Protocol, pub.Protocol, sub.Protocol, push.Protocol, pull.Protocol,
		req.Protocol, rep.Protocol, respondent.Protocol, socket.RawProtocol,
	} {
		t.Run(p.Self.Name, func(t *testing.T) {
			ours := must(t)(respondent.New())
			theirs := socket.New(socket.WithProtocol(p))
			defer theirs.Close()
			addr, err := ours.ListenAddr("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := theirs.Dial(addr); !errors.Is(err, socket.ErrProtocolMismatch) {
				t.Fatalf("%s dialing respondent: %v", p.Self.Name, err)
			}
			addr, err = theirs.ListenAddr("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := ours.Dial(addr); !errors.Is(err, socket.ErrProtocolMismatch) {
				t.Fatalf("respondent dialing %s: %v", p.Self.Name, err)
			}
			if n := ours.Stats().PipesOpened + theirs.Stats().PipesOpened; n != 0 {
				t.Fatalf("%d pipes opened", n)
			}
		})
	}
}
