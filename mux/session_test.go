package mux

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{MaxStreams: -1},
		{AcceptBacklog: -1},
		{StreamWindow: 1000},
		{SessionWindow: 1000},
		{StreamWindow: 1 << 20, SessionWindow: 512 << 10},
		{MaxFrameSize: 100},
		{MaxFrameSize: 1 << 24},
		{MaxMessageSize: -1},
		{KeepAliveTimeout: -1},
		{WriteTimeout: -1},
	}
	for _, cfg := range bad {
		c1, c2 := net.Pipe()
		if _, err := Client(c1, &cfg); err == nil {
			t.Errorf("Client(%+v) succeeded", cfg)
		}
		c1.Close()
		c2.Close()
	}
	if _, err := Client(nil, nil); err == nil {
		t.Error("Client(nil) succeeded")
	}
}

func TestMaxStreams(t *testing.T) {
	// Our own limit: the 4th open is refused here. (The server takes more,
	// so that no refusal of its own frees a slot meanwhile.)
	cs, _ := sessionPair(t, tcpPipe, &Config{MaxStreams: 3}, &Config{MaxStreams: 10})
	for i := 0; i < 3; i++ {
		if _, err := cs.OpenStream(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.OpenStream(ctxT(t)); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("4th open = %v, want ErrTooManyStreams", err)
	}
	// The peer's limit: the server holds only 2, the third stream is
	// refused with a reset, and its slot is free again (we are at our limit
	// of 3 until then).
	cs, _ = sessionPair(t, tcpPipe, &Config{MaxStreams: 3}, &Config{MaxStreams: 2})
	var open []*Stream
	for i := 0; i < 3; i++ {
		st, err := cs.OpenStream(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, st)
	}
	var err error
	for err == nil {
		_, err = open[2].Read(make([]byte, 1))
	}
	if !errors.Is(err, ErrTooManyStreams) || !errors.Is(err, ErrStreamReset) {
		t.Fatalf("third stream: %v, want a refusal", err)
	}
	waitFor(t, func() bool { return cs.NumStreams() == 2 })
	if _, err := cs.OpenStream(ctxT(t)); err != nil {
		t.Fatalf("open after a slot was freed: %v", err)
	}
}

// TestAcceptBacklog: an opener waits while the peer's backlog is full of
// its unaccepted streams, and goes on when the peer accepts one.
func TestAcceptBacklog(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, &Config{AcceptBacklog: 4})
	if _, err := cs.Ping(ctxT(t)); err != nil { // the server's preface is in
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := cs.OpenStream(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := cs.OpenStream(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("5th open with a full backlog = %v, want to wait", err)
	}
	opened := make(chan error, 1)
	go func() {
		_, err := cs.OpenStream(ctxT(t))
		opened <- err
	}()
	if _, err := ss.AcceptStream(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("open after an accept: %v", err)
	}
}

// TestAcceptBacklogRefuses: a peer that ignores the backlog gets its
// excess opens refused.
func TestAcceptBacklogRefuses(t *testing.T) {
	p := newRawPeer(t, &Config{AcceptBacklog: 4})
	buf := clientPreface()
	for id := uint32(1); id <= 19; id += 2 {
		buf = appendHeader(buf, typeData, flagSYN, id, 0)
	}
	p.conn.Write(buf)
	waitFor(t, func() bool {
		p.sess.table.mu.Lock()
		defer p.sess.table.mu.Unlock()
		return p.sess.table.lastPeerID == 19
	})
	if n := p.sess.NumStreams(); n != 4 {
		t.Fatalf("server holds %d streams, want 4", n)
	}
}

func TestGoAwayDrains(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	want := randBytes(1<<20, 9)
	var sts []*Stream
	for i := 0; i < 10; i++ {
		a, b := streamPair(t, cs, ss)
		sts = append(sts, a)
		go func() { // the server echoes
			io.Copy(b, b)
			b.Close()
		}()
	}
	if err := cs.GoAway(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.OpenStream(ctxT(t)); !errors.Is(err, ErrGoAway) {
		t.Fatalf("open after own GoAway = %v", err)
	}
	waitFor(t, func() bool {
		_, err := ss.OpenStream(ctxT(t))
		return errors.Is(err, ErrGoAway)
	})
	var wg sync.WaitGroup
	for _, a := range sts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			go func() {
				a.Write(want)
				a.CloseWrite()
			}()
			got, err := io.ReadAll(a)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("stream %d: %d bytes, %v", a.ID(), len(got), err)
			}
			a.Close()
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { return cs.NumStreams() == 0 && ss.NumStreams() == 0 })
	cs.Close()
	<-ss.Done()
}

// TestGoAwayRefusesCrossingOpens: a stream opened before the peer's GOAWAY
// arrived is refused with an error that is ErrGoAway.
func TestGoAwayRefusesCrossingOpens(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	ss.table.mu.Lock()
	ss.table.goAwayLocal = true // as if GoAway ran but its frame is still on the way
	ss.table.mu.Unlock()
	st, err := cs.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Read(make([]byte, 1)); !errors.Is(err, ErrGoAway) {
		t.Fatalf("Read = %v, want ErrGoAway", err)
	}
}

func TestSessionClose(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	a, b := streamPair(t, cs, ss)
	errc := make(chan error, 2)
	go func() {
		_, err := a.Read(make([]byte, 1))
		errc <- err
	}()
	go func() {
		_, err := ss.Accept()
		errc <- err
	}()
	waitFor(t, func() bool { return waits(cs, a) == 1 && waits(ss, nil) == 1 })
	cs.Close()
	if err := <-errc; !errors.Is(err, ErrSessionClosed) && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("pending op after Close = %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrSessionClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after the peer closed = %v", err)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		// the write may be queued before the server notices; then it fails soon
		waitFor(t, func() bool { _, err := b.Write([]byte("x")); return err != nil })
	}
	if _, err := cs.OpenStream(ctxT(t)); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("OpenStream after Close = %v", err)
	}
	if !errors.Is(cs.Err(), ErrSessionClosed) {
		t.Fatalf("Err = %v", cs.Err())
	}
	cs.Close() // twice is fine
}

func TestPing(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	for _, s := range []*Session{cs, ss} {
		rtt, err := s.Ping(ctxT(t))
		if err != nil || rtt <= 0 {
			t.Fatalf("Ping = %v, %v", rtt, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cs.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping with a cancelled context = %v", err)
	}
}

// gate is a net.Conn whose writes can be swallowed, as a peer that
// vanished without a FIN.
type gate struct {
	net.Conn
	swallow atomic.Bool
}

func (g *gate) Write(p []byte) (int, error) {
	if g.swallow.Load() {
		return len(p), nil
	}
	return g.Conn.Write(p)
}

func TestKeepAliveDetectsSilentPeer(t *testing.T) {
	c1, c2 := tcpPipe(t)
	g := &gate{Conn: c2}
	cfg := &Config{KeepAliveInterval: 50 * time.Millisecond, KeepAliveTimeout: 300 * time.Millisecond}
	cs, _ := Client(c1, cfg)
	ss, _ := Server(g, &Config{KeepAliveInterval: -1})
	defer ss.Close()
	defer cs.Close()
	if _, err := cs.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	g.swallow.Store(true)
	select {
	case <-cs.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("silent peer not detected")
	}
	if !errors.Is(cs.Err(), ErrKeepAliveTimeout) {
		t.Fatalf("Err = %v", cs.Err())
	}
}

// TestKeepAliveUnderLoad: a session saturated in both directions never
// times out falsely.
func TestKeepAliveUnderLoad(t *testing.T) {
	cfg := &Config{KeepAliveInterval: 20 * time.Millisecond, KeepAliveTimeout: 500 * time.Millisecond}
	cs, ss := sessionPair(t, tcpPipe, cfg, cfg)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	buf := make([]byte, 64<<10)
	for i := 0; i < 4; i++ {
		a, b := streamPair(t, cs, ss)
		for _, pair := range [][2]*Stream{{a, b}, {b, a}} {
			w, r := pair[0], pair[1]
			wg.Add(2)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						w.CloseWrite()
						return
					default:
					}
					if _, err := w.Write(buf); err != nil {
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				io.Copy(io.Discard, r)
			}()
		}
	}
	// Time, not state: what is tested is that a busy session survives a
	// span of several keep-alive timeouts.
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if cs.Err() != nil || ss.Err() != nil {
		t.Fatalf("a busy session failed: %v / %v", cs.Err(), ss.Err())
	}
}

func TestWriteTimeout(t *testing.T) {
	c1, c2 := net.Pipe() // unbuffered: a write blocks until the other side reads
	defer c2.Close()
	cs, err := Client(c1, &Config{WriteTimeout: 100 * time.Millisecond, KeepAliveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	select {
	case <-cs.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("blocked write not detected")
	}
	if !errors.Is(cs.Err(), ErrWriteTimeout) {
		t.Fatalf("Err = %v", cs.Err())
	}
}

func TestServeAndDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- Serve(ln, nil, func(st *Stream) {
			for {
				m, err := st.Recv()
				if err != nil {
					break
				}
				st.Send(append([]byte("re: "), m...))
			}
			st.Close()
		})
	}()
	s, err := Dial(ctxT(t), "tcp", ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	st.Send([]byte("hi"))
	if m, err := st.Recv(); err != nil || string(m) != "re: hi" {
		t.Fatalf("Recv = %q, %v", m, err)
	}
	ln.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve = %v", err)
	}
	<-s.Done() // Serve closed its sessions
	if _, err := Dial(ctxT(t), "tcp", ln.Addr().String(), &Config{MaxFrameSize: 1}); err == nil {
		t.Fatal("Dial with a bad Config succeeded")
	}
}

// TestAcceptQueueStaysSmall: an acceptor that always lags one stream
// behind a steady stream of opens keeps a small accept queue.
func TestAcceptQueueStaysSmall(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	if _, err := cs.OpenStream(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		st, err := cs.OpenStream(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		waitFor(t, func() bool { // the acceptor holds two: it lags one behind
			ss.table.mu.Lock()
			defer ss.table.mu.Unlock()
			return ss.table.acc[0].backlog >= 2
		})
		a, err := ss.AcceptStream(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
	}
	ss.table.mu.Lock()
	defer ss.table.mu.Unlock()
	if c := cap(ss.table.acc[0].q); c > 64 {
		t.Fatalf("accept queue capacity %d after 2000 accepts one behind", c)
	}
}

// TestStats: the counters move with traffic, and a keep-alive measures the
// round trip without any Ping from the application.
func TestStats(t *testing.T) {
	cfg := &Config{KeepAliveInterval: 50 * time.Millisecond}
	cs, ss := sessionPair(t, tcpPipe, cfg, cfg)
	a, b := streamPair(t, cs, ss)
	go a.Write(make([]byte, 100<<10))
	if _, err := io.ReadFull(b, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return cs.Stats().RTT > 0 && ss.Stats().RTT > 0 }) // keep-alives after silence
	c, s := cs.Stats(), ss.Stats()
	if c.BytesOut < 100<<10 || s.BytesIn < 100<<10 || c.FramesOut < 3 || s.FramesIn < 3 {
		t.Fatalf("client %+v, server %+v", c, s)
	}
	if c.StreamsOpened != 1 || s.StreamsAccepted != 1 || c.Streams != 1 || s.Streams != 1 {
		t.Fatalf("streams: client %+v, server %+v", c, s)
	}
	// Keep-alives are not counted as pings answered; the peer's Pings are.
	if c.PingsAnswered != 0 || s.PingsAnswered != 0 {
		t.Fatalf("pings answered after keep-alives only: client %d, server %d", c.PingsAnswered, s.PingsAnswered)
	}
	for range 2 {
		if _, err := cs.Ping(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if n := ss.Stats().PingsAnswered; n != 2 {
		t.Fatalf("the server answered %d pings, want 2", n)
	}
	if n := cs.Stats().PingsAnswered; n != 0 {
		t.Fatalf("the client answered %d pings, want 0", n)
	}
}
