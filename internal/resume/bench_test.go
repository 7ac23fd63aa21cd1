package resume

import (
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// BenchmarkConn measures bulk throughput, 64 KiB writes one way, over a
// Conn pair and over the raw path under it, so that the cost of
// resumability can be judged (compare resume with raw; run interleaved
// rounds, as one run's spread is wide).
func BenchmarkConn(b *testing.B) {
	rawAndResume(b, pathKinds, func(b *testing.B, x, y io.ReadWriter) { bulk(b, x, y) })
}

// rawAndResume runs work over each kind of path of kinds, and over TLS,
// first raw, then under a Conn pair.
func rawAndResume(b *testing.B, kinds []struct {
	name string
	mk   mkPaths
}, work func(b *testing.B, x, y io.ReadWriter)) {
	kinds = append(kinds[:len(kinds):len(kinds)], struct {
		name string
		mk   mkPaths
	}{"tls", tlsPaths})
	for _, k := range kinds {
		b.Run(k.name+"/raw", func(b *testing.B) {
			x, y := k.mk(b)
			defer x.Close()
			defer y.Close()
			work(b, x, y)
		})
		b.Run(k.name+"/resume", func(b *testing.B) {
			x, y := newPair(b, nil, k.mk)
			work(b, x, y)
		})
	}
}

// bulk writes b.N blocks of 64 KiB on w and reads them from r.
func bulk(b *testing.B, w io.Writer, r io.Reader) {
	const block = 64 << 10
	b.SetBytes(block)
	b.ReportAllocs()
	done := make(chan error, 1)
	total := int64(b.N) * block
	go func() {
		buf := make([]byte, block)
		for total > 0 {
			n, err := r.Read(buf[:min(int64(len(buf)), total)])
			if err != nil {
				done <- err
				return
			}
			total -= int64(n)
		}
		done <- nil
	}()
	buf := make([]byte, block)
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/block*(1<<20), "cpu-ns/MB")
}

// tlsPaths makes a TLS connection over TCP loopback: a link's path.
func tlsPaths(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
	server, client := testutil.TLSConfigs(t)
	client.ServerName = "127.0.0.1"
	x, y := tcpPaths(t)
	tx := tls.Client(x.(net.Conn), client)
	ty := tls.Server(y.(net.Conn), server)
	errc := make(chan error, 1)
	go func() { errc <- ty.Handshake() }()
	if err := tx.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return tx, ty
}

// BenchmarkRoundTrip measures the round trip of a small message (64 B
// ping-pong) over a Conn pair and over the raw path under it.
func BenchmarkRoundTrip(b *testing.B) { rawAndResume(b, pathKinds[1:], pingPong) }

// pingPong sends b.N messages of 64 B on x, each echoed by y.
func pingPong(b *testing.B, x, y io.ReadWriter) {
	const size = 64
	b.ReportAllocs()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, size)
		for range b.N {
			if _, err := io.ReadFull(y, buf); err != nil {
				done <- err
				return
			}
			if _, err := y.Write(buf); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	buf := make([]byte, size)
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		if _, err := x.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(x, buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
