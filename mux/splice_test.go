package mux

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// relay is A — R — B: two sessions (A with R's left end, R's right end with
// B) and R splicing the streams A opens to streams it opens to B.
type relay struct {
	a, rl, rr, b *Session
}

func newRelay(t *testing.T, cfg *Config) *relay {
	t.Helper()
	a, rl := sessionPair(t, tcpPipe, cfg, cfg)
	rr, b := sessionPair(t, tcpPipe, cfg, cfg)
	return &relay{a: a, rl: rl, rr: rr, b: b}
}

// circuit opens a stream from A, splices it at R to a stream to B, and
// returns A's and B's ends; done is called when the splice ends.
func (r *relay) circuit(t *testing.T, done func(error)) (*Stream, *Stream) {
	t.Helper()
	x, in := streamPair(t, r.a, r.rl)
	out, y := streamPair(t, r.rr, r.b)
	if err := Splice(in, out, done); err != nil {
		t.Fatal(err)
	}
	return x, y
}

func TestSpliceCarriesBothWays(t *testing.T) {
	r := newRelay(t, nil)
	ended := make(chan error, 1)
	x, y := r.circuit(t, func(err error) { ended <- err })
	up := randBytes(8<<20, 1)
	down := randBytes(3<<20, 2)
	var wg sync.WaitGroup
	for _, c := range []struct {
		w, r *Stream
		want []byte
	}{{x, y, up}, {y, x, down}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.w.Write(c.want)
			c.w.CloseWrite()
		}()
		go func() {
			defer wg.Done()
			got, err := io.ReadAll(c.r)
			if err != nil || !bytes.Equal(got, c.want) {
				t.Errorf("through the relay: %d of %d bytes, %v", len(got), len(c.want), err)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("done(%v) after a FIN each way", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("done not called")
	}
	x.Close()
	y.Close()
	waitFor(t, func() bool { return r.rl.NumStreams() == 0 && r.rr.NumStreams() == 0 })
}

// TestSpliceMessages: message boundaries survive the relay, and what
// arrived before Splice is forwarded first.
func TestSpliceMessages(t *testing.T) {
	r := newRelay(t, &Config{MaxFrameSize: minFrameSize})
	x, in := streamPair(t, r.a, r.rl)
	sizes := []int{0, 1, 100, minFrameSize + 3, 200 << 10}
	for _, n := range sizes[:2] { // before the splice
		x.Send(randBytes(n, int64(n)))
	}
	waitFor(t, func() bool { in.mu.Lock(); defer in.mu.Unlock(); return in.rq.len() > 0 })
	out, y := streamPair(t, r.rr, r.b)
	if err := Splice(in, out, nil); err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, n := range sizes[2:] {
			x.Send(randBytes(n, int64(n)))
		}
	}()
	for _, n := range sizes {
		got, err := y.Recv()
		if err != nil || !bytes.Equal(got, randBytes(n, int64(n))) {
			t.Fatalf("message of %d bytes: got %d, %v", n, len(got), err)
		}
	}
}

// TestSpliceBackpressure: a far end that does not read stops its own
// circuit, whose relay holds no more than the circuit's window, while
// another circuit through the same relay carries on.
func TestSpliceBackpressure(t *testing.T) {
	r := newRelay(t, nil)
	stuck, _ := r.circuit(t, nil) // B never reads it
	stuck.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	n, err := stuck.Write(make([]byte, 64<<20))
	if err == nil {
		t.Fatal("64 MiB went into a circuit nobody reads")
	}
	// Held: B's window, R's window, A's send buffer, and the kernels' buffers.
	if n > 24<<20 {
		t.Fatalf("%d bytes went into a circuit nobody reads", n)
	}
	if used := r.rl.flow.used.Load(); used > 4<<20 {
		t.Fatalf("the relay holds %d bytes for a stalled circuit", used)
	}
	x, y := r.circuit(t, nil)
	want := randBytes(4<<20, 4)
	go func() {
		x.Write(want)
		x.CloseWrite()
	}()
	y.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(y)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the other circuit: %d of %d bytes, %v", len(got), len(want), err)
	}
}

// TestSpliceResets: a reset at either end, or the death of either session
// at the relay, resets the other end with the same code.
func TestSpliceResets(t *testing.T) {
	t.Run("reset", func(t *testing.T) {
		r := newRelay(t, nil)
		ended := make(chan error, 1)
		x, y := r.circuit(t, func(err error) { ended <- err })
		x.Reset(0x4242)
		_, err := y.Read(make([]byte, 1))
		var se *StreamError
		if !errors.As(err, &se) || se.Code != 0x4242 {
			t.Fatalf("far end: %v, want a reset with code 0x4242", err)
		}
		if err := <-ended; !errors.Is(err, ErrStreamReset) {
			t.Fatalf("done(%v)", err)
		}
		waitFor(t, func() bool { return r.rl.NumStreams() == 0 && r.rr.NumStreams() == 0 })
	})
	t.Run("session dies", func(t *testing.T) {
		r := newRelay(t, nil)
		ended := make(chan error, 1)
		x, _ := r.circuit(t, func(err error) { ended <- err })
		r.b.Close() // the far link goes away
		_, err := x.Read(make([]byte, 1))
		if !errors.Is(err, ErrStreamReset) {
			t.Fatalf("near end: %v, want a reset", err)
		}
		if err := <-ended; err == nil {
			t.Fatal("done(nil) after the session died")
		}
	})
}

// TestSpliceNoGoroutines: a relay holds no goroutine per circuit, and an
// idle circuit costs little memory.
func TestSpliceNoGoroutines(t *testing.T) {
	r := newRelay(t, &Config{AcceptBacklog: 4096})
	const n = 2000
	var ends []*Stream
	runtime.GC()
	before := runtime.NumGoroutine()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < n; i++ {
		x, y := r.circuit(t, nil)
		ends = append(ends, x, y)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if g := runtime.NumGoroutine(); g > before+10 {
		t.Fatalf("%d circuits added %d goroutines", n, g-before)
	}
	// Both ends of all four sessions are in this process: the heap grew by
	// four streams and a splice per circuit.
	t.Logf("%d bytes of heap per circuit, all four streams and the splice", (int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/n)
	for _, st := range ends {
		st.Close()
	}
}

func TestSpliceRefuses(t *testing.T) {
	r := newRelay(t, nil)
	_, in := streamPair(t, r.a, r.rl)
	out, _ := streamPair(t, r.rr, r.b)
	if err := Splice(in, in, nil); !errors.Is(err, ErrSpliced) {
		t.Fatalf("Splice(s, s) = %v", err)
	}
	if err := Splice(in, out, nil); err != nil {
		t.Fatal(err)
	}
	other, _ := streamPair(t, r.rr, r.b)
	if err := Splice(out, other, nil); !errors.Is(err, ErrSpliced) {
		t.Fatalf("splicing a spliced stream = %v", err)
	}
	closed, _ := streamPair(t, r.rr, r.b)
	closed.Close()
	if err := Splice(other, closed, nil); !errors.Is(err, ErrSpliced) {
		t.Fatalf("splicing a closed stream = %v", err)
	}
}

// TestSpliceWriteFails: the relay's next connection breaks (its writing
// side is shut) while a circuit trickles data through it: both ends are
// reset and done is called. (A splice that wrote inline and reported the
// failure under the stream locks deadlocked here.)
func TestSpliceWriteFails(t *testing.T) {
	for range 5 {
		a, rl := sessionPair(t, tcpPipe, nil, nil)
		c1, c2 := tcpPipe(t)
		rr, err := Client(c1, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Server(c2, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rr.Close(); b.Close() })
		ended := make(chan error, 1)
		x, in := streamPair(t, a, rl)
		out, _ := streamPair(t, rr, b)
		if err := Splice(in, out, func(err error) { ended <- err }); err != nil {
			t.Fatal(err)
		}
		// A trickle: a KiB at a time, each forwarded before the next.
		p := make([]byte, 1<<10)
		var sent uint64
		for i := 0; len(ended) == 0; i++ {
			if i == 20 {
				c1.(*net.TCPConn).CloseWrite() // rr's next write fails (EPIPE), its reader goes on
			}
			if _, err := x.Write(p); err != nil {
				break
			}
			sent += uint64(len(p))
			waitFor(t, func() bool { from, _ := in.SplicedBytes(); return from >= sent || len(ended) > 0 })
		}
		select {
		case err := <-ended:
			if err == nil {
				t.Fatal("done(nil) after the next connection broke")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("done not called: the splice is stuck")
		}
		if _, err := x.Read(make([]byte, 1)); !errors.Is(err, ErrStreamReset) {
			t.Fatalf("near end: %v, want a reset", err)
		}
	}
}

// TestSplicedBytes: each end of a splice reports the bytes forwarded each
// way, from its own point of view, and keeps them once the splice ended.
func TestSplicedBytes(t *testing.T) {
	r := newRelay(t, nil)
	x, in := streamPair(t, r.a, r.rl)
	out, y := streamPair(t, r.rr, r.b)
	if f, o := in.SplicedBytes(); f != 0 || o != 0 {
		t.Fatalf("before Splice: %d, %d", f, o)
	}
	ended := make(chan error, 1)
	if err := Splice(in, out, func(err error) { ended <- err }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		w, r *Stream
		n    int
	}{{x, y, 1000}, {y, x, 300}} {
		if _, err := c.w.Write(randBytes(c.n, 3)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c.r, make([]byte, c.n)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		if f, o := in.SplicedBytes(); f != 1000 || o != 300 {
			t.Errorf("%s: in: %d from, %d to; want 1000, 300", when, f, o)
		}
		if f, o := out.SplicedBytes(); f != 300 || o != 1000 {
			t.Errorf("%s: out: %d from, %d to; want 300, 1000", when, f, o)
		}
	}
	check("spliced")
	x.Reset(CodeCancel)
	<-ended
	check("ended")
}

// TestSpliceDeliversAfterSourceEnds: the source's session ends right
// after its stream's FIN, while the relay still holds data the far end has
// no credit for yet: the far end still reads it all, then io.EOF.
func TestSpliceDeliversAfterSourceEnds(t *testing.T) {
	r := newRelay(t, nil)
	ended := make(chan error, 1)
	x, y := r.circuit(t, func(err error) { ended <- err })
	want := randBytes(100<<10, 7) // more than y's window: some waits at the relay
	if _, err := x.Write(want); err != nil {
		t.Fatal(err)
	}
	x.CloseWrite()
	r.a.Close() // the source's link goes, its FIN sent
	got, err := io.ReadAll(y)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("far end: %d of %d bytes, %v", len(got), len(want), err)
	}
	y.Close()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("done(%v): the source had sent everything", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("done not called")
	}
}

// circuitRecord is a caller's record of a splice, holding its state.
type circuitRecord struct {
	Splicing
	ended chan error
}

func (c *circuitRecord) SpliceEnded(err error) { c.ended <- err }

// TestSplicingJoin: a Splicing embedded in a record of the caller's
// carries the splice and tells the record of its end; its Bytes count
// both ways; a Splicing joins once; and the spliced streams keep no
// receive queue once what they got has gone on (a relay holds thousands,
// mostly idle).
func TestSplicingJoin(t *testing.T) {
	r := newRelay(t, nil)
	x, in := streamPair(t, r.a, r.rl)
	out, y := streamPair(t, r.rr, r.b)
	rec := &circuitRecord{ended: make(chan error, 1)}
	if err := rec.Join(in, out, rec); err != nil {
		t.Fatal(err)
	}
	x2, in2 := streamPair(t, r.a, r.rl)
	out2, _ := streamPair(t, r.rr, r.b)
	if err := rec.Join(in2, out2, rec); !errors.Is(err, ErrSpliced) {
		t.Fatalf("a second Join: %v, want ErrSpliced", err)
	}
	x2.Reset(CodeCancel)
	out2.Reset(CodeCancel)
	for _, c := range []struct {
		w, r *Stream
		n    int
	}{{x, y, 1000}, {y, x, 300}, {x, y, 5}} {
		if _, err := c.w.Write(randBytes(c.n, 4)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c.r, make([]byte, c.n)); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.Bytes(); got != 1305 {
		t.Errorf("Bytes %d, want 1305", got)
	}
	for _, st := range []*Stream{in, out} {
		// The last chunk leaves the queue just after it went on.
		waitFor(t, func() bool {
			st.mu.Lock()
			defer st.mu.Unlock()
			return st.rq.len() == 0 && len(st.rq.buf) == 0
		})
	}
	x.Close()
	y.Close()
	select {
	case err := <-rec.ended:
		if err != nil {
			t.Fatalf("SpliceEnded(%v) after a FIN each way", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SpliceEnded not called")
	}
}
