package mux

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/fastio"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func TestMessages(t *testing.T) {
	cfg := &Config{MaxFrameSize: minFrameSize}
	sizes := []int{0, 1, 64, minFrameSize - 1, minFrameSize, minFrameSize + 1, 3*minFrameSize + 7, 1 << 20}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cs, ss := sessionPair(t, tr.pipe, cfg, cfg)
			a, b := streamPair(t, cs, ss)
			errc := make(chan error, 1)
			go func() {
				buf := make([]byte, 1<<20)
				for i, n := range sizes {
					copy(buf, randBytes(n, int64(i)))
					if err := a.Send(buf[:n]); err != nil {
						errc <- err
						return
					}
					clear(buf) // Send copied the message: reusing p at once is allowed
				}
				errc <- a.CloseWrite()
			}()
			for i, n := range sizes {
				msg, err := b.Recv()
				if err != nil {
					t.Fatalf("Recv %d: %v", i, err)
				}
				if !bytes.Equal(msg, randBytes(n, int64(i))) {
					t.Fatalf("message %d: got %d bytes, want %d (or content differs)", i, len(msg), n)
				}
			}
			if _, err := b.Recv(); err != io.EOF {
				t.Fatalf("Recv at end: %v, want io.EOF", err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestReadAcrossMessages(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	a, b := streamPair(t, cs, ss)
	for _, m := range []string{"hello ", "", "world"} {
		if err := a.Send([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	a.Write([]byte("!"))
	a.CloseWrite()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "hello world!" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
}

func TestRecvPartialThenEOF(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	a, b := streamPair(t, cs, ss)
	a.Write([]byte("no end of message"))
	a.CloseWrite()
	if _, err := b.Recv(); err != io.ErrUnexpectedEOF {
		t.Fatalf("Recv = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestMaxMessageSize(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, &Config{MaxMessageSize: 100 << 10})
	a, b := streamPair(t, cs, ss)
	go a.Send(make([]byte, 300<<10))
	_, err := b.Recv()
	if !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, ErrStreamReset) {
		t.Fatalf("Recv = %v, want ErrMessageTooLarge", err)
	}
	// The sender learns of it too.
	waitFor(t, func() bool { return errors.Is(a.Send([]byte("x")), ErrMessageTooLarge) })
}

// TestOpenNoRoundTrip writes on a stream before the peer accepted it, and
// before the client could have read the server's preface.
func TestOpenNoRoundTrip(t *testing.T) {
	c1, c2 := net.Pipe()
	cs, err := Client(c1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	st, err := cs.OpenStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := randBytes(32<<10, 1)
	done := make(chan error, 1)
	go func() {
		_, err := st.Write(want) // fits the minimum window: never blocks
		done <- err
	}()
	if err := <-done; err != nil { // before any server exists
		t.Fatal(err)
	}
	ss, err := Server(c2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	b, err := ss.AcceptStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadFull: %v", err)
	}
}

func TestHalfClose(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cs, ss := sessionPair(t, tr.pipe, nil, nil)
			a, b := streamPair(t, cs, ss)
			go func() {
				req, _ := io.ReadAll(b)
				b.Write(bytes.ToUpper(req))
				b.Close()
			}()
			a.Write([]byte("request"))
			if err := a.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write([]byte("x")); !errors.Is(err, ErrStreamClosed) {
				t.Fatalf("Write after CloseWrite = %v", err)
			}
			resp, err := io.ReadAll(a)
			if err != nil || string(resp) != "REQUEST" {
				t.Fatalf("response %q, %v", resp, err)
			}
			a.Close()
			waitFor(t, func() bool { return cs.NumStreams() == 0 && ss.NumStreams() == 0 })
		})
	}
}

// TestCloseDelivers: everything written before Close arrives, then EOF.
func TestCloseDelivers(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cs, ss := sessionPair(t, tr.pipe, nil, nil)
			want := randBytes(4<<20, 2)
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				a, b := streamPair(t, cs, ss)
				wg.Add(2)
				go func() {
					defer wg.Done()
					a.Write(want)
					a.Close()
				}()
				go func() {
					defer wg.Done()
					got, err := io.ReadAll(b)
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("stream %d: got %d bytes, %v", b.ID(), len(got), err)
					}
					b.Close()
				}()
			}
			wg.Wait()
		})
	}
}

func TestReset(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	a, b := streamPair(t, cs, ss)
	a.Write([]byte("before"))
	if err := a.Reset(0x4242); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, _ := b.Read(buf) // data sent before the reset may still be read
	if n > 0 && string(buf[:n]) != "before" {
		t.Fatalf("read %q", buf[:n])
	}
	var err error
	for err == nil {
		_, err = b.Read(buf)
	}
	var se *StreamError
	if !errors.As(err, &se) || se.Code != 0x4242 || !se.Remote || !errors.Is(err, ErrStreamReset) {
		t.Fatalf("Read after reset = %v", err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, ErrStreamReset) {
		t.Fatalf("Write after reset = %v", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, ErrStreamReset) {
		t.Fatalf("local Write after reset = %v", err)
	}
	waitFor(t, func() bool { return cs.NumStreams() == 0 && ss.NumStreams() == 0 })
}

// TestResetRightAfterOpen: a stream reset right after it was opened, maybe
// before its SYN was written, never shows up at the peer as a live stream,
// and frees its place in the peer's backlog.
func TestResetRightAfterOpen(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, &Config{AcceptBacklog: 10})
	for i := 0; i < 100; i++ { // ten times the backlog: the resets free it
		st, err := cs.OpenStream(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		st.Reset(CodeCancel)
	}
	waitFor(t, func() bool { // every SYN arrived, and every RESET, which follows it
		ss.table.mu.Lock()
		last := ss.table.lastPeerID
		ss.table.mu.Unlock()
		return last == 199 && ss.NumStreams() == 0 && cs.NumStreams() == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if st, err := ss.AcceptStream(ctx); err == nil {
		t.Fatalf("accepted stream %d, which was reset before it was accepted", st.ID())
	}
}

// TestDataAfterCloseResets: a peer that writes to a stream we closed gets
// its stream reset, as TCP does.
func TestDataAfterCloseResets(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	a, b := streamPair(t, cs, ss)
	b.Close()
	var err error
	for err == nil {
		_, err = a.Write(make([]byte, 1024))
	}
	if !errors.Is(err, ErrStreamReset) {
		t.Fatalf("Write to a closed stream = %v, want ErrStreamReset", err)
	}
	waitFor(t, func() bool { return ss.NumStreams() == 0 && cs.NumStreams() == 0 })
}

// TestUnreadStreamDoesNotStall: a stream whose reader never reads fills its
// window; other streams carry on at full speed.
func TestUnreadStreamDoesNotStall(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cs, ss := sessionPair(t, tr.pipe, nil, nil)
			stuck, _ := streamPair(t, cs, ss) // never read
			stuck.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := stuck.Write(make([]byte, 4<<20))
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("write to unread stream: %v", err)
			}
			if n > DefaultStreamWindow {
				t.Fatalf("queued %d bytes, more than the window %d", n, DefaultStreamWindow)
			}
			// Many unread streams at once, as long as the session cap holds them.
			for i := 0; i < 10; i++ {
				st, _ := streamPair(t, cs, ss)
				st.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				st.Write(make([]byte, 1<<20))
			}
			a, b := streamPair(t, cs, ss)
			want := randBytes(16<<20, 3)
			go func() {
				a.Write(want)
				a.Close()
			}()
			got, err := io.ReadAll(b)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("other stream: %d bytes, %v", len(got), err)
			}
		})
	}
}

// TestSessionCap: a peer that never reads cannot make the session buffer
// more than SessionWindow, however many streams it writes to.
func TestSessionCap(t *testing.T) {
	scfg := &Config{StreamWindow: 128 << 10, SessionWindow: 512 << 10}
	cs, ss := sessionPair(t, tcpPipe, nil, scfg)
	var total int
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < 20; i++ {
		a, _ := streamPair(t, cs, ss)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			n, _ := a.Write(make([]byte, 1<<20))
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if used := ss.flow.used.Load(); used > int64(scfg.SessionWindow) {
		t.Fatalf("server holds %d bytes of credit, cap %d", used, scfg.SessionWindow)
	}
	if total > int(scfg.SessionWindow) {
		t.Fatalf("writers queued %d bytes, more than the session window %d", total, scfg.SessionWindow)
	}
	if total == 0 {
		t.Fatal("nothing was written")
	}
	if ss.Err() != nil || cs.Err() != nil {
		t.Fatalf("sessions failed: %v, %v", ss.Err(), cs.Err())
	}
}

func TestManyStreams(t *testing.T) {
	const n = 2000
	cs, ss := sessionPair(t, tcpPipe, nil, &Config{AcceptBacklog: n})
	go func() {
		for {
			st, err := ss.AcceptStream(context.Background())
			if err != nil {
				return
			}
			go func() {
				io.Copy(st, st)
				st.Close()
			}()
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := cs.OpenStream(ctxT(t))
			if err != nil {
				t.Error(err)
				return
			}
			msg := []byte(fmt.Sprintf("stream %d", st.ID()))
			st.Write(msg)
			st.CloseWrite()
			got, err := io.ReadAll(st)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("echo %q, %v", got, err)
			}
			st.Close()
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { return cs.NumStreams() == 0 && ss.NumStreams() == 0 })
}

// waitFor waits until cond holds (testutil.Eventually).
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, "the condition", cond)
}

// TestInlineWriteResumes: a Write that finds the connection idle writes it
// itself, but a congested connection does not hold it in the system call:
// what the kernel does not take at once is queued for the writer, Write
// returns, and the peer gets every byte in order.
func TestInlineWriteResumes(t *testing.T) {
	c1, c2 := tcpPipe(t)
	defer c2.Close()
	c1.(*net.TCPConn).SetWriteBuffer(16 << 10)
	c2.(*net.TCPConn).SetReadBuffer(16 << 10)
	cs, err := Client(c1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	// The peer announces large windows, then reads nothing for now.
	c2.Write(appendPreface(nil, settings{role: roleServer, streamWindow: 8 << 20,
		sessionWindow: 16 << 20, maxFrame: DefaultMaxFrameSize, acceptBacklog: 16}))
	waitFor(t, func() bool {
		cs.sendq.mu.Lock()
		defer cs.sendq.mu.Unlock()
		return cs.sendq.peer.streamWindow == 8<<20
	})
	st, err := cs.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	want := randBytes(2<<20, 7)
	writeReturns(t, st, want)
	// Now read: the preface, then frames; stream 1's payloads are the data.
	got := make([]byte, 0, len(want))
	buf := make([]byte, 0, 4<<20)
	c2.SetReadDeadline(time.Now().Add(20 * time.Second))
	rd := make([]byte, 64<<10)
	for len(got) < len(want) {
		n, err := c2.Read(rd)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		buf = append(buf, rd[:n]...)
		if len(buf) >= prefaceSize && buf[0] == 'P' {
			buf = buf[prefaceSize:]
		}
		for len(buf) >= headerSize {
			h := parseHeader(buf)
			if len(buf) < headerSize+int(h.length) {
				break
			}
			if h.typ == typeData && h.streamID == st.ID() {
				got = append(got, buf[headerSize:headerSize+int(h.length)]...)
			}
			buf = buf[headerSize+int(h.length):]
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the peer got other bytes")
	}
	if err := cs.Err(); err != nil {
		t.Fatalf("session failed: %v", err)
	}
}

// TestLeaderHandsOver: a reader that waits on a stream that gets no data
// (a control stream) hands the connection over to the readers that do, and
// still gets its own data when it comes.
func TestLeaderHandsOver(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	quiet, quietPeer := streamPair(t, cs, ss)
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 5)
		_, err := io.ReadFull(quiet, b)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b)
	}()
	a, b := streamPair(t, cs, ss)
	go func() { io.Copy(b, b) }()
	buf := make([]byte, 32)
	for i := 0; i < 200; i++ {
		if _, err := a.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(a, buf); err != nil {
			t.Fatal(err)
		}
	}
	quietPeer.Write([]byte("hello"))
	select {
	case s := <-got:
		if s != "hello" {
			t.Fatalf("the quiet stream read %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the quiet stream never got its data")
	}
}

// TestRecvInto: RecvInto returns what Recv would, in the caller's buffer
// when it is large enough, and mixes with Recv and Read; a message Recv
// returned stays intact while later ones are received into recycled
// buffers.
func TestRecvInto(t *testing.T) {
	cfg := &Config{MaxFrameSize: minFrameSize}
	sizes := []int{0, 1, 64, 100, minFrameSize - 1, minFrameSize, minFrameSize + 1, 3*minFrameSize + 7, 1 << 20, 5}
	cs, ss := sessionPair(t, tcpPipe, cfg, cfg)
	a, b := streamPair(t, cs, ss)
	errc := make(chan error, 1)
	go func() {
		for round := range 3 {
			for i, n := range sizes {
				if err := a.Send(randBytes(n, int64(round*100+i))); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- a.CloseWrite()
	}()
	buf := make([]byte, 0, 100)
	var kept [][]byte
	for round := range 3 {
		for i, n := range sizes {
			want := randBytes(n, int64(round*100+i))
			var msg []byte
			var err error
			if round == 1 && i%2 == 0 {
				msg, err = b.Recv()
				kept = append(kept, msg)
			} else {
				msg, err = b.RecvInto(buf)
				if n <= cap(buf) && n > 0 && &msg[0] != &buf[:1][0] {
					t.Errorf("message %d/%d of %d bytes: RecvInto did not use the buffer", round, i, n)
				}
			}
			if err != nil {
				t.Fatalf("message %d/%d: %v", round, i, err)
			}
			if !bytes.Equal(msg, want) {
				t.Fatalf("message %d/%d: got %d bytes, want %d (or content differs)", round, i, len(msg), n)
			}
		}
	}
	for j, msg := range kept {
		i := 2 * j
		if !bytes.Equal(msg, randBytes(sizes[i], int64(100+i))) {
			t.Errorf("message 1/%d, kept from Recv, changed after later receives", i)
		}
	}
	if msg, err := b.RecvInto(buf); err != io.EOF || len(msg) != 0 {
		t.Fatalf("RecvInto at end: %d bytes, %v; want io.EOF", len(msg), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRecvIntoAllocs: receiving a buffered message with RecvInto into a
// buffer handed back allocates nothing.
func TestRecvIntoAllocs(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	a, b := streamPair(t, cs, ss)
	const runs, size = 300, 64
	msg := make([]byte, size)
	for range runs + 1 { // AllocsPerRun runs once more
		if err := a.Send(msg); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return b.Buffered() >= (runs+1)*size })
	buf := make([]byte, 0, size)
	var err error
	allocs := testing.AllocsPerRun(runs, func() {
		if buf, err = b.RecvInto(buf); err != nil || len(buf) != size {
			t.Fatalf("RecvInto: %d bytes, %v", len(buf), err)
		}
	})
	if allocs > 0.1 {
		t.Errorf("RecvInto: %.2f allocations per message, want 0", allocs)
	}
}

// gatedConn is a connection whose reads wait until open is closed.
type gatedConn struct {
	net.Conn
	open chan struct{}
}

func (c *gatedConn) Read(p []byte) (int, error) {
	<-c.open
	return c.Conn.Read(p)
}

// TestInlineWriteResumesSealed is TestInlineWriteResumes over TLS on a
// fastio.RecordConn: a Write that finds the connection idle seals its
// frames into records and writes them itself, and what a congested
// connection does not take at once is queued, sealed, for the writer;
// Write returns, and once the peer reads it gets every byte in order.
func TestInlineWriteResumesSealed(t *testing.T) {
	scfg, ccfg := testutil.TLSConfigs(t)
	scfg.MinVersion, ccfg.MinVersion = tls.VersionTLS13, tls.VersionTLS13
	ccfg.ServerName = "127.0.0.1"
	c1, c2 := testutil.TCPPair(t)
	c1.SetWriteBuffer(16 << 10)
	c2.SetReadBuffer(16 << 10)
	gate := &gatedConn{Conn: c2, open: make(chan struct{})}
	var opened sync.Once
	open := func() { opened.Do(func() { close(gate.open) }) }
	defer open()
	client := tls.Client(fastio.NewRecordConn(c1, c1), ccfg)
	server := tls.Server(fastio.NewRecordConn(gate, c2), scfg)
	open() // for the handshake
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	gate.open = make(chan struct{}) // the server reads nothing from now on
	opened = sync.Once{}
	big := &Config{StreamWindow: 4 << 20, SessionWindow: 16 << 20}
	ss, err := Server(server, big)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := Client(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if cs.sendq.records == nil {
		t.Fatal("the session does not seal through the RecordConn")
	}
	waitFor(t, func() bool { // the server's preface is read
		cs.sendq.mu.Lock()
		defer cs.sendq.mu.Unlock()
		return cs.sendq.peer.streamWindow == 4<<20
	})
	st, err := cs.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { // the SYN is written: the next Write finds the connection idle
		cs.sendq.mu.Lock()
		defer cs.sendq.mu.Unlock()
		return cs.sendq.openFlushed == st.ID() && !cs.sendq.writing
	})
	want := randBytes(2<<20, 9)
	writeReturns(t, st, want)
	open()
	peer, err := ss.AcceptStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the peer got other bytes")
	}
	if err := cs.Err(); err != nil {
		t.Fatalf("session failed: %v", err)
	}
}

// TestPeek: Peek copies buffered data without consuming it, and never
// waits.
func TestPeek(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, nil, nil)
	a, b := streamPair(t, cs, ss)
	var buf [8]byte
	if n := b.Peek(buf[:]); n != 0 {
		t.Fatalf("Peek with nothing buffered = %d", n)
	}
	a.Write([]byte("hello "))
	a.Write([]byte("world"))
	waitFor(t, func() bool { return b.Buffered() == 11 })
	if n := b.Peek(buf[:]); n != 8 || string(buf[:n]) != "hello wo" {
		t.Fatalf("Peek = %q", buf[:n])
	}
	got := make([]byte, 11)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "hello world" {
		t.Fatalf("ReadFull after Peek = %q, %v", got, err)
	}
}

// writeReturns writes p on st and fails t if the Write does not return,
// whole, though the connection is congested: the rest waits in the queue.
func writeReturns(t *testing.T, st *Stream, p []byte) {
	t.Helper()
	wrote := make(chan error, 1)
	go func() {
		_, err := st.Write(p)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write held by a congested connection")
	}
}
