package mux

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// TestSlabCut: chunks cut from slabs never overlap and cannot grow into
// each other; a session holds at most maxSlabs slabs, beyond which
// slabChunk refuses; and every slab goes back once its chunks are released
// and the reader moved on, after which cutting resumes.
func TestSlabCut(t *testing.T) {
	var live atomic.Int32
	fr := &frameReader{slabs: &live}
	var kept []chunk // one chunk of each slab, kept to pin it
	var first *slab
	for i := 0; ; i++ {
		n := 1 + i%slabMaxPayload
		c, ok := fr.slabChunk(n)
		if !ok {
			break
		}
		if len(c.b) != n || cap(c.b) != n {
			t.Fatalf("chunk %d: len %d cap %d, want %d", i, len(c.b), cap(c.b), n)
		}
		for j := range c.b {
			c.b[j] = byte(i)
		}
		if c.sl != first {
			first = c.sl
			kept = append(kept, c)
			continue
		}
		if !bytes.Equal(c.b, bytes.Repeat([]byte{byte(i)}, n)) {
			t.Fatalf("chunk %d overwritten", i)
		}
		c.release()
		if i > 1<<20 {
			t.Fatal("slabChunk never refused")
		}
	}
	if got := live.Load(); got != maxSlabs || len(kept) != maxSlabs {
		t.Fatalf("refused with %d slabs live, %d pinned; want %d", got, len(kept), maxSlabs)
	}
	for i, c := range kept {
		if c.b[0] != c.b[len(c.b)-1] {
			t.Fatalf("kept chunk %d overwritten", i)
		}
		c.release()
	}
	if got := live.Load(); got != 0 { // the full one was retired before the refusal
		t.Fatalf("%d slabs live after releasing every chunk, want 0", got)
	}
	c, ok := fr.slabChunk(1)
	if !ok || live.Load() != 1 {
		t.Fatalf("after the release: slabChunk ok %v with %d live, want true, 1", ok, live.Load())
	}
	fr.retireSlab()
	if got := live.Load(); got != 1 {
		t.Fatalf("%d slabs live after the reader retired a slab with a chunk unread, want 1", got)
	}
	c.release()
	if got := live.Load(); got != 0 {
		t.Fatalf("%d slabs live after the reader retired its slab, want 0", got)
	}
}

// TestSlabPinning: a peer that leaves one small message unread on a stream
// between bursts on another, so that each message would pin a slab of its
// own, makes the session hold at most maxSlabs slabs; both streams receive
// everything intact, and once the pinning messages are read the slabs go
// back, the last one when the session ends.
func TestSlabPinning(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	a, ra := streamPair(t, cs, ss) // left unread
	b, rb := streamPair(t, cs, ss) // read at once
	// One RecvInto on each, so that their small payloads go to slabs.
	for _, p := range [][2]*Stream{{a, ra}, {b, rb}} {
		if err := p[0].Send([]byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, err := p[1].RecvInto(nil); err != nil {
			t.Fatal(err)
		}
	}
	const rounds, burst, size = 3 * maxSlabs, 300, 60 // a burst fills a slab
	msg := make([]byte, size)
	buf := make([]byte, 0, size)
	maxLive := int32(0)
	for r := range rounds {
		if err := a.Send(fmt.Appendf(nil, "pin %d", r)); err != nil {
			t.Fatal(err)
		}
		for i := range burst {
			msg[0], msg[1] = byte(r), byte(i)
			if err := b.Send(msg); err != nil {
				t.Fatal(err)
			}
		}
		for i := range burst {
			var err error
			if buf, err = rb.RecvInto(buf); err != nil {
				t.Fatal(err)
			}
			if len(buf) != size || buf[0] != byte(r) || buf[1] != byte(i) {
				t.Fatalf("round %d message %d: got %d bytes starting %v", r, i, len(buf), buf[:min(2, len(buf))])
			}
		}
		maxLive = max(maxLive, ss.rd.slabs.Load())
	}
	if maxLive > maxSlabs {
		t.Fatalf("the session held %d slabs, want at most %d", maxLive, maxSlabs)
	}
	if maxLive < maxSlabs/2 {
		t.Fatalf("the session held at most %d slabs: the test did not pin them", maxLive)
	}
	for r := range rounds {
		m, err := ra.RecvInto(nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("pin %d", r); string(m) != want {
			t.Fatalf("pinning message %d: %q, want %q", r, m, want)
		}
	}
	waitFor(t, func() bool { return ss.rd.slabs.Load() <= 1 })
	// Once the session ends, its reader retires the slab it was cutting.
	ss.Close()
	waitFor(t, func() bool { return ss.rd.slabs.Load() == 0 })
}

// TestSmallMessagesIntact: messages of mixed sizes, most small enough for
// slabs, on 8 streams read with Recv, RecvInto and Read, arrive intact:
// no slab or pool buffer is reused while a chunk still needs it.
func TestSmallMessagesIntact(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	const streams, count = 8, 3000
	content := func(st, i, n int) []byte {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(st*31 + i*7 + j)
		}
		return b
	}
	size := func(r *rand.Rand) int {
		if r.Intn(10) == 0 {
			return 1 + r.Intn(4<<10)
		}
		return 1 + r.Intn(slabMaxPayload+64)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*streams)
	for s := range streams {
		a, b := streamPair(t, cs, ss)
		wg.Add(2)
		var sent atomic.Int32
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(s)))
			for i := range count {
				if err := a.Send(content(s, i, size(r))); err != nil {
					errs <- err
					return
				}
				sent.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(s)))
			var buf []byte
			for i := range count {
				want := content(s, i, size(r))
				var got []byte
				var err error
				switch s % 3 {
				case 0:
					got, err = b.Recv()
				case 1:
					buf, err = b.RecvInto(buf)
					got = buf
				case 2:
					got = make([]byte, len(want))
					_, err = io.ReadFull(b, got)
				}
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, want) {
					errs <- fmt.Errorf("stream %d message %d: %d bytes differ from the %d sent", s, i, len(got), len(want))
					return
				}
				if i%500 == 0 { // let the queue fill: a slab's worth, or all that is left
					testutil.Until(func() bool { return b.Buffered() >= slabSize || sent.Load() == count })
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDrainedQueuesBounded: a peer that fills the receive queues of many
// streams with tiny messages, once each, while the application reads them
// all, leaves behind at most the session's budget of drained queue slots
// (plus idleQueue a stream), not a full-grown queue in every stream; the
// budget is given back as the streams end.
func TestDrainedQueuesBounded(t *testing.T) {
	cfg := &Config{SessionWindow: minSessionWindow}
	cs, ss := sessionPair(t, tcpPipe, cfg, cfg)
	const streams, msgs = 40, 600 // 600 chunks: a ring of 1024 slots each
	var senders, readers []*Stream
	buf := make([]byte, 0, 8)
	for range streams {
		a, b := streamPair(t, cs, ss)
		senders, readers = append(senders, a), append(readers, b)
		for i := range msgs {
			if err := a.Send([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		// Let the whole burst queue up before reading, so the ring grows.
		waitFor(t, func() bool { return b.Buffered() == msgs })
		for i := range msgs {
			var err error
			if buf, err = b.RecvInto(buf); err != nil || len(buf) != 1 || buf[0] != byte(i) {
				t.Fatalf("message %d: %v %v", i, buf, err)
			}
		}
	}
	slots, charged, big := 0, int64(0), 0
	for _, b := range readers {
		b.mu.Lock()
		slots += len(b.rq.buf)
		charged += b.kept()
		if len(b.rq.buf) > idleQueue {
			big++
		}
		b.mu.Unlock()
	}
	if limit := int(ss.rd.queueBudget) + streams*idleQueue; slots > limit {
		t.Fatalf("drained queues keep %d slots, want at most %d", slots, limit)
	}
	if big == 0 {
		t.Fatal("no drained queue kept its slots: a busy stream would grow its queue again after each burst")
	}
	if got := ss.rd.queueKept.Load(); got != charged || got > ss.rd.queueBudget {
		t.Fatalf("queueKept %d; the queues are charged %d, budget %d", got, charged, ss.rd.queueBudget)
	}
	for i := range streams {
		senders[i].Close()
		readers[i].Close()
	}
	waitFor(t, func() bool { return ss.NumStreams() == 0 })
	if got := ss.rd.queueKept.Load(); got != 0 {
		t.Fatalf("queueKept %d after every stream ended, want 0", got)
	}
}
