package socket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// TestRecvInto: RecvInto returns each message's content, in the caller's
// buffer when it fits, mixed with Recv; content Recv returned stays intact
// while later messages are received into recycled buffers; a closed
// socket and a passed deadline give the same errors as Recv.
func TestRecvInto(t *testing.T) {
	for _, url := range []string{"tcp://127.0.0.1:0", "inproc://" + t.Name()} {
		t.Run(url[:3], func(t *testing.T) {
			l, d := connected(t, url, nil, nil)
			sizes := []int{0, 1, 64, 100, 5000, 70 << 10, 3}
			msg := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, sizes[i%len(sizes)]) }
			const n = 60
			go func() {
				for i := range n {
					if err := d.Send(msg(i)); err != nil {
						return
					}
				}
			}()
			buf := make([]byte, 0, 128)
			var kept [][]byte
			ctx := context.Background()
			for i := range n {
				var got []byte
				var err error
				if i%3 == 0 {
					got, err = l.Recv()
					kept = append(kept, got)
				} else {
					got, err = l.RecvInto(ctx, buf)
					if len(got) > 0 && len(got) <= cap(buf) && &got[0] != &buf[:1][0] {
						t.Errorf("message %d: RecvInto did not use the buffer", i)
					}
				}
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !bytes.Equal(got, msg(i)) {
					t.Fatalf("message %d: got %d bytes, want %d (or content differs)", i, len(got), len(msg(i)))
				}
			}
			for j, b := range kept {
				if !bytes.Equal(b, msg(3*j)) {
					t.Errorf("message %d, kept from Recv, changed after later receives", 3*j)
				}
			}
			l.SetRecvDeadline(time.Now().Add(-time.Second))
			if got, err := l.RecvInto(ctx, buf); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) || len(got) != 0 {
				t.Errorf("RecvInto past the deadline: %d bytes, %v", len(got), err)
			}
			l.Close()
			if _, err := l.RecvInto(ctx, buf); !errors.Is(err, ErrClosed) {
				t.Errorf("RecvInto after Close: %v, want ErrClosed", err)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// TestRecvIntoNoRecv: a socket that does not receive refuses RecvInto too.
func TestRecvIntoNoRecv(t *testing.T) {
	s := mustNew(WithNoRecv())
	defer s.Close()
	if _, err := s.RecvInto(context.Background(), nil); !errors.Is(err, ErrInvalidRecvType) {
		t.Fatalf("RecvInto = %v, want ErrInvalidRecvType", err)
	}
}

// TestRecvIntoAllocs: messages already queued are received by RecvInto
// into a buffer handed back without an allocation.
func TestRecvIntoAllocs(t *testing.T) {
	const runs = 200
	l, d := connected(t, "tcp://127.0.0.1:0", []Option{WithRecvQueueSize(4 * runs)}, nil)
	ctx := context.Background()
	buf := make([]byte, 0, 64)
	var err error
	// The first RecvInto makes the socket recycle; messages received after it use the pool.
	d.Send(make([]byte, 64))
	if buf, err = l.RecvInto(ctx, buf); err != nil {
		t.Fatal(err)
	}
	for range runs + 1 {
		if err := d.Send(make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, fmt.Sprintf("%d messages received", runs+2), func() bool { return l.Stats().MsgsRecv >= runs+2 })
	allocs := testing.AllocsPerRun(runs, func() {
		if buf, err = l.RecvInto(ctx, buf); err != nil || len(buf) != 64 {
			t.Fatalf("RecvInto: %d bytes, %v", len(buf), err)
		}
	})
	if allocs > 0.1 {
		t.Errorf("RecvInto: %.2f allocations per message, want 0", allocs)
	}
}
