package push_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPipeline: messages arrive in order, whichever side listens, over
// every transport.
func TestPipeline(t *testing.T) {
	for _, url := range []string{"inproc://" + t.Name(), "tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/p.sock"} {
		for _, pushListens := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/push-listens=%v", url[:3], pushListens), func(t *testing.T) {
				p, q := prototest.Open(t, push.New), prototest.Open(t, pull.New)
				ln, dl := q, p
				if pushListens {
					ln, dl = p, q
				}
				addr, err := ln.ListenAddr(url)
				if err != nil {
					t.Fatal(err)
				}
				// Sent before any puller exists: queued for the first.
				if err := p.Send([]byte("message 0")); err != nil {
					t.Fatal(err)
				}
				if err := dl.Dial(addr); err != nil {
					t.Fatal(err)
				}
				const n = 500
				go func() {
					for i := 1; i < n; i++ {
						if p.Send([]byte(fmt.Sprint("message ", i))) != nil {
							return
						}
					}
				}()
				for i := 0; i < n; i++ {
					b, err := q.Recv()
					if err != nil || string(b) != fmt.Sprint("message ", i) {
						t.Fatalf("message %d: %q %v", i, b, err)
					}
				}
			})
		}
	}
}

// TestLoadBalance: a puller that stops reading does not stop the
// pipeline: the others get the work, and nothing is lost or duplicated.
func TestLoadBalance(t *testing.T) {
	p := prototest.Open(t, push.New)
	addr, err := p.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pulls := make([]socket.Socket, 3)
	for i := range pulls {
		pulls[i] = prototest.Open(t, pull.New)
		if err := pulls[i].Dial(addr); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "three pullers", func() bool { return p.Stats().Pipes == 3 })

	// Large messages, so that the stalled puller's buffers fill soon.
	const n = 3000
	msg := make([]byte, 16<<10)
	var (
		mu    sync.Mutex
		seen  = make(map[int]int) // message -> puller
		count = make([]int, len(pulls))
		wg    sync.WaitGroup
	)
	take := func(i int, b []byte) {
		var k int
		fmt.Sscan(string(b[:16]), &k)
		mu.Lock()
		defer mu.Unlock()
		if j, dup := seen[k]; dup {
			t.Errorf("message %d received by %d and %d", k, j, i)
		}
		seen[k] = i
		count[i]++
	}
	stalled := make(chan struct{})
	for i, q := range pulls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				<-stalled // reads nothing until every message is sent
			}
			for {
				b, err := q.Recv()
				if err != nil {
					return
				}
				take(i, b)
				mu.Lock()
				done := len(seen) == n
				mu.Unlock()
				if done {
					for _, q := range pulls {
						q.Close()
					}
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		copy(msg, fmt.Sprintf("%-16d", i))
		if err := p.Send(msg); err != nil {
			t.Fatal(err)
		}
	}
	close(stalled)
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d of %d messages received", len(seen), n)
	}
	if count[1] == 0 || count[2] == 0 {
		t.Fatalf("the work was not shared: %v", count)
	}
	t.Logf("messages per puller: %v", count)
}

func TestInvalid(t *testing.T) {
	p := prototest.Open(t, push.New)
	ctx := context.Background()
	for name, err := range map[string]error{
		"SendAll":        p.SendAll(nil),
		"SendAllContext": p.SendAllContext(ctx, nil),
		"SendTo":         p.SendTo(socket.Path{1}, nil),
		"SendToContext":  p.SendToContext(ctx, socket.Path{1}, nil),
		"SendMsg/dst":    p.SendMsg(&socket.Message{Destination: socket.Path{1}}),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := p.Recv(); !errors.Is(err, socket.ErrInvalidRecvType) {
		t.Errorf("Recv: %v", err)
	}
}

// TestMismatch: push peers only with pull.
func TestMismatch(t *testing.T) { prototest.Mismatch(t, push.Protocol, push.New) }
