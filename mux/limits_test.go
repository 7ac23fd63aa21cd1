package mux

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// The tests of issue 6: what a hostile or faulty peer must not be able to
// do to a session, and what Close must deliver.

// bigWindowPeer is the server end of a net.Pipe that announces the largest
// windows the protocol allows, reads the client's preface and then never
// reads again: a peer that grants any amount of credit and takes nothing.
func bigWindowPeer(t *testing.T, cfg *Config) *Session {
	t.Helper()
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c2.Close() })
	cs, err := Client(c1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	go func() {
		c2.Write(appendPreface(nil, settings{role: roleServer, streamWindow: maxWindow,
			sessionWindow: maxWindow, maxFrame: DefaultMaxFrameSize, acceptBacklog: maxWindow}))
		io.ReadFull(c2, make([]byte, prefaceSize))
	}()
	waitFor(t, func() bool {
		cs.sendq.mu.Lock()
		defer cs.sendq.mu.Unlock()
		return cs.sendq.peer.sessionWindow == maxWindow
	})
	return cs
}

// TestSendBufferBounded: whatever credit the peer grants, a session queues
// at most Config.SendBuffer for a connection that does not drain; Write and
// Send then block until their deadline.
func TestSendBufferBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		buf  int
		send func(st *Stream, p []byte) (int, error)
	}{
		{"Write/default", 0, (*Stream).Write},
		{"Send/default", 0, func(st *Stream, p []byte) (int, error) { return len(p), st.Send(p) }},
		{"Write/256KiB", 256 << 10, (*Stream).Write},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := bigWindowPeer(t, &Config{SendBuffer: tc.buf})
			st, err := cs.OpenStream(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			limit := tc.buf
			if limit == 0 {
				limit = DefaultSendBuffer
			}
			p := make([]byte, 64<<10)
			total := 0
			for total < 64<<20 {
				st.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
				n, err := tc.send(st, p)
				total += n
				if err != nil {
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("write: %v, want a deadline error", err)
					}
					break
				}
			}
			// What the writer has taken for the blocked connection write
			// counts in the buffer until the write ends.
			if total > limit+len(p) {
				t.Fatalf("queued %d bytes for a connection that does not drain; SendBuffer is %d", total, limit)
			}
			if total < limit/2 {
				t.Fatalf("queued only %d bytes of a %d-byte send buffer", total, limit)
			}
		})
	}
}

// fillUnread opens n streams whose accepting side never reads, and writes
// to each until its credit (or the session's) is used up. It returns the
// accepting ends.
func fillUnread(t *testing.T, cs, ss *Session, n int) []*Stream {
	t.Helper()
	var wg sync.WaitGroup
	ends := make([]*Stream, n)
	for i := range ends {
		a, b := streamPair(t, cs, ss)
		ends[i] = b
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			a.Write(make([]byte, 8<<20))
		}()
	}
	wg.Wait()
	return ends
}

// moveNew moves 4 MiB over a new stream and fails the test if it does not
// arrive whole within a bound generous for a loaded machine.
func moveNew(t *testing.T, cs, ss *Session) {
	t.Helper()
	a, b := streamPair(t, cs, ss)
	want := randBytes(4<<20, 3)
	go func() {
		a.SetWriteDeadline(time.Now().Add(20 * time.Second))
		a.Write(want)
		a.Close()
	}()
	b.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a new stream among unread ones moved %d of %d bytes: %v", len(got), len(want), err)
	}
}

// TestUnreadStreamsDoNotStall: 64 streams that nobody reads, at their
// initial window or after their windows grew, leave enough of the session
// window for a new stream to move 4 MiB.
func TestUnreadStreamsDoNotStall(t *testing.T) {
	t.Run("cold", func(t *testing.T) {
		cs, ss := sessionPair(t, tcpPipe, nil, nil)
		fillUnread(t, cs, ss, 64)
		moveNew(t, cs, ss)
	})
	t.Run("warm", func(t *testing.T) {
		cs, ss := sessionPair(t, tcpPipe, nil, nil)
		// 64 streams read fast first, so that their windows grow as far as
		// the session's budget lets them, then left unread.
		var warm []*Stream
		for i := 0; i < 64; i++ {
			a, b := streamPair(t, cs, ss)
			go a.Write(make([]byte, 2<<20))
			if _, err := io.ReadFull(b, make([]byte, 2<<20)); err != nil {
				t.Fatal(err)
			}
			warm = append(warm, a)
		}
		if w := ss.flow.windows.Load(); w < ss.flow.budget/2 {
			t.Fatalf("warm-up grew the windows to %d only (budget %d)", w, ss.flow.budget)
		}
		var wg sync.WaitGroup
		for _, a := range warm {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
				a.Write(make([]byte, 8<<20))
			}()
		}
		wg.Wait()
		buffered := 0
		ss.table.mu.Lock()
		for _, st := range ss.table.streams {
			st.mu.Lock()
			for i := range st.rq.len() {
				buffered += int(st.rq.at(i).cost)
			}
			st.mu.Unlock()
		}
		ss.table.mu.Unlock()
		if keep := int64(DefaultSessionWindow) - int64(buffered); keep < 4<<20 {
			t.Fatalf("64 unread streams leave %d bytes of the session window, want at least 4 MiB", keep)
		}
		moveNew(t, cs, ss)
	})
}

// rawClient is the client end of a TCP connection driven by hand against a
// server session: it sends its preface and swallows what the server says.
func rawClient(t *testing.T, cfg *Config) *rawPeer {
	t.Helper()
	p := newRawPeer(t, cfg)
	if _, err := p.conn.Write(clientPreface()); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStreamCloseTimeout: streams closed locally whose peer never sends its
// FIN are reset and forgotten after StreamCloseTimeout, so that a peer that
// never closes cannot fill the stream table for good.
func TestStreamCloseTimeout(t *testing.T) {
	p := rawClient(t, &Config{MaxStreams: 100, StreamCloseTimeout: 20 * time.Millisecond})
	for i := 0; i < 1000; i++ {
		var st *Stream
		waitFor(t, func() bool { // a slot frees as a closed stream times out
			var err error
			st, err = p.sess.OpenStream(ctxT(t))
			if err != nil && !errors.Is(err, ErrTooManyStreams) {
				t.Fatalf("round %d: %v", i, err)
			}
			return err == nil
		})
		st.Write([]byte("x"))
		st.Close()
	}
	waitFor(t, func() bool { return p.sess.NumStreams() == 0 })
	if err := p.sess.Err(); err != nil {
		t.Fatalf("session failed: %v", err)
	}
}

// TestOversizeMessageRemoves: a message over MaxMessageSize is refused on
// every path, one frame or several, and the stream it came on is reset and
// leaves the table, so oversized messages cannot use up the stream slots.
func TestOversizeMessageRemoves(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"one frame", 5000},
		{"several frames", 200 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ss := sessionPair(t, tcpPipe, nil, &Config{MaxMessageSize: 1000, MaxStreams: 8})
			for i := 0; i < 40; i++ { // more than MaxStreams
				a, b := streamPair(t, cs, ss)
				go a.Send(make([]byte, tc.size))
				msg, err := b.Recv()
				if !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, ErrStreamReset) {
					t.Fatalf("Recv = %d bytes, %v; want ErrMessageTooLarge", len(msg), err)
				}
				b.Close()
			}
			waitFor(t, func() bool { return ss.NumStreams() == 0 && cs.NumStreams() == 0 })
		})
	}
}

// TestNumStreamsAfterEnd: once the session ended, NumStreams is 0, so a
// GoAway drain that waits for it ends even if the peer died.
func TestNumStreamsAfterEnd(t *testing.T) {
	c1, c2 := tcpPipe(t)
	cs, _ := Client(c1, nil)
	ss, _ := Server(c2, nil)
	defer cs.Close()
	defer ss.Close()
	for i := 0; i < 3; i++ {
		streamPair(t, cs, ss)
	}
	ss.GoAway()
	c1.Close() // the peer dies
	waitFor(t, func() bool { return ss.NumStreams() == 0 })
}

// TestCloseDelivers200: yamux's TestHalfCloseSessionShutdown, 200 times
// over loopback TCP: write 256 KiB, close the stream, close the session at
// once; the peer reads every byte and EOF.
func TestCloseDelivers200(t *testing.T) {
	want := randBytes(256<<10, 5)
	run := func() error {
		c1, c2 := tcpPipe(t)
		cs, _ := Client(c1, nil)
		ss, _ := Server(c2, nil)
		defer ss.Close()
		got := make(chan error, 1)
		go func() {
			st, err := ss.AcceptStream(context.Background())
			if err != nil {
				got <- err
				return
			}
			b, err := io.ReadAll(st)
			if err == nil && !bytes.Equal(b, want) {
				err = errors.New("wrong bytes")
			}
			got <- err
		}()
		st, err := cs.OpenStream(context.Background())
		if err != nil {
			return err
		}
		if _, err := st.Write(want); err != nil {
			return err
		}
		st.Close()
		cs.Close()
		return <-got
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := 0; w < 4; w++ { // four at a time, to load the machine
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := run(); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n == 0 {
			t.Errorf("lost data: %v", err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("lost data in %d of 200 runs", n)
	}
}

// failingWrites is a connection whose writes fail once armed and whose
// reads can be held (hold.Lock) and then trickle, so that much of what
// the peer sent is still in the kernel when a write fails.
type failingWrites struct {
	net.Conn
	fail chan struct{}
	hold sync.RWMutex
}

func (c *failingWrites) Write(p []byte) (int, error) {
	select {
	case <-c.fail:
		return 0, errors.New("injected write failure")
	default:
		return c.Conn.Write(p)
	}
}

func (c *failingWrites) Read(p []byte) (int, error) {
	c.hold.RLock()
	c.hold.RUnlock()
	return c.Conn.Read(p[:min(len(p), 4<<10)])
}

// TestWriteFailureKeepsReading: a receiver whose window-update write fails
// still delivers everything the peer sent before it went away.
func TestWriteFailureKeepsReading(t *testing.T) {
	c1, c2 := tcpPipe(t)
	fw := &failingWrites{Conn: c2, fail: make(chan struct{})}
	cfg := &Config{StreamWindow: 1 << 20, SessionWindow: 4 << 20}
	cs, _ := Client(c1, nil)
	ss, _ := Server(fw, cfg)
	defer cs.Close()
	defer ss.Close()
	a, b := streamPair(t, cs, ss)
	fw.hold.Lock()                     // the receiver reads (at most 4 KiB more) no more for now
	want := randBytes(1<<20-64<<10, 7) // within the stream's credit
	if _, err := a.Write(want); err != nil {
		t.Fatal(err)
	}
	a.CloseWrite()
	close(fw.fail) // from now on the receiver cannot write: its updates fail
	fw.hold.Unlock()
	b.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(want), err)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatal("a write after the connection failed succeeded")
	}
}

// TestCloseBounded: Close with a peer that does not read takes about
// CloseTimeout, not WriteTimeout.
func TestCloseBounded(t *testing.T) {
	for _, timeout := range []time.Duration{0, 100 * time.Millisecond} {
		c1, c2 := net.Pipe()
		cs, _ := Client(c1, &Config{CloseTimeout: timeout, WriteTimeout: time.Hour})
		go func() { // the peer announces itself and reads nothing more
			c2.Write(appendPreface(nil, settings{role: roleServer, streamWindow: DefaultStreamWindow,
				sessionWindow: DefaultSessionWindow, maxFrame: DefaultMaxFrameSize, acceptBacklog: 1}))
			io.ReadFull(c2, make([]byte, prefaceSize))
		}()
		waitFor(t, func() bool { cs.sendq.mu.Lock(); defer cs.sendq.mu.Unlock(); return cs.sendq.peer.acceptBacklog == 1 })
		st, err := cs.OpenStream(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		st.Write(make([]byte, 32<<10))
		start := time.Now()
		cs.Close()
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("CloseTimeout %v: Close took %v", timeout, took)
		}
		c2.Close()
	}
}

// TestKeepAliveConfig: either keep-alive field alone implies the other; a
// timeout no longer than the interval is refused; and a session with only a
// short timeout set stays up while idle.
func TestKeepAliveConfig(t *testing.T) {
	for _, tc := range []struct {
		in                Config
		interval, timeout time.Duration
		bad               bool
	}{
		{Config{}, DefaultKeepAliveInterval, DefaultKeepAliveTimeout, false},
		{Config{KeepAliveTimeout: 300 * time.Millisecond}, 100 * time.Millisecond, 300 * time.Millisecond, false},
		{Config{KeepAliveInterval: time.Second}, time.Second, 3 * time.Second, false},
		{Config{KeepAliveInterval: time.Second, KeepAliveTimeout: time.Second}, 0, 0, true},
		{Config{KeepAliveInterval: time.Second, KeepAliveTimeout: 100 * time.Millisecond}, 0, 0, true},
		{Config{KeepAliveInterval: -1}, -1, 0, false},
	} {
		n, err := tc.in.normalize()
		if tc.bad != (err != nil) {
			t.Errorf("%+v: err = %v", tc.in, err)
			continue
		}
		if !tc.bad && (n.KeepAliveInterval != tc.interval || n.KeepAliveTimeout != tc.timeout) {
			t.Errorf("%+v: interval %v timeout %v, want %v %v", tc.in, n.KeepAliveInterval, n.KeepAliveTimeout, tc.interval, tc.timeout)
		}
	}
	if DefaultKeepAliveTimeout > 30*time.Second {
		t.Errorf("a dead peer is noticed after %v by default", DefaultKeepAliveTimeout)
	}
	cfg := &Config{KeepAliveTimeout: 300 * time.Millisecond}
	cs, ss := sessionPair(t, tcpPipe, cfg, cfg)
	// Idle, each side pings after 100 ms of silence and answers the
	// other's pings: ten frames queued by each side, pings or answers, are
	// five of one kind at least, 100 ms apart, so the sessions have been
	// idle for longer than the 300 ms timeout.
	c0, s0 := cs.Stats().FramesOut, ss.Stats().FramesOut
	waitFor(t, func() bool {
		return cs.Stats().FramesOut >= c0+10 && ss.Stats().FramesOut >= s0+10 || cs.Err() != nil || ss.Err() != nil
	})
	if cs.Err() != nil || ss.Err() != nil {
		t.Fatalf("an idle healthy session died: %v / %v", cs.Err(), ss.Err())
	}
}

// TestKeepAliveBlockedWriter: a writer blocked on credit from a peer that
// went silent is released when the keep-alive declares the peer dead.
func TestKeepAliveBlockedWriter(t *testing.T) {
	p := rawClient(t, &Config{KeepAliveTimeout: 300 * time.Millisecond})
	st, err := p.sess.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := st.Write(make([]byte, 1<<20)) // more than the peer's credit
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrKeepAliveTimeout) {
			t.Fatalf("Write = %v, want ErrKeepAliveTimeout", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("writer still blocked")
	}
}

// TestPingsOnBlockedConnection: the application's own pings queued on a
// connection that is backed up do not fail the session, and a Ping with a
// done context queues nothing.
func TestPingsOnBlockedConnection(t *testing.T) {
	c1, c2 := net.Pipe() // nobody reads c2
	defer c2.Close()
	cs, _ := Client(c1, &Config{KeepAliveInterval: -1, WriteTimeout: time.Hour})
	defer cs.Close()
	var wg sync.WaitGroup
	for i := 0; i < 20000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			cs.Ping(ctx)
		}()
	}
	wg.Wait()
	if err := cs.Err(); err != nil {
		t.Fatalf("application pings failed the session: %v", err)
	}

	ss, _ := sessionPair(t, tcpPipe, nil, nil)
	ss.sendq.mu.Lock()
	before := len(ss.sendq.ctrl)
	ss.sendq.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ss.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping = %v", err)
	}
	ss.sendq.mu.Lock()
	after := len(ss.sendq.ctrl)
	ss.sendq.mu.Unlock()
	if after != before {
		t.Fatalf("a Ping with a done context queued %d bytes", after-before)
	}
}

// flakyListener fails its first Accepts with a temporary error.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

type temporaryError struct{}

func (temporaryError) Error() string   { return "accept: too many open files" }
func (temporaryError) Temporary() bool { return true }
func (temporaryError) Timeout() bool   { return false }

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, temporaryError{}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestServeRetriesTemporaryErrors: a temporary Accept error does not end
// Serve or the sessions it serves.
func TestServeRetriesTemporaryErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- Serve(&flakyListener{Listener: ln, fails: 3}, nil, func(st *Stream) {
			io.Copy(st, st)
			st.Close()
		})
	}()
	for i := 0; i < 2; i++ {
		s, err := Dial(ctxT(t), "tcp", ln.Addr().String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := s.OpenStream(ctxT(t))
		st.Write([]byte("ping"))
		st.CloseWrite()
		got, err := io.ReadAll(st)
		if err != nil || string(got) != "ping" {
			t.Fatalf("echo %q, %v", got, err)
		}
		s.Close()
	}
	ln.Close()
	select {
	case err := <-served:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener closed")
	}
}

// TestClosedStreamsLeaveTheBudget: a stream closed locally buffers nothing
// more, so its window leaves the session's budget at once, even while it
// waits for the peer's FIN.
func TestClosedStreamsLeaveTheBudget(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	var ends []*Stream
	for i := 0; i < 4; i++ {
		a, b := streamPair(t, cs, ss)
		go a.Write(make([]byte, 4<<20))
		if _, err := io.ReadFull(b, make([]byte, 4<<20)); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, b)
	}
	if w := ss.flow.windows.Load(); w <= 4*DefaultStreamWindow {
		t.Fatalf("the windows did not grow: %d", w)
	}
	for _, b := range ends {
		b.Close()
	}
	if w := ss.flow.windows.Load(); w != 0 {
		t.Fatalf("closed streams still hold %d bytes of the budget", w)
	}
}

// TestSecondCloseWaits: a Close that finds the session closing returns
// only once the connection is closed, not while the first Close still
// delivers (a caller that closes what lies under the connection next
// would cut that delivery short).
func TestSecondCloseWaits(t *testing.T) {
	c1, c2 := tcpPipe(t)
	defer c2.Close() // a peer that never answers: the first Close waits for its EOF
	s, err := Client(c1, &Config{CloseTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan struct{})
	go func() {
		s.Close()
		close(first)
	}()
	<-s.Done()
	s.Close()
	select {
	case <-s.life.connClosed:
	default:
		t.Fatal("the second Close returned before the connection was closed")
	}
	<-first
}
