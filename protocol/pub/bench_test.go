package pub_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

// benchFanOut publishes b.N 64-byte messages to n inproc subscribers,
// each read by its own goroutine, and reports deliveries (messages
// received by all subscribers together) per second. A publisher drops for
// a subscriber that is behind, so deliveries are counted, not assumed;
// the drop rate is reported too. One op is one message published.
func benchFanOut(b *testing.B, n int, opts ...socket.Option) {
	p, err := pub.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	addr, err := p.ListenAddr(fmt.Sprintf("inproc://%s", b.Name()))
	if err != nil {
		b.Fatal(err)
	}
	subs := make([]socket.Socket, n)
	got := make([]atomic.Int64, n)
	var wg sync.WaitGroup
	for i := range subs {
		s, err := sub.New()
		if err != nil {
			b.Fatal(err)
		}
		sub.Subscribe(s, []byte("bench"))
		if err := s.Dial(addr); err != nil {
			b.Fatal(err)
		}
		subs[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := s.Recv(); err != nil {
					return
				}
				got[i].Add(1)
			}
		}()
	}
	defer func() {
		for _, s := range subs {
			s.Close()
		}
		wg.Wait()
	}()
	testutil.Eventually(b, "the subscribers", func() bool { return p.Stats().Pipes == n })
	msg := make([]byte, 64)
	copy(msg, "bench")
	want := int64(b.N) * int64(n)
	received := func() (sum int64) {
		for i := range got {
			sum += got[i].Load()
		}
		return sum
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	// Wait until every copy is written or dropped, and every written one
	// received.
	testutil.EventuallyEvery(b, "every copy written or dropped, and received", 50*time.Microsecond, func() bool {
		st := p.Stats()
		return int64(st.MsgsSent+st.Dropped) == want && received() == int64(st.MsgsSent)
	})
	b.StopTimer()
	d := received()
	b.ReportMetric(float64(d)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(100*float64(want-d)/float64(want), "drop%")
}

// BenchmarkPubSub100Inproc: one publisher, 100 subscribers over inproc,
// NNG's semantics (slow subscribers miss messages).
func BenchmarkPubSub100Inproc(b *testing.B) { benchFanOut(b, 100) }

// BenchmarkPubSub100InprocBlocking is the same with pub.WithBlocking:
// nothing is dropped, the publisher goes at the pace of the slowest.
func BenchmarkPubSub100InprocBlocking(b *testing.B) { benchFanOut(b, 100, pub.WithBlocking()) }
