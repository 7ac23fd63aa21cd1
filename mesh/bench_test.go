package mesh

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/fastio"
	"github.com/plexusnet/plexus/mux"
)

// Benchmarks of the mesh against a plain mux stream on the same kind of
// connection (loopback TCP): throughput and round trip to a neighbour and
// through one relay, and dials.

// tcpMesh links k nodes in a chain over loopback TCP. The goroutines of
// each node's links carry the pprof label node=<index>, so that a CPU
// profile splits the work by node:
//
//	go test -run XXX -bench ThroughputRelay -cpuprofile cpu.out ./mesh/
//	go tool pprof -tags mesh.test cpu.out
//
// (the benchmark's own goroutines, which also read and write the
// connections of the two ends when mux lets the caller do it, have none).
func tcpMesh(b *testing.B, k int, opts ...Option) []*Node {
	return tcpChain(b, nodes(b, k, opts...))
}

// tlsMesh is tcpMesh with nodes secured by certificates of one CA.
func tlsMesh(b *testing.B, k int, opts ...Option) []*Node {
	return tcpChain(b, secureNodes(b, newCA(b), k, opts...))
}

// tcpChain links ns in a chain over loopback TCP (see tcpMesh).
func tcpChain(b *testing.B, ns []*Node) []*Node {
	k := len(ns)
	as := func(i int, f func()) {
		pprof.Do(context.Background(), pprof.Labels("node", strconv.Itoa(i)), func(context.Context) { f() })
	}
	for i := 0; i+1 < k; i++ {
		ln, err := netListen()
		if err != nil {
			b.Fatal(err)
		}
		as(i, func() { ns[i].Serve(ln) })
		as(i+1, func() { ns[i+1].Join("tcp", ln.Addr().String()) })
	}
	waitRoute(b, ns[0], ns[k-1].ID(), k-1)
	waitRoute(b, ns[k-1], ns[0].ID(), k-1)
	return ns
}

// muxPair is a plain mux session over loopback TCP, with a stream.
func muxPair(b *testing.B) (client, server net.Conn) {
	cs, ss := muxPairs(b, 1)
	return cs[0], ss[0]
}

// muxPairs is a plain mux session over loopback TCP, with k streams.
func muxPairs(b *testing.B, k int) (clients, servers []net.Conn) {
	c1, c2 := tcpPair(b)
	return muxOver(b, c1, c2, k)
}

// muxTLSPair is a plain mux session over one crypto/tls connection
// (tlsPair), with a stream: what a secured neighbour's stream is, without
// the mesh.
func muxTLSPair(b *testing.B) (client, server net.Conn) {
	c1, c2 := tlsPairOver(b, recordConn)
	cs, ss := muxOver(b, c1, c2, 1)
	return cs[0], ss[0]
}

// recordConn is what a link's TLS runs over (see identity.handshake).
func recordConn(c net.Conn) net.Conn { return fastio.NewRecordConn(c, c) }

// tcpPair is a loopback TCP connection.
func tcpPair(b *testing.B) (client, server net.Conn) {
	ln, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	return c1, <-acc
}

// muxOver runs a mux session over c1 (client) and c2, and opens k streams.
func muxOver(b *testing.B, c1, c2 net.Conn, k int) (clients, servers []net.Conn) {
	cs, _ := mux.Client(c1, nil)
	ss, _ := mux.Server(c2, nil)
	b.Cleanup(func() { cs.Close(); ss.Close() })
	for range k {
		st, err := cs.OpenStream(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		st.Write([]byte{0}) // the server sees the stream
		peer, err := ss.AcceptStream(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		peer.Read(make([]byte, 1))
		clients, servers = append(clients, st), append(servers, peer)
	}
	return clients, servers
}

// tlsPair is one crypto/tls connection over loopback TCP, the bound of a
// secured neighbour's stream (which is a mux stream over one).
func tlsPair(b *testing.B) (client, server net.Conn) {
	return tlsPairOver(b, func(c net.Conn) net.Conn { return c })
}

// tlsPairOver is tlsPair with TLS over wrap of each TCP connection.
func tlsPairOver(b *testing.B, wrap func(net.Conn) net.Conn) (client, server net.Conn) {
	c1, c2 := tcpPair(b)
	c1, c2 = wrap(c1), wrap(c2)
	ca := newCA(b)
	tc := tls.Client(c1, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	ts := tls.Server(c2, ca.nodeConfig(b, false))
	errc := make(chan error, 1)
	go func() { errc <- ts.Handshake() }()
	if err := tc.Handshake(); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tc.Close(); ts.Close() })
	return tc, ts
}

// meshPair dials from ns[0] to a listener on ns[len-1].
func meshPair(b *testing.B, ns []*Node) (client, server net.Conn) {
	ln, err := ns[len(ns)-1].Listen("", ":1")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	c, err := ns[0].Dial("", FormatID(ns[len(ns)-1].ID())+":1")
	if err != nil {
		b.Fatal(err)
	}
	s := <-acc
	b.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// meshPairs dials k connections from ns[0] to a listener on ns[len-1].
func meshPairs(b *testing.B, ns []*Node, k int) (clients, servers []net.Conn) {
	ln, err := ns[len(ns)-1].Listen("", ":1")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	for range k {
		c, err := ns[0].Dial("", FormatID(ns[len(ns)-1].ID())+":1")
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close(); s.Close() })
		clients, servers = append(clients, c), append(servers, s)
	}
	return clients, servers
}

// benchMessages moves 64-byte messages one way on every pair of cs and
// ss at once, each written and read as a whole; ns/op is per message.
func benchMessages(b *testing.B, cs, ss []net.Conn) {
	const size = 64
	k := len(cs)
	per := b.N/k + 1
	var wg sync.WaitGroup
	b.SetBytes(size)
	b.ResetTimer()
	cpu := cpuTime()
	for i := range k {
		wg.Add(2)
		go func() {
			defer wg.Done()
			msg := make([]byte, size)
			for range per {
				if _, err := cs[i].Write(msg); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for range per {
				if _, err := io.ReadFull(ss[i], buf); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	reportCPU(b, cpu, float64(per*k), "msg")
}

func benchThroughput(b *testing.B, c, s net.Conn) {
	buf := make([]byte, 64<<10)
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, s)
		close(done)
	}()
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.(interface{ CloseWrite() error }).CloseWrite()
	<-done
	reportCPU(b, cpu, float64(b.N*len(buf))/1e6, "MB")
}

// reportCPU reports the CPU time used since start per unit of work (all
// nodes together: they share the process). On a machine shared with other
// work it moves much less than the wall-clock rate.
func reportCPU(b *testing.B, start time.Duration, units float64, unit string) {
	b.ReportMetric(float64(cpuTime()-start)/1e3/units, "cpu-µs/"+unit)
}

func benchRTT(b *testing.B, c, s net.Conn) {
	go io.Copy(s, s)
	buf := make([]byte, 1)
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		c.Write(buf)
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, float64(b.N), "op")
}

func BenchmarkThroughputMux(b *testing.B) {
	c, s := muxPair(b)
	benchThroughput(b, c, s)
}

func BenchmarkThroughputNeighbour(b *testing.B) {
	c, s := meshPair(b, tcpMesh(b, 2))
	benchThroughput(b, c, s)
}

func BenchmarkThroughputRelay(b *testing.B) {
	c, s := meshPair(b, tcpMesh(b, 3))
	benchThroughput(b, c, s)
}

func BenchmarkThroughputTLS(b *testing.B) {
	c, s := tlsPair(b)
	benchThroughput(b, c, s)
}

func BenchmarkThroughputMuxTLS(b *testing.B) {
	c, s := muxTLSPair(b)
	benchThroughput(b, c, s)
}

func BenchmarkThroughputNeighbourTLS(b *testing.B) {
	c, s := meshPair(b, tlsMesh(b, 2))
	benchThroughput(b, c, s)
}

func BenchmarkThroughputRelayTLS(b *testing.B) {
	c, s := meshPair(b, tlsMesh(b, 3))
	benchThroughput(b, c, s)
}

// BenchmarkMessagesMux: 64-byte messages on 8 streams of one session at
// once, against BenchmarkMessagesNeighbour on 8 connections to a
// neighbour.
func BenchmarkMessagesMux(b *testing.B) {
	cs, ss := muxPairs(b, 8)
	benchMessages(b, cs, ss)
}

func BenchmarkMessagesNeighbour(b *testing.B) {
	cs, ss := meshPairs(b, tcpMesh(b, 2), 8)
	benchMessages(b, cs, ss)
}

func BenchmarkRTTMux(b *testing.B) {
	c, s := muxPair(b)
	benchRTT(b, c, s)
}

func BenchmarkRTTNeighbour(b *testing.B) {
	c, s := meshPair(b, tcpMesh(b, 2))
	benchRTT(b, c, s)
}

func BenchmarkRTTRelay(b *testing.B) {
	c, s := meshPair(b, tcpMesh(b, 3))
	benchRTT(b, c, s)
}

func BenchmarkRTTTLS(b *testing.B) {
	c, s := tlsPair(b)
	benchRTT(b, c, s)
}

func BenchmarkRTTMuxTLS(b *testing.B) {
	c, s := muxTLSPair(b)
	benchRTT(b, c, s)
}

func BenchmarkRTTNeighbourTLS(b *testing.B) {
	c, s := meshPair(b, tlsMesh(b, 2))
	benchRTT(b, c, s)
}

func BenchmarkRTTRelayTLS(b *testing.B) {
	c, s := meshPair(b, tlsMesh(b, 3))
	benchRTT(b, c, s)
}

// BenchmarkOpenRelay: later streams to a host behind a relay, as mux's
// open benchmark: 32 dialers each dial by service name, write 32 bytes
// and close, in a loop; one goroutine accepts, reads each connection to
// its end and closes it. ns/op is per stream, counted as they are served.
func BenchmarkOpenRelay(b *testing.B) { benchOpen(b, tcpMesh(b, 3)) }

// BenchmarkOpenNeighbour is BenchmarkOpenRelay to a neighbour.
func BenchmarkOpenNeighbour(b *testing.B) { benchOpen(b, tcpMesh(b, 2)) }

// benchOpen dials ns[len-1] from ns[0] (see BenchmarkOpenRelay).
func benchOpen(b *testing.B, ns []*Node) {
	ln, _ := ns[len(ns)-1].Listen("", "svc")
	served := make(chan struct{}, 1)
	var count atomic.Int64
	target := int64(-1)
	go func() {
		buf := make([]byte, 64)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			for {
				if _, err := c.Read(buf); err != nil {
					break
				}
			}
			c.Close()
			if count.Add(1) == atomic.LoadInt64(&target) {
				served <- struct{}{}
			}
		}
	}()
	b.Cleanup(func() { ln.Close() })
	eventually(b, "svc", func() bool { return len(ns[0].Services()) == 1 })
	c, err := ns[0].Dial("", "svc") // the circuit, and the verdict that makes later dials early
	if err != nil {
		b.Fatal(err)
	}
	c.Close()
	eventually(b, "the first stream to be served", func() bool { return count.Load() == 1 })
	count.Store(0)
	atomic.StoreInt64(&target, int64(b.N))
	msg := make([]byte, 32)
	b.SetParallelism(16) // 32 dialers on 2 CPUs
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := ns[0].Dial("", "svc")
			if err != nil {
				b.Error(err)
				return
			}
			c.Write(msg)
			c.Close()
		}
	})
	<-served
	b.StopTimer()
	reportCPU(b, cpu, float64(b.N), "stream")
}

// BenchmarkFirstDialRelay: a dial by name through a relay to first byte,
// circuit set-up included (the circuit is closed after each).
func BenchmarkFirstDialRelay(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchFirstDial(b, tcpMesh(b, 3)) })
	b.Run("tls", func(b *testing.B) { benchFirstDial(b, tlsMesh(b, 3)) })
}

func benchFirstDial(b *testing.B, ns []*Node) {
	ln, _ := ns[2].Listen("", "svc")
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{1})
			c.Close()
		}
	}()
	eventually(b, "svc", func() bool { return len(ns[0].Services()) == 1 })
	buf := make([]byte, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := ns[0].Dial("", "svc")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
		b.StopTimer()
		t := &ns[0].c.circuits
		t.mu.Lock()
		ci := t.byHost[ns[2].ID()]
		t.mu.Unlock()
		ci.sess.Close()
		eventually(b, "the circuit to go", func() bool {
			t.mu.Lock()
			defer t.mu.Unlock()
			return t.byHost[ns[2].ID()] == nil
		})
		b.StartTimer()
	}
}

// BenchmarkConnPerRequestRelay: a connection per request to a host behind
// a relay, as an HTTP/1.0 client would make: one caller, in a loop, dials
// the service by name, writes a 1-byte request, reads the 1-byte reply and
// closes; the server accepts, reads the request, writes the reply and
// closes. Compare with BenchmarkRTTRelay: a later dial costs no round trip
// of its own.
func BenchmarkConnPerRequestRelay(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchConnPerRequest(b, tcpMesh(b, 3)) })
	b.Run("tls", func(b *testing.B) { benchConnPerRequest(b, tlsMesh(b, 3)) })
}

func benchConnPerRequest(b *testing.B, ns []*Node) {
	ln, _ := ns[2].Listen("", "svc")
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 1)
				if _, err := io.ReadFull(c, buf); err == nil {
					c.Write(buf)
				}
				c.Close()
			}()
		}
	}()
	eventually(b, "svc", func() bool { return len(ns[0].Services()) == 1 })
	buf := make([]byte, 1)
	request := func() {
		c, err := ns[0].Dial("", "svc")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	request() // the circuit, and the verdict that makes later dials early
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		request()
	}
	b.StopTimer()
	reportCPU(b, cpu, float64(b.N), "request")
}
