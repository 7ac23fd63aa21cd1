package surveyor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// answer makes r answer every survey with prefix+survey until it closes.
func answer(r socket.Socket, prefix string) {
	go func() {
		for {
			b, err := r.Recv()
			if err != nil {
				return
			}
			if r.Send(append([]byte(prefix), b...)) != nil {
				return
			}
		}
	}()
}

// long is a survey time no test waits for.
const long = time.Hour

// TestSurvey: every respondent's answer comes back, over every
// transport, whichever side listens.
func TestSurvey(t *testing.T) {
	for _, url := range []string{"inproc://" + t.Name(), "tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/s.sock"} {
		for _, surveyorListens := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/surveyor-listens=%v", url[:3], surveyorListens), func(t *testing.T) {
				s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(long))
				const n = 3
				var addr string
				if surveyorListens {
					a, err := s.ListenAddr(url)
					if err != nil {
						t.Fatal(err)
					}
					addr = a
				}
				for i := 0; i < n; i++ {
					r := prototest.Open(t, respondent.New)
					if surveyorListens {
						if err := r.Dial(addr); err != nil {
							t.Fatal(err)
						}
					} else {
						u := url
						if url[:3] != "tcp" {
							u = fmt.Sprint(url, i)
						}
						a, err := r.ListenAddr(u)
						if err != nil {
							t.Fatal(err)
						}
						if err := s.Dial(a); err != nil {
							t.Fatal(err)
						}
					}
					answer(r, fmt.Sprint(i, ":"))
				}
				// A survey reaches the respondents connected now.
				testutil.Eventually(t, "the respondents", func() bool { return s.Stats().Pipes == n })
				for round := 0; round < 3; round++ {
					q := fmt.Sprint("q", round)
					if err := s.Send([]byte(q)); err != nil {
						t.Fatal(err)
					}
					var got, want []string
					for i := 0; i < n; i++ {
						m, err := s.RecvMsg()
						if err != nil {
							t.Fatal(err)
						}
						if len(m.Destination) != 1 || m.Destination[0]&socket.EndOfPath == 0 {
							t.Fatalf("survey id %v", m.Destination)
						}
						got = append(got, string(m.Content))
						want = append(want, fmt.Sprint(i, ":", q))
					}
					sort.Strings(got)
					if !slices.Equal(got, want) {
						t.Fatalf("got %q, want %q", got, want)
					}
				}
			})
		}
	}
}

// TestDeadline: a Recv waiting when the survey ends fails with
// os.ErrDeadlineExceeded; with no survey open Recv fails at once with
// ErrBadState; an answer after the deadline is dropped.
func TestDeadline(t *testing.T) {
	const surveyTime = 300 * time.Millisecond
	s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(surveyTime))
	if _, err := s.Recv(); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("recv with no survey: %v", err)
	}
	addr, _ := s.ListenAddr("tcp://127.0.0.1:0")
	r := prototest.Open(t, respondent.New)
	if err := r.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the respondent", func() bool { return s.Stats().Pipes == 1 })

	// The respondent holds its answer until the survey is over.
	if err := s.Send([]byte("old")); err != nil {
		t.Fatal(err)
	}
	late, err := r.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("recv past the deadline: %v", err)
	}
	if _, err := s.Recv(); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("recv after the survey: %v", err)
	}
	if err := r.SendTo(late.Source, []byte("late")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the late answer to arrive", func() bool { return s.Stats().MsgsRecv == 1 })

	// A new survey is open: the late answer, queued before its fresh
	// answer, is dropped. On a machine so slow that the new survey ends
	// before its answer arrives, try again (no timing is asserted).
	for attempt := 0; ; attempt++ {
		if err := s.Send([]byte("new")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Recv(); err != nil {
			t.Fatal(err)
		}
		if err := r.Send([]byte("fresh")); err != nil {
			t.Fatal(err)
		}
		b, err := s.Recv()
		if err == nil {
			if string(b) != "fresh" {
				t.Fatalf("got %q", b)
			}
			break
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || attempt == 10 {
			t.Fatal(err)
		}
	}
}

// TestUnreadAnswers: a surveyor that sends surveys and does not read the
// answers never stalls its respondents: each survey clears the answers
// waiting (as NNG flushes them), keeping at most a bounded number for
// Recv.
func TestUnreadAnswers(t *testing.T) {
	for _, surveyTime := range []time.Duration{time.Millisecond, long} {
		t.Run(surveyTime.String(), func(t *testing.T) {
			s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(surveyTime))
			addr, _ := s.ListenAddr("inproc://" + t.Name())
			r := prototest.Open(t, respondent.New)
			if err := r.Dial(addr); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "the respondent", func() bool { return s.Stats().Pipes == 1 })
			var answered atomic.Int64
			go func() {
				big := make([]byte, 16<<10) // fills any buffer soon
				for {
					if _, err := r.Recv(); err != nil {
						return
					}
					if r.Send(big) != nil {
						return
					}
					answered.Add(1)
				}
			}()
			// Twice the answers the surveyor's queues and pipe hold
			// (without the clearing, the respondent blocks at about 190).
			const n = 400
			for i := 1; i <= n; i++ {
				if err := s.Send([]byte("q")); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(20 * time.Second)
				for answered.Load() < int64(i) {
					if time.Now().After(deadline) {
						t.Fatalf("the respondent is stuck after %d answers", i-1)
					}
					runtime.Gosched()
				}
			}
			if surveyTime == long {
				if _, err := s.Recv(); err != nil {
					t.Fatalf("an answer set aside: %v", err)
				}
			}
		})
	}
}

// TestOverlapping: surveys may overlap; RecvMsg tells their answers apart.
func TestOverlapping(t *testing.T) {
	s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(long))
	addr, _ := s.ListenAddr("inproc://" + t.Name())
	r := prototest.Open(t, respondent.New)
	if err := r.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the respondent", func() bool { return s.Stats().Pipes == 1 })
	s.Send([]byte("first"))
	s.Send([]byte("second"))
	first, _ := r.RecvMsg()
	second, _ := r.RecvMsg()
	// Answer in the other order.
	r.SendTo(second.Source, []byte("to second"))
	r.SendTo(first.Source, []byte("to first"))
	a, err := s.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Content) != "to second" || string(b.Content) != "to first" ||
		a.Destination[0] != second.Source[1] || b.Destination[0] != first.Source[1] ||
		a.Destination[0] == b.Destination[0] {
		t.Fatalf("answers %q %v, %q %v", a.Content, a.Destination, b.Content, b.Destination)
	}
}

// TestNoRespondents: a survey with nobody to ask succeeds and ends with
// the deadline.
func TestNoRespondents(t *testing.T) {
	s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(10*time.Millisecond))
	if err := s.Send([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal(err)
	}
}

// TestRecvContext: a cancelled context ends a Recv with its own error,
// leaving the survey open.
func TestRecvContext(t *testing.T) {
	s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(long))
	s.Send([]byte("q"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.RecvContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := s.RecvContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// TestDevice: surveyors and respondents meet through a device (a raw
// respondent in front, a raw surveyor behind, a switch between); every
// answer reaches the surveyor that asked.
func TestDevice(t *testing.T) {
	front := prototest.Open(t, respondent.NewRaw)
	back := prototest.Open(t, surveyor.NewRaw)
	frontAddr, _ := front.ListenAddr("tcp://127.0.0.1:0")
	backAddr, _ := back.ListenAddr("ipc://" + t.TempDir() + "/dev.sock")
	sw := socket.StartSwitch(back, front, nil)
	defer sw.Stop()

	const nr = 3
	for i := 0; i < nr; i++ {
		r := prototest.Open(t, respondent.New)
		if err := r.Dial(backAddr); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				m, err := r.RecvMsg()
				if err != nil {
					return
				}
				if len(m.Source) != 3 {
					t.Errorf("backtrace through the device: %v", m.Source)
				}
				r.SendTo(m.Source, []byte(fmt.Sprint(i, ":", string(m.Content))))
			}
		}()
	}
	testutil.Eventually(t, "the respondents", func() bool { return back.Stats().Pipes == nr })
	for c := 0; c < 3; c++ {
		s := prototest.Open(t, surveyor.New, surveyor.WithSurveyTime(long))
		if err := s.Dial(frontAddr); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, "the device", func() bool { return front.Stats().Pipes == c+1 })
		q := fmt.Sprint("client ", c)
		s.Send([]byte(q))
		var got []string
		for i := 0; i < nr; i++ {
			b, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(b))
		}
		sort.Strings(got)
		want := []string{"0:" + q, "1:" + q, "2:" + q}
		if !slices.Equal(got, want) {
			t.Fatalf("client %d got %q", c, got)
		}
	}
}

func TestInvalid(t *testing.T) {
	s := prototest.Open(t, surveyor.New)
	raw := prototest.Open(t, surveyor.NewRaw)
	ctx := context.Background()
	for name, err := range map[string]error{
		"SendTo":            s.SendTo(socket.Path{1}, nil),
		"SendToContext":     s.SendToContext(ctx, socket.Path{1}, nil),
		"raw Send":          raw.Send(nil),
		"raw SendContext":   raw.SendContext(ctx, nil),
		"raw SendAll":       raw.SendAll(nil),
		"raw SendTo":        raw.SendTo(socket.Path{1}, nil),
		"raw SendMsg/no id": raw.SendMsg(&socket.Message{Source: socket.Path{1}}),
		"raw SendMsg/dst":   raw.SendMsg(&socket.Message{Source: socket.Path{socket.EndOfPath}, Destination: socket.Path{1}}),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := raw.SendMsg(&socket.Message{Source: socket.Path{1, socket.EndOfPath | 7}}); err != nil {
		t.Errorf("raw SendMsg with a backtrace: %v", err)
	}
	s.Close()
	if err := s.Send(nil); !errors.Is(err, socket.ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
	if _, err := s.Recv(); !errors.Is(err, socket.ErrClosed) {
		t.Errorf("recv after close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, socket.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
}

// TestMismatch: surveyor peers only with respondent.
func TestMismatch(t *testing.T) { prototest.Mismatch(t, surveyor.Protocol, surveyor.New) }

// TestOptionChecked: surveyor's option is an error on any other socket,
// the raw surveyor included.
func TestOptionChecked(t *testing.T) {
	for name, newSocket := range map[string]func(...socket.Option) (socket.Socket, error){
		"respondent": respondent.New, "raw surveyor": surveyor.NewRaw,
	} {
		if _, err := newSocket(surveyor.WithSurveyTime(time.Second)); !errors.Is(err, socket.ErrBadOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
