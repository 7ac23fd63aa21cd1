package push_test

import (
	"testing"

	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

// benchPipeline pushes b.N messages of size bytes to one puller over url
// and reports messages per second; allocs/op is per message, both ends
// together.
func benchPipeline(b *testing.B, url string, size int, opts ...socket.Option) {
	q, err := pull.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	addr, err := q.ListenAddr(url)
	if err != nil {
		b.Fatal(err)
	}
	p, err := push.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if err := p.Dial(addr); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	done := make(chan error, 1)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := q.Recv(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		if err := p.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkPushPullTCP64 is push to pull, 64-byte messages over tcp
// loopback, default options.
func BenchmarkPushPullTCP64(b *testing.B) { benchPipeline(b, "tcp://127.0.0.1:0", 64) }

// BenchmarkPushPullTCP64Q1024 is the same with 1024-message queues.
func BenchmarkPushPullTCP64Q1024(b *testing.B) {
	benchPipeline(b, "tcp://127.0.0.1:0", 64, socket.WithSendQueueSize(1024), socket.WithRecvQueueSize(1024))
}

// BenchmarkPushPullInproc64 is the same over inproc.
func BenchmarkPushPullInproc64(b *testing.B) { benchPipeline(b, "inproc://bench-pushpull", 64) }
