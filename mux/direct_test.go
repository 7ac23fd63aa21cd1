package mux

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// TestReadDeadlineMidPayload: a Read that leads reads a payload straight
// into the caller's buffer (lead.go). If its deadline passes halfway
// through the payload, Read returns a timeout and the buffer is the
// caller's again: nothing is written into it after Read returned, and the
// payload, the half already read included, comes whole to the next Read.
func TestReadDeadlineMidPayload(t *testing.T) {
	p := newRawPeer(t, nil)
	st := acceptStream1(t, p)
	const size, half = 32 << 10, 10 << 10
	direct := 0 // attempts in which the Read led and read into its buffer
	for attempt := 0; attempt < 200 && direct < 3; attempt++ {
		payload := bytes.Repeat([]byte{byte(attempt + 1)}, size)
		// A small frame, handed by the reader goroutine to a waiting Read:
		// the token stays free for a moment, so the next Read leads.
		if _, err := p.conn.Write(frame(typeData, 0, 1, []byte{'x'})); err != nil {
			t.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := io.ReadFull(st, one); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		st.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		sent := make(chan error, 1)
		go func() {
			_, err := p.conn.Write(append(appendHeader(nil, typeData, 0, 1, size), payload[:half]...))
			sent <- err
		}()
		n, err := st.Read(buf)
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("attempt %d: Read of half a payload returned %d, %v; want 0 and a timeout", attempt, n, err)
		}
		if bytes.Equal(buf[:half], payload[:half]) {
			direct++
		}
		snapshot := bytes.Clone(buf)

		st.SetReadDeadline(time.Time{})
		if _, err := p.conn.Write(payload[half:]); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(st, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("attempt %d: the payload came back changed", attempt)
		}
		if !bytes.Equal(buf, snapshot) {
			t.Fatalf("attempt %d: the timed-out Read's buffer was written after Read returned", attempt)
		}
	}
	if direct == 0 {
		t.Fatal("no Read led in 200 attempts: the straight-into-the-buffer path was never taken")
	}
}

// acceptStream1 opens stream 1 from the raw peer and accepts it.
func acceptStream1(t *testing.T, p *rawPeer) *Stream {
	t.Helper()
	if _, err := p.conn.Write(append(clientPreface(), frame(typeData, flagSYN, 1, nil)...)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := p.sess.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestConcurrentReadsAfterDirectRead: two Reads wait on one stream; one
// leads. Two DATA frames arrive in one segment: the first goes straight
// into the leader's buffer, the second is queued. deliver leaves waking
// readers of the leader's own stream to the leader, so the leader, which
// returns its bytes without taking the queued frame, must wake the other
// Read for it.
func TestConcurrentReadsAfterDirectRead(t *testing.T) {
	p := newRawPeer(t, nil)
	st := acceptStream1(t, p)
	out := make(chan string, 16)
	for range 2 {
		go func() {
			for {
				buf := make([]byte, 4096)
				n, err := st.Read(buf)
				if err != nil {
					return
				}
				out <- string(buf[:n])
				if string(buf[:n]) != "x" {
					return // one Read of the data each: the leader does not come back
				}
			}
		}()
	}
	waitFor(t, func() bool { return waits(p.sess, st) == 2 }) // both Reads wait; the reader goroutine reads
	// A small frame handed by the reader goroutine to one Read: the token
	// stays free for the grace period and that Read, reading again, leads.
	if _, err := p.conn.Write(frame(typeData, 0, 1, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if got := <-out; got != "x" {
		t.Fatalf("got %q", got)
	}
	// One Read leads, the other waits (or, if the first came back too late
	// to lead, both wait).
	waitFor(t, func() bool { return waits(p.sess, st) == 2 })
	msg := append(frame(typeData, 0, 1, []byte("AAAA")), frame(typeData, 0, 1, []byte("BBBB"))...)
	if _, err := p.conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	var got []string
	n := 0
	timeout := time.After(10 * time.Second) // generous: the data is there at once
	for n < 8 {
		select {
		case s := <-out:
			got = append(got, s)
			n += len(s)
		case <-timeout:
			t.Fatalf("only %q came back; %d bytes stay buffered on the stream and the other Read sleeps", got, st.Buffered())
		}
	}
	t.Logf("got %q", got)
	st.Close()
}

// TestSpliceDuringLeadingRead: a Read is blocked (leading) on a stream when
// the stream is spliced. Data that arrives after Splice goes to the
// splice, not into the in-flight Read's buffer.
func TestSpliceDuringLeadingRead(t *testing.T) {
	p := newRawPeer(t, nil)
	st := acceptStream1(t, p)
	oc, os2 := sessionPair(t, tcpPipe, nil, nil)
	x, y := streamPair(t, oc, os2)

	readDone := make(chan int, 1)
	first := make(chan struct{})
	go func() {
		one := make([]byte, 1)
		st.Read(one) // the 'x' below, from the reader goroutine
		close(first)
		buf := make([]byte, 4096)
		n, _ := st.Read(buf) // within the grace period: it leads
		readDone <- n
	}()
	waitFor(t, func() bool { return waits(p.sess, st) == 1 })
	if _, err := p.conn.Write(frame(typeData, 0, 1, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	<-first
	waitFor(t, func() bool { return waits(p.sess, st) == 1 }) // the Read leads
	if err := Splice(st, x, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.conn.Write(frame(typeData, 0, 1, []byte("hello"))); err != nil {
		t.Fatal(err)
	}
	y.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 16)
	n, err := y.Read(buf)
	select {
	case k := <-readDone:
		if k > 0 {
			t.Errorf("the in-flight Read returned %d bytes that arrived after Splice", k)
		}
	default:
	}
	if err != nil {
		t.Fatalf("the spliced stream's far end got %q, %v; want hello", buf[:n], err)
	}
	st.Reset(CodeCancel)
}

// TestNoWindowAfterFINReadDirect: a DATA frame that carries FIN and goes
// straight into a leading Read's buffer returns its credit after the FIN
// is recorded, so no WINDOW goes out for a stream the peer has finished
// sending on, just as when the frame is queued and read later.
func TestNoWindowAfterFINReadDirect(t *testing.T) {
	c1, c2 := tcpPipe(t)
	s, err := Server(c2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c1.Close(); s.Close() })
	var mu sync.Mutex
	var windows []uint32
	pong := make(chan struct{})
	go func() {
		// parse what the server sends: preface, then frames
		pre := make([]byte, prefaceSize)
		if _, err := io.ReadFull(c1, pre); err != nil {
			return
		}
		h := make([]byte, headerSize)
		for {
			if _, err := io.ReadFull(c1, h); err != nil {
				return
			}
			fh := parseHeader(h)
			b := make([]byte, fh.length)
			if _, err := io.ReadFull(c1, b); err != nil {
				return
			}
			if fh.typ == typeWindow && fh.streamID == 1 && fh.flags&flagACK == 0 {
				mu.Lock()
				windows = append(windows, uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))
				mu.Unlock()
			}
			if fh.typ == typePing && fh.flags&flagACK != 0 {
				close(pong)
			}
		}
	}()
	if _, err := c1.Write(append(clientPreface(), frame(typeData, flagSYN, 1, nil)...)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 20000 bytes (+32 overhead) is over a quarter of the 64 KiB window.
	payload := bytes.Repeat([]byte{7}, 20000)
	done := make(chan int, 1)
	first := make(chan struct{})
	go func() {
		one := make([]byte, 1)
		st.Read(one)
		close(first)
		buf := make([]byte, 64<<10)
		n, _ := st.Read(buf)
		done <- n
	}()
	waitFor(t, func() bool { return waits(s, st) == 1 })
	if _, err := c1.Write(frame(typeData, 0, 1, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	<-first
	waitFor(t, func() bool { return waits(s, st) == 1 }) // the Read leads
	if _, err := c1.Write(frame(typeData, flagFIN, 1, payload)); err != nil {
		t.Fatal(err)
	}
	n := <-done
	// A WINDOW that the Read's credit called for was queued before Read
	// returned, so it comes before the answer to a ping sent now.
	if _, err := c1.Write(appendPing(nil, 0, 1)); err != nil {
		t.Fatal(err)
	}
	<-pong
	mu.Lock()
	defer mu.Unlock()
	t.Logf("Read returned %d; WINDOWs sent for stream 1 after its FIN: %v", n, windows)
	if len(windows) > 0 {
		t.Errorf("a WINDOW (%v) was sent for a stream whose peer had sent FIN", windows)
	}
}

// TestReadDeadlinesStress: a bulk transfer over TCP read with random
// short deadlines and a ring of buffers: the bytes come whole and in
// order, and no buffer is written after the Read it was given to returned.
func TestReadDeadlinesStress(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			stressReadDeadlines(t, func(t *testing.T) (*Stream, *Stream) {
				c, s := sessionPair(t, tr.pipe, nil, nil)
				return streamPair(t, c, s)
			})
		})
	}
	t.Run("Nested", func(t *testing.T) {
		ic, is, _, _ := nestedPair(t, nil)
		stressReadDeadlines(t, func(t *testing.T) (*Stream, *Stream) { return streamPair(t, ic, is) })
	})
}

func stressReadDeadlines(t *testing.T, pair func(t *testing.T) (*Stream, *Stream)) {
	w, r := pair(t)
	const total = 8 << 20
	want := randBytes(total, 42)
	go func() {
		rng := rand.New(rand.NewSource(1))
		for p := want; len(p) > 0; {
			n := min(len(p), 1+rng.Intn(200000))
			if _, err := w.Write(p[:n]); err != nil {
				t.Error(err)
				return
			}
			p = p[n:]
			if rng.Intn(8) == 0 {
				// Time, not state: the writer pauses at random, so that
				// the reader's deadlines fall at every point of a frame.
				time.Sleep(time.Duration(rng.Intn(300)) * time.Microsecond)
			}
		}
		w.CloseWrite()
	}()
	type slot struct {
		buf, snap []byte
	}
	ring := make([]slot, 6)
	for i := range ring {
		ring[i].buf = make([]byte, 16<<10+rand.Intn(120<<10))
	}
	rng := rand.New(rand.NewSource(2))
	got := make([]byte, 0, total)
	timeouts := 0
	for i := 0; ; i++ {
		s := &ring[i%len(ring)]
		if s.snap != nil && !bytes.Equal(s.buf, s.snap) {
			t.Fatalf("read %d: a buffer was written after its Read returned", i)
		}
		if rng.Intn(3) == 0 {
			r.SetReadDeadline(time.Now().Add(time.Duration(rng.Intn(200)) * time.Microsecond))
		} else {
			r.SetReadDeadline(time.Time{})
		}
		n, err := r.Read(s.buf)
		got = append(got, s.buf[:n]...)
		s.snap = append(s.snap[:0], s.buf...)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			timeouts++
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Once the session's reader has stopped, nothing can write a buffer.
	rs := r.Session()
	rs.Close()
	<-rs.life.readerDone
	for i, s := range ring {
		if s.snap != nil && !bytes.Equal(s.buf, s.snap) {
			t.Fatalf("ring %d: a buffer was written after its Read returned", i)
		}
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("got %d bytes, want %d; first difference at %d", len(got), len(want), i)
	}
	t.Logf("%d timeouts", timeouts)
}

var _ net.Conn = (*Stream)(nil)

// leadingRead starts a Read of st that leads: a one-byte frame is
// handed to a first Read by the reader goroutine, and the second Read,
// made at once (within the grace period), leads. It returns the buffer and
// a channel with the second Read's result.
type readResult struct {
	n   int
	err error
}

func leadingRead(t *testing.T, p *rawPeer, st *Stream, size int) ([]byte, chan readResult) {
	t.Helper()
	buf := make([]byte, size)
	res := make(chan readResult, 1)
	first := make(chan struct{})
	go func() {
		one := make([]byte, 1)
		_, err := st.Read(one)
		close(first)
		if err != nil {
			res <- readResult{0, err}
			return
		}
		n, err := st.Read(buf)
		res <- readResult{n, err}
	}()
	waitFor(t, func() bool { return waits(p.sess, st) == 1 })
	if _, err := p.conn.Write(frame(typeData, 0, 1, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	<-first
	waitFor(t, func() bool { return waits(p.sess, st) == 1 || len(res) > 0 })
	return buf, res
}

// TestPeerDiesDuringDirectRead: the peer dies in the middle of a payload going
// straight into a leading Read's buffer, or in the middle of the header
// after one (the readv path): the Read fails, the session ends with
// io.ErrUnexpectedEOF, and the buffer is not written after Read returned.
func TestPeerDiesDuringDirectRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		send   func() []byte
		wantN  int
		wantOK bool
	}{
		{"mid payload", func() []byte {
			return append(appendHeader(nil, typeData, 0, 1, 40000), bytes.Repeat([]byte{1}, 10000)...)
		}, 0, false},
		{"header only", func() []byte { return appendHeader(nil, typeData, 0, 1, 40000) }, 0, false},
		{"mid next header", func() []byte {
			b := append(appendHeader(nil, typeData, 0, 1, 40000), bytes.Repeat([]byte{1}, 40000)...)
			return append(b, appendHeader(nil, typeData, 0, 1, 40000)[:4]...)
		}, 40000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newRawPeer(t, nil)
			st := acceptStream1(t, p)
			buf, res := leadingRead(t, p, st, 64<<10)
			send := tc.send()
			before := p.sess.rd.bytesIn.Load()
			if _, err := p.conn.Write(send); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return p.sess.rd.bytesIn.Load() >= before+uint64(len(send)) })
			p.conn.Close()
			var r readResult
			select {
			case r = <-res:
			case <-time.After(5 * time.Second):
				t.Fatal("Read hangs")
			}
			snap := bytes.Clone(buf)
			if tc.wantOK {
				if r.n != tc.wantN || r.err != nil {
					t.Fatalf("Read = %d, %v; want %d, nil", r.n, r.err, tc.wantN)
				}
				n, err := st.Read(make([]byte, 100))
				if n != 0 || err == nil {
					t.Fatalf("second Read = %d, %v", n, err)
				}
			} else if r.n != 0 || r.err == nil {
				t.Fatalf("Read = %d, %v; want an error", r.n, r.err)
			}
			<-p.sess.Done()
			if !errors.Is(p.sess.Err(), io.ErrUnexpectedEOF) {
				t.Errorf("session Err = %v; want io.ErrUnexpectedEOF", p.sess.Err())
			}
			<-p.sess.life.readerDone // nothing reads any more
			if !bytes.Equal(buf, snap) {
				t.Fatal("buffer written after Read returned")
			}
		})
	}
}

// TestHeaderThenStall: the peer sends a large DATA header then
// nothing for a while: Reads with deadlines time out, their buffers stay
// as they were, and the payload comes whole once it arrives.
func TestHeaderThenStall(t *testing.T) {
	p := newRawPeer(t, nil)
	st := acceptStream1(t, p)
	payload := randBytes(40000, 9)
	buf, res := leadingRead(t, p, st, 64<<10)
	st.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := p.conn.Write(append(appendHeader(nil, typeData, 0, 1, len(payload)), payload[:5000]...)); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.n != 0 || !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %d, %v", r.n, r.err)
	}
	snap := bytes.Clone(buf)
	var others [][]byte
	for range 3 {
		b := make([]byte, 64<<10)
		st.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		n, err := st.Read(b)
		if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %d, %v", n, err)
		}
		others = append(others, b)
	}
	st.SetReadDeadline(time.Time{})
	if _, err := p.conn.Write(payload[5000:]); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(st, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload changed")
	}
	if !bytes.Equal(buf, snap) {
		t.Fatal("buffer written after Read returned")
	}
	for _, b := range others {
		if !bytes.Equal(b, make([]byte, len(b))) {
			t.Fatal("a timed-out Read's buffer was written")
		}
	}
}

// TestCloseWhileLeadingRead: the session closes while a Read leads with
// a direct payload half read.
func TestCloseWhileLeadingRead(t *testing.T) {
	p := newRawPeer(t, nil)
	st := acceptStream1(t, p)
	buf, res := leadingRead(t, p, st, 64<<10)
	send := append(appendHeader(nil, typeData, 0, 1, 40000), bytes.Repeat([]byte{3}, 10000)...)
	before := p.sess.rd.bytesIn.Load()
	if _, err := p.conn.Write(send); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return p.sess.rd.bytesIn.Load() >= before+uint64(len(send)) })
	go p.sess.Close()
	r := <-res
	snap := bytes.Clone(buf)
	if r.n != 0 || r.err == nil {
		t.Fatalf("Read = %d, %v", r.n, r.err)
	}
	// the peer sends the rest: the draining reader must not write buf
	p.conn.Write(bytes.Repeat([]byte{4}, 30000))
	p.conn.Close()
	<-p.sess.life.readerDone // it drained all, to the peer's EOF
	if !bytes.Equal(buf, snap) {
		t.Fatal("buffer written after Read returned")
	}
}

// TestDirectReadsInterleaved: frames of another stream, zero-length frames and
// FIN on the last direct payload: Reads see stream 1's bytes in order.
func TestDirectReadsInterleaved(t *testing.T) {
	p := newRawPeer(t, &Config{StreamWindow: 4 << 20}) // the hand-driven peer ignores credit
	st := acceptStream1(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.conn.Write(frame(typeData, flagSYN, 3, nil)); err != nil {
		t.Fatal(err)
	}
	st3, err := p.sess.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := randBytes(300000, 5)
	want3 := randBytes(100000, 6)
	go func() {
		rng := rand.New(rand.NewSource(3))
		a, b := want, want3
		for len(a) > 0 {
			var out []byte
			for range 1 + rng.Intn(3) {
				switch rng.Intn(4) {
				case 0:
					if len(b) > 0 {
						n := min(len(b), 1+rng.Intn(40000))
						out = append(out, frame(typeData, 0, 3, b[:n])...)
						b = b[n:]
					}
				case 1:
					out = append(out, frame(typeData, 0, 1, nil)...)
				default:
					n := min(len(a), 1+rng.Intn(60000))
					fl := uint8(0)
					if n == len(a) {
						fl = flagFIN
					}
					out = append(out, frame(typeData, fl, 1, a[:n])...)
					a = a[n:]
				}
			}
			// write in random pieces
			for len(out) > 0 {
				k := min(len(out), 1+rng.Intn(70000))
				if _, err := p.conn.Write(out[:k]); err != nil {
					return
				}
				out = out[k:]
				if rng.Intn(4) == 0 {
					// Time, not state: frames arrive in bursts and
					// trickles, so that Reads meet every part of a frame.
					time.Sleep(time.Duration(rng.Intn(500)) * time.Microsecond)
				}
			}
		}
		p.conn.Write(frame(typeData, flagFIN, 3, b))
	}()
	got3 := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(st3)
		got3 <- b
	}()
	var got []byte
	rng := rand.New(rand.NewSource(4))
	for {
		b := make([]byte, 1+rng.Intn(80000))
		n, err := st.Read(b)
		got = append(got, b[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("stream 1: %d bytes, want %d, or different", len(got), len(want))
	}
	if g3 := <-got3; !bytes.Equal(g3, want3) {
		t.Fatalf("stream 3: %d bytes, want %d, or different", len(g3), len(want3))
	}
}
