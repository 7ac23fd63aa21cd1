package socket

import (
	"runtime"
	"sync"
	"testing"
)

// benchPair returns a listening and a dialing socket connected over url.
func benchPair(b *testing.B, url string, opts ...Option) (rx, tx Socket) {
	b.Helper()
	rx, tx = mustNew(opts...), mustNew(opts...)
	addr, err := rx.ListenAddr(url)
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.Dial(addr); err != nil {
		b.Fatal(err)
	}
	return rx, tx
}

func benchThroughput(b *testing.B, url string, size int, opts ...Option) {
	benchThroughputWith(b, url, size, false, opts...)
}

// benchThroughputWith receives with RecvInto, handing its buffer back, when into is set.
func benchThroughputWith(b *testing.B, url string, size int, into bool, opts ...Option) {
	rx, tx := benchPair(b, url, opts...)
	defer tx.Close()
	defer rx.Close()
	msg := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 0, size)
		for i := 0; i < b.N; i++ {
			var err error
			if into {
				buf, err = rx.RecvInto(nil, buf)
			} else {
				_, err = rx.Recv()
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for i := 0; i < b.N; i++ {
		if err := tx.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkThroughputTCP64 is the raw socket proxy for push/pull: 64-byte
// messages one way over tcp loopback, default queue sizes.
func BenchmarkThroughputTCP64(b *testing.B) { benchThroughput(b, "tcp://127.0.0.1:0", 64) }

// BenchmarkThroughputTCP64Into is BenchmarkThroughputTCP64 receiving with
// RecvInto into one buffer: no allocation per message at the receiver.
func BenchmarkThroughputTCP64Into(b *testing.B) {
	benchThroughputWith(b, "tcp://127.0.0.1:0", 64, true)
}

// BenchmarkThroughputTCP64Q1024 is the same with 1024-message queues.
func BenchmarkThroughputTCP64Q1024(b *testing.B) {
	benchThroughput(b, "tcp://127.0.0.1:0", 64, WithSendQueueSize(1024), WithRecvQueueSize(1024))
}

// BenchmarkThroughputInproc64 is the same over inproc.
func BenchmarkThroughputInproc64(b *testing.B) { benchThroughput(b, "inproc://bench-tp", 64) }

// BenchmarkThroughputIPC64 is the same over ipc.
func BenchmarkThroughputIPC64(b *testing.B) { benchThroughput(b, "ipc://"+b.TempDir()+"/b.sock", 64) }

// BenchmarkRoundTripTCP32 is a 32-byte ping-pong over tcp loopback with
// raw sockets (the server answers with SendTo(msg.Source)).
func BenchmarkRoundTripTCP32(b *testing.B) {
	srv, cli := benchPair(b, "tcp://127.0.0.1:0")
	defer cli.Close()
	defer srv.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := srv.RecvMsg()
			if err != nil {
				return
			}
			if err := srv.SendTo(m.Source, m.Content); err != nil {
				return
			}
		}
	}()
	msg := make([]byte, 32)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cli.Send(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := cli.Recv(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/rt")
	srv.Close()
	<-done
}

// BenchmarkFanoutInproc100 is the proxy for pub/sub: a socket in
// SendToAll mode sends 64-byte messages to 100 inproc peers, each read by
// its own goroutine. One op is one message, that is 100 deliveries.
func BenchmarkFanoutInproc100(b *testing.B) {
	const peers = 100
	hub := mustNew(WithSendMode(SendToAll))
	defer hub.Close()
	addr, err := hub.ListenAddr("inproc://bench-fanout")
	if err != nil {
		b.Fatal(err)
	}
	subs := make([]Socket, peers)
	for i := range subs {
		subs[i] = mustNew()
		defer subs[i].Close()
		if err := subs[i].Dial(addr); err != nil {
			b.Fatal(err)
		}
	}
	for hub.Stats().Pipes != peers {
		runtime.Gosched()
	}
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < b.N; i++ {
				if _, err := s.Recv(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		if err := hub.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*peers)/b.Elapsed().Seconds(), "deliveries/s")
}
