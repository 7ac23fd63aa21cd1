package req_test

import (
	"testing"

	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func benchRoundTrip(b *testing.B, url string, size int) {
	r, _ := rep.New()
	defer r.Close()
	addr, err := r.ListenAddr(url)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.RecvMsg()
			if err != nil {
				return
			}
			if r.SendTo(m.Source, m.Content) != nil {
				return
			}
		}
	}()
	q, _ := req.New()
	defer q.Close()
	if err := q.Dial(addr); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Send(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Recv(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/rt")
	r.Close()
	<-done
}

// BenchmarkRoundTripTCP32 is a 32-byte req/rep round trip over tcp loopback.
func BenchmarkRoundTripTCP32(b *testing.B) { benchRoundTrip(b, "tcp://127.0.0.1:0", 32) }

// BenchmarkRoundTripInproc32 is the same over inproc.
func BenchmarkRoundTripInproc32(b *testing.B) { benchRoundTrip(b, "inproc://bench-rt", 32) }

// BenchmarkRoundTripTCP32Into is BenchmarkRoundTripTCP32 as sockbench
// runs it: both ends receive with RecvInto into a buffer they hand back,
// and rep answers with Send.
func BenchmarkRoundTripTCP32Into(b *testing.B) {
	r, _ := rep.New()
	defer r.Close()
	addr, err := r.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m []byte
		for {
			if m, err = r.RecvInto(nil, m); err != nil {
				return
			}
			if r.Send(m) != nil {
				return
			}
		}
	}()
	q, _ := req.New()
	defer q.Close()
	if err := q.Dial(addr); err != nil {
		b.Fatal(err)
	}
	msg, buf := make([]byte, 32), make([]byte, 0, 32)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Send(msg); err != nil {
			b.Fatal(err)
		}
		if buf, err = q.RecvInto(nil, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/rt")
	r.Close()
	<-done
}
