package mux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
)

// The benchmarks run over loopback TCP. Side-by-side numbers against raw
// TCP, yamux and smux come from the bench module (cd bench && go run
// ./cmd/muxbench); these are for profiling plexus alone.

func benchPair(b *testing.B, cfg *Config) (*Session, *Session) {
	c1, c2 := tcpPipe(b)
	cs, err := Client(c1, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ss, err := Server(c2, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close(); ss.Close() })
	return cs, ss
}

// BenchmarkBulk: one stream, 64 KiB and 1 MiB writes, read with a buffer of the same size.
func BenchmarkBulk(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchBulk(b, size) })
	}
}

func benchBulk(b *testing.B, size int) {
	cs, ss := benchPair(b, nil)
	a, r := streamPair(b, cs, ss)
	done := make(chan struct{})
	go func() {
		buf := make([]byte, size)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
		close(done)
	}()
	buf := make([]byte, size)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	a.CloseWrite()
	<-done
}

// BenchmarkBulkTCP is the raw TCP baseline of BenchmarkBulk.
func BenchmarkBulkTCP(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			c1, c2 := tcpPipe(b)
			defer c1.Close()
			defer c2.Close()
			done := make(chan struct{})
			go func() {
				buf := make([]byte, size)
				for {
					if _, err := c2.Read(buf); err != nil {
						break
					}
				}
				close(done)
			}()
			buf := make([]byte, size)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c1.Write(buf)
			}
			c1.(*net.TCPConn).CloseWrite()
			<-done
		})
	}
}

// BenchmarkMessages: 64-byte messages on 8 streams with Send and Recv; one
// op is one message. Into: with RecvInto and a buffer handed back.
func BenchmarkMessages(b *testing.B) {
	b.Run("Recv", func(b *testing.B) { benchMessages(b, false) })
	b.Run("Into", func(b *testing.B) { benchMessages(b, true) })
}

func benchMessages(b *testing.B, into bool) {
	const streams = 8
	cs, ss := benchPair(b, nil)
	var wg sync.WaitGroup
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < streams; i++ {
		a, r := streamPair(b, cs, ss)
		n := b.N / streams
		if i == 0 {
			n += b.N % streams
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < n; j++ {
				if err := a.Send(msg); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 64)
			for j := 0; j < n; j++ {
				var err error
				if into {
					buf, err = r.RecvInto(buf)
				} else {
					_, err = r.Recv()
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkRoundTrip: 32 bytes there and back on one stream.
func BenchmarkRoundTrip(b *testing.B) {
	cs, ss := benchPair(b, nil)
	a, r := streamPair(b, cs, ss)
	go io.Copy(r, r)
	buf := make([]byte, 32)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Write(buf)
		if _, err := io.ReadFull(a, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripTCP is the raw TCP baseline of BenchmarkRoundTrip.
func BenchmarkRoundTripTCP(b *testing.B) {
	c1, c2 := tcpPipe(b)
	defer c1.Close()
	defer c2.Close()
	go io.Copy(c2, c2)
	buf := make([]byte, 32)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c1.Write(buf)
		if _, err := io.ReadFull(c1, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenClose: open a stream, write 32 bytes, close; the server
// reads to EOF and closes.
func BenchmarkOpenClose(b *testing.B) {
	cs, ss := benchPair(b, &Config{AcceptBacklog: 1 << 16})
	go func() {
		for {
			st, err := ss.AcceptStream(context.Background())
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, st)
				st.Close()
			}()
		}
	}()
	buf := make([]byte, 32)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := cs.OpenStream(context.Background())
		for errors.Is(err, ErrTooManyStreams) { // the server is behind: its closes free the slots
			cs.Ping(context.Background()) // a round trip: it has read all we sent
			st, err = cs.OpenStream(context.Background())
		}
		if err != nil {
			b.Fatal(err)
		}
		st.Write(buf)
		st.Close()
	}
}

// BenchmarkIdleStreams reports the memory of an idle open stream, both
// ends together, as bytes/stream.
func BenchmarkIdleStreams(b *testing.B) {
	n := max(b.N, 1000)
	cfg := &Config{MaxStreams: 2 * n, AcceptBacklog: n}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cs, ss := benchPair(b, cfg)
	keep := make([]*Stream, 0, 2*n)
	for i := 0; i < n; i++ {
		st, err := cs.OpenStream(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		keep = append(keep, st)
	}
	for i := 0; i < n; i++ {
		st, err := ss.AcceptStream(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		keep = append(keep, st)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(n), "bytes/stream")
	runtime.KeepAlive(keep)
}
