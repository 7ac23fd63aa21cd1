package socket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

func seq(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }

// TestReconnectKeepsQueued: the listener is killed and restarted; what
// the dialer queued meanwhile goes to the new listener, in order.
func TestReconnectKeepsQueued(t *testing.T) {
	for _, url := range []string{"tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/r.sock", "inproc://reconnect"} {
		t.Run(url[:3], func(t *testing.T) {
			d := mustNew(WithReconnectInterval(5*time.Millisecond, 50*time.Millisecond))
			defer d.Close()
			l1 := mustNew()
			addr, err := l1.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Dial(addr); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 100; i++ {
				d.Send(seq(i))
			}
			for i := 0; i < 100; i++ {
				if b, err := l1.Recv(); err != nil || binary.BigEndian.Uint32(b) != uint32(i) {
					t.Fatalf("before the kill: %v %v", b, err)
				}
			}
			l1.Close()
			testutil.Eventually(t, "the dialer to see the listener gone", func() bool { return d.Stats().Pipes == 0 })
			// Queued while nobody listens (the send queue holds 64).
			for i := 100; i < 150; i++ {
				if err := d.Send(seq(i)); err != nil {
					t.Fatal(err)
				}
			}
			l2 := mustNew()
			defer l2.Close()
			if err := l2.Listen(addr); err != nil {
				t.Fatal(err)
			}
			for i := 100; i < 150; i++ {
				b, err := l2.Recv()
				if err != nil || binary.BigEndian.Uint32(b) != uint32(i) {
					t.Fatalf("after the restart: %v %v, want %d", b, err, i)
				}
			}
			if st := d.Stats(); st.Reconnects != 1 || st.Dropped != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestReconnectMidStream kills the listener in the middle of a stream of
// messages sent as fast as possible. Whatever the old connection had
// taken (in its kernel buffers, or read and not yet received) is lost with
// it; from the first message the new listener gets, the stream has no gap:
// nothing queued was lost or reordered.
func TestReconnectMidStream(t *testing.T) {
	const tail = 5000
	d := mustNew(WithReconnectInterval(5*time.Millisecond, 50*time.Millisecond))
	defer d.Close()
	l1 := mustNew()
	addr, err := l1.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Dial(addr); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	sent := make(chan int, 1)
	go func() {
		i := 0
		for ; d.SendContext(ctx, seq(i)) == nil; i++ {
		}
		sent <- i
	}()
	got1 := 0
	for ; got1 < 5000; got1++ {
		if _, err := l1.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	l1.Close() // killed mid-stream
	l2 := mustNew()
	defer l2.Close()
	testutil.Eventually(t, "the address to be free", func() bool { return l2.Listen(addr) == nil })
	b, err := l2.Recv()
	if err != nil {
		t.Fatal(err)
	}
	first := int(binary.BigEndian.Uint32(b))
	for i := first + 1; i < first+tail; i++ {
		b, err := l2.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := int(binary.BigEndian.Uint32(b)); got != i {
			t.Fatalf("gap after the restart: got %d, want %d", got, i)
		}
	}
	stop()
	n := <-sent
	t.Logf("listener 1 read %d, then was killed; listener 2 got %d..%d without a gap; %d lost with the old connection; %d sent",
		got1, first, first+tail-1, first-got1, n)
}

// TestCloseLingers: 2,000 messages sent and Close called at once; the
// peer gets all of them.
func TestCloseLingers(t *testing.T) {
	for _, url := range []string{"tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/l.sock", "inproc://linger", "ws://127.0.0.1:0/l"} {
		t.Run(url[:3], func(t *testing.T) {
			l := mustNew(WithRecvQueueSize(4096))
			defer l.Close()
			addr, err := l.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			d := mustNew(WithSendStopTimeout(20 * time.Second))
			if err := d.Dial(addr); err != nil {
				t.Fatal(err)
			}
			const n = 2000
			for i := 0; i < n; i++ {
				if err := d.Send(seq(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				b, err := l.Recv()
				if err != nil {
					t.Fatalf("after %d messages: %v", i, err)
				}
				if got := binary.BigEndian.Uint32(b); got != uint32(i) {
					t.Fatalf("got %d, want %d", got, i)
				}
			}
		})
	}
}

// TestCloseWithoutLinger drops what is queued.
func TestCloseWithoutLinger(t *testing.T) {
	s := mustNew(WithSendStopTimeout(0))
	for i := 0; i < 10; i++ {
		s.Send(seq(i)) // no peer: they wait in the queue
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPipeIDsNeverReused: a reply to a requester that has gone fails with
// ErrBrokenPath and never reaches the peer that came after it.
func TestPipeIDsNeverReused(t *testing.T) {
	srv := mustNew()
	defer srv.Close()
	addr, err := srv.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint32]bool)
	var oldSource Path
	for round := 0; round < 5; round++ {
		c := mustNew()
		if err := c.Dial(addr); err != nil {
			t.Fatal(err)
		}
		if err := c.Send([]byte(fmt.Sprint("hello from ", round))); err != nil {
			t.Fatal(err)
		}
		m, err := srv.RecvMsg()
		if err != nil {
			t.Fatal(err)
		}
		id := m.PipeID()
		if seen[id] || id&EndOfPath != 0 || id == 0 {
			t.Fatalf("pipe id %#x reused or invalid", id)
		}
		seen[id] = true
		if oldSource != nil {
			// The previous client is gone: its reply goes nowhere.
			if err := srv.SendTo(oldSource, []byte("stale")); !errors.Is(err, ErrBrokenPath) {
				t.Fatalf("reply to a gone peer: %v", err)
			}
		}
		if err := srv.SendTo(m.Source, []byte("fresh")); err != nil {
			t.Fatal(err)
		}
		if b, err := c.Recv(); err != nil || string(b) != "fresh" {
			t.Fatalf("client %d got %q %v", round, b, err)
		}
		oldSource = m.Source
		c.Close()
		testutil.Eventually(t, "the server to see the client gone", func() bool { return srv.Stats().Pipes == 0 })
	}
	if st := srv.Stats(); st.BrokenPaths != 4 || st.PipesOpened != 5 || st.PipesClosed != 5 {
		t.Fatalf("stats %+v", st)
	}
	if err := srv.SendTo(nil, []byte("x")); !errors.Is(err, ErrBrokenPath) {
		t.Fatalf("empty path: %v", err)
	}
}

func TestPipeHook(t *testing.T) {
	events := make(chan string, 10)
	l := mustNew(WithPipeHook(func(ev PipeEvent, id uint32) { events <- fmt.Sprint("l", ev) }))
	defer l.Close()
	addr, _ := l.ListenAddr("tcp://127.0.0.1:0")
	d := mustNew(WithPipeHook(func(ev PipeEvent, id uint32) { events <- fmt.Sprint("d", ev) }))
	if err := d.Dial(addr); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	got[<-events]++
	got[<-events]++
	d.Close()
	got[<-events]++
	got[<-events]++
	want := map[string]int{
		fmt.Sprint("l", PipeAdded): 1, fmt.Sprint("l", PipeRemoved): 1,
		fmt.Sprint("d", PipeAdded): 1, fmt.Sprint("d", PipeRemoved): 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v", got)
	}
}

// TestCloseAbortsDial: Close ends a Dial in progress at once, here one
// waiting for a server that accepts TCP and never answers the SP
// handshake, instead of leaving it to wait out the handshake timeout.
func TestCloseAbortsDial(t *testing.T) {
	addr, accepted := silentServer(t)
	s := mustNew(WithHandshakeTimeout(time.Minute))
	errs := make(chan error, 1)
	go func() { errs <- s.Dial(addr) }()
	testutil.Eventually(t, "the Dial to reach the handshake", func() bool { return accepted() == 1 })
	start := time.Now()
	s.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Dial ended with %v, want ErrClosed", err)
		}
		t.Logf("Dial ended %v after Close", time.Since(start))
	case <-time.After(10 * time.Second): // generous: the handshake timeout is a minute
		t.Fatal("Close did not abort the Dial in progress")
	}
}

// TestCloseFlushesHeldWrite: over a connection that cannot write without
// waiting (TLS), the pipe holds an inline write for its writer goroutine;
// Close must wait for it like anything else queued, so the last message
// before Close is never lost.
func TestCloseFlushesHeldWrite(t *testing.T) {
	srvTLS, cliTLS := testutil.TLSConfigs(t)
	l := mustNew(WithTLSConfig(srvTLS), WithRecvQueueSize(256))
	defer l.Close()
	addr, err := l.ListenAddr("tls+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		d := mustNew(WithTLSConfig(cliTLS))
		if err := d.Dial(addr); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, "the listener to see the peer", func() bool { return l.Stats().Pipes == 1 })
		waitInline(t, d, nil)
		if err := d.Send(seq(i)); err != nil {
			t.Fatal(err)
		}
		d.Close()
		l.SetRecvDeadline(time.Now().Add(10 * time.Second))
		b, err := l.Recv()
		if err != nil {
			t.Fatalf("round %d: the last message before Close was lost: %v", i, err)
		}
		if got := binary.BigEndian.Uint32(b); got != uint32(i) {
			t.Fatalf("round %d: got %d", i, got)
		}
		testutil.Eventually(t, "the listener to drop the peer", func() bool { return l.Stats().Pipes == 0 })
	}
}
