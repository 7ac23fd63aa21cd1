package socket

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// TestInlineWritePartial exercises the inline write path when the
// transport cannot take a whole message at once: the rest is finished by
// the pipe's writer, in order.
func TestInlineWritePartial(t *testing.T) {
	for _, url := range []string{"inproc://inline-partial", "tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/i.sock"} {
		t.Run(url[:3], func(t *testing.T) {
			l, d := connected(t, url, []Option{WithRecvQueueSize(1), WithMaxRecvSize(4 << 20)}, nil)
			const n = 8
			msgs := make([][]byte, n)
			for i := range msgs {
				msgs[i] = bytes.Repeat([]byte{byte('a' + i)}, 700_000)
				// Let the writer go idle so that the next send is written
				// inline, into a connection the reader is not draining.
				waitInline(t, d, l)
				if err := d.Send(msgs[i]); err != nil {
					t.Fatal(err)
				}
			}
			for i := range msgs {
				b, err := l.Recv()
				if err != nil || !bytes.Equal(b, msgs[i]) {
					t.Fatalf("message %d: %d bytes, %v", i, len(b), err)
				}
			}
		})
	}
}

// TestInlineRoundTrips: request/response traffic (where writes go inline)
// from several goroutines at once.
func TestInlineRoundTrips(t *testing.T) {
	l, d := connected(t, "tcp://127.0.0.1:0", nil, nil)
	go func() {
		for {
			m, err := l.RecvMsg()
			if err != nil {
				return
			}
			l.SendTo(m.Source, m.Content)
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := d.Send([]byte("x")); err != nil {
					t.Error(err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := d.RecvContext(ctx)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got != 800 {
		t.Fatalf("%d round trips", got)
	}
}

func TestLogger(t *testing.T) {
	var buf testutil.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, b := newPair(t, WithLogger(logger))
	a.Close()
	b.Close()
	if s := buf.String(); !strings.Contains(s, "pipe added") || !strings.Contains(s, "pipe closed") {
		t.Fatalf("log: %s", s)
	}
}
