package socket

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// warmDirect does round trips until the receiver d reads its one pipe
// directly (the reader goroutine hands it over after seeing it wait).
func warmDirect(t *testing.T, l, d Socket) {
	t.Helper()
	ds := d.(*sock)
	testutil.Eventually(t, "direct reads", func() bool {
		if err := l.Send([]byte("warm")); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Recv(); err != nil {
			t.Fatal(err)
		}
		p := ds.single.Load()
		if p == nil {
			return false
		}
		return p.reads.Load() > 0
	})
}

// blockedDirect starts a Recv on d that reads its one pipe directly and
// finds nothing, and returns what the Recv will return. If the reader
// goroutine took the pipe back before the Recv came (a slow machine), it
// unblocks the Recv with a message from l and tries again.
func blockedDirect(t *testing.T, l, d Socket) <-chan string {
	t.Helper()
	ds := d.(*sock)
	got := make(chan string, 1)
	for end := time.Now().Add(testutil.Patience); time.Now().Before(end); {
		go func() {
			b, err := d.Recv()
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(b)
		}()
		// The Recv reads the pipe, or waits for the reader goroutine.
		direct := false
		testutil.Eventually(t, "the Recv to wait", func() bool {
			ds.rq.mu.Lock()
			defer ds.rq.mu.Unlock()
			direct = ds.rq.direct != nil
			return direct || ds.rq.waiters > 0
		})
		if direct {
			return got
		}
		// Not direct: unblock the Recv, and start the next one at once,
		// while the reader goroutine leaves the pipe to receivers.
		if err := l.Send([]byte("warm")); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != "warm" {
			t.Fatalf("got %q", s)
		}
	}
	t.Fatal("the receiver never read directly")
	return nil
}

func TestDirectReadSecondPipe(t *testing.T) {
	for _, url := range []string{"tcp://127.0.0.1:0", "inproc://direct-second"} {
		t.Run(url[:3], func(t *testing.T) {
			l, d := connected(t, url, nil, nil)
			warmDirect(t, l, d)
			// d blocks reading its one pipe; a second peer connects to d
			// and sends: d must see it.
			got := blockedDirect(t, l, d)
			url2 := url
			if url[:3] == "inp" {
				url2 += "-2"
			}
			addr, err := d.ListenAddr(url2)
			if err != nil {
				t.Fatal(err)
			}
			other := mustNew()
			defer other.Close()
			if err := other.Dial(addr); err != nil {
				t.Fatal(err)
			}
			if err := other.Send([]byte("from the second pipe")); err != nil {
				t.Fatal(err)
			}
			if s := <-got; s != "from the second pipe" {
				t.Fatalf("got %q", s)
			}
			// Both pipes keep working, through the reader goroutines.
			l.Send([]byte("first"))
			other.Send([]byte("second"))
			seen := map[string]bool{}
			for i := 0; i < 2; i++ {
				b, err := d.Recv()
				if err != nil {
					t.Fatal(err)
				}
				seen[string(b)] = true
			}
			if !seen["first"] || !seen["second"] {
				t.Fatalf("got %v", seen)
			}
		})
	}
}

func TestDirectReadDeadlineKeepsData(t *testing.T) {
	for _, url := range []string{"tcp://127.0.0.1:0", "inproc://direct-deadline"} {
		t.Run(url[:3], func(t *testing.T) {
			l, d := connected(t, url, nil, nil)
			warmDirect(t, l, d)
			for i := 0; i < 3; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
				_, err := d.RecvContext(ctx)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("context: %v", err)
				}
				d.SetRecvDeadline(time.Now().Add(5 * time.Millisecond))
				if _, err := d.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("deadline: %v", err)
				}
				d.SetRecvDeadline(time.Time{})
				// Nothing was lost or broken by the interrupts.
				msg := fmt.Sprint("after ", i)
				l.Send([]byte(msg))
				if b, err := d.Recv(); err != nil || string(b) != msg {
					t.Fatalf("%q %v", b, err)
				}
			}
		})
	}
}

func TestDirectReadClose(t *testing.T) {
	l, d := connected(t, "tcp://127.0.0.1:0", nil, nil)
	warmDirect(t, l, d)
	got := blockedDirect(t, l, d)
	d.Close()
	if s := <-got; s != ErrClosed.Error() {
		t.Fatalf("Recv during Close: %v", s)
	}
}

// TestDirectReadPeerLoss: the peer goes away while the receiver reads
// directly; the pipe is dropped and the dialer reconnects.
func TestDirectReadPeerLoss(t *testing.T) {
	srv := mustNew()
	addr, _ := srv.ListenAddr("tcp://127.0.0.1:0")
	cli := mustNew(WithReconnectInterval(5*time.Millisecond, 20*time.Millisecond))
	defer cli.Close()
	if err := cli.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "connected", func() bool { return srv.Stats().Pipes == 1 })
	warmDirect(t, srv, cli)
	got := make(chan string, 1)
	go func() {
		b, _ := cli.Recv()
		got <- string(b)
	}()
	srv.Close()
	testutil.Eventually(t, "the client to drop the pipe", func() bool { return cli.Stats().PipesClosed == 1 })
	srv2 := mustNew()
	defer srv2.Close()
	if err := srv2.Listen(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the client to reconnect", func() bool { return srv2.Stats().Pipes == 1 })
	srv2.Send([]byte("after the reconnect"))
	if s := <-got; s != "after the reconnect" {
		t.Fatalf("got %q", s)
	}
}

// TestReaderTakesBack: once receivers stop reading, the reader goroutine
// reads again, so a peer that goes away is noticed without any Recv.
func TestReaderTakesBack(t *testing.T) {
	srv := mustNew()
	addr, _ := srv.ListenAddr("tcp://127.0.0.1:0")
	cli := mustNew()
	defer cli.Close()
	if err := cli.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "connected", func() bool { return srv.Stats().Pipes == 1 })
	warmDirect(t, srv, cli)
	srv.Close()
	testutil.Eventually(t, "the client to notice, with nobody receiving", func() bool { return cli.Stats().Pipes == 0 })
}

// TestDirectReadManyReceivers: several goroutines receive from a socket
// with one pipe; every message goes to exactly one of them.
func TestDirectReadManyReceivers(t *testing.T) {
	l, d := connected(t, "tcp://127.0.0.1:0", nil, []Option{WithRecvQueueSize(4)})
	warmDirect(t, l, d)
	const n = 3000
	var mu sync.Mutex
	seen := make(map[string]int)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				b, err := d.RecvContext(ctx)
				cancel()
				mu.Lock()
				if err == nil {
					seen[string(b)]++
				}
				done := len(seen) == n
				mu.Unlock()
				if done {
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		if err := l.Send([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			// Let the receivers catch up and wait, reading directly or not.
			ds := d.(*sock)
			testutil.Eventually(t, "the receivers to catch up", func() bool {
				ds.rq.mu.Lock()
				defer ds.rq.mu.Unlock()
				return ds.rq.n == 0 && (ds.rq.direct != nil || ds.rq.waiters > 0)
			})
		}
	}
	wg.Wait()
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("message %s received %d times", k, c)
		}
	}
}
