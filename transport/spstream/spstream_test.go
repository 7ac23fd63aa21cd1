package spstream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var req, rep = testutil.ReqRep()

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		id   uint16
		err  error
	}{
		{"req", []byte{0, 'S', 'P', 0, 0, 0x30, 0, 0}, 0x30, nil},
		{"raw", []byte{0, 'S', 'P', 0, 0xf0, 0x00, 0, 0}, 0xf000, nil},
		{"short", []byte{0, 'S', 'P', 0, 0, 0x30, 0}, 0, transport.ErrBadHandshake},
		{"long", []byte{0, 'S', 'P', 0, 0, 0x30, 0, 0, 0}, 0, transport.ErrBadHandshake},
		{"magic", []byte{1, 'S', 'P', 0, 0, 0x30, 0, 0}, 0, transport.ErrBadHandshake},
		{"magic2", []byte{0, 's', 'P', 0, 0, 0x30, 0, 0}, 0, transport.ErrBadHandshake},
		{"version", []byte{0, 'S', 'P', 1, 0, 0x30, 0, 0}, 0, transport.ErrBadHandshake},
		{"reserved", []byte{0, 'S', 'P', 0, 0, 0x30, 0, 1}, 0, transport.ErrBadHandshake},
		{"http", []byte("GET / HT"), 0, transport.ErrBadHandshake},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseHeader(tt.in)
			if !errors.Is(err, tt.err) || (err == nil && id != tt.id) {
				t.Fatalf("ParseHeader = %#x, %v; want %#x, %v", id, err, tt.id, tt.err)
			}
		})
	}
	if got := AppendHeader(nil, 0x31); !bytes.Equal(got, []byte{0, 'S', 'P', 0, 0, 0x31, 0, 0}) {
		t.Fatalf("AppendHeader = % x", got)
	}
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name       string
		a, b       transport.Config
		errA, errB error
	}{
		{"req-rep", transport.Config{Self: req, Peer: rep}, transport.Config{Self: rep, Peer: req}, nil, nil},
		{"req-req", transport.Config{Self: req, Peer: rep}, transport.Config{Self: req, Peer: rep}, transport.ErrProtocolMismatch, transport.ErrProtocolMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, cb := net.Pipe() // unbuffered: both sides write first
			defer ca.Close()
			defer cb.Close()
			errs := make(chan error, 1)
			go func() {
				_, err := Handshake(context.Background(), cb, &tt.b)
				errs <- err
			}()
			_, errA := Handshake(context.Background(), ca, &tt.a)
			errB := <-errs
			if !errors.Is(errA, tt.errA) || !errors.Is(errB, tt.errB) {
				t.Fatalf("got %v / %v, want %v / %v", errA, errB, tt.errA, tt.errB)
			}
		})
	}
}

func TestHandshakeGarbageAndTimeout(t *testing.T) {
	cfg := transport.Config{Self: req, Peer: rep, HandshakeTimeout: 50 * time.Millisecond}
	// A peer that sends an HTTP request instead of an SP header.
	ca, cb := net.Pipe()
	go func() {
		buf := make([]byte, 8)
		io.ReadFull(cb, buf)
		cb.Write([]byte("GET / HTTP/1.1\r\n"))
	}()
	if _, err := Handshake(context.Background(), ca, &cfg); !errors.Is(err, transport.ErrBadHandshake) {
		t.Fatalf("garbage: %v", err)
	}
	ca.Close()
	cb.Close()

	// A peer that says nothing: the handshake timeout ends it.
	ca, cb = net.Pipe()
	go io.Copy(io.Discard, cb)
	if _, err := Handshake(context.Background(), ca, &cfg); err == nil {
		t.Fatal("silent peer: no error")
	}
	ca.Close()
	cb.Close()

	// A cancelled context ends it too.
	ca, cb = net.Pipe()
	go io.Copy(io.Discard, cb)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg.HandshakeTimeout = time.Minute
	if _, err := Handshake(ctx, ca, &cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	ca.Close()
	cb.Close()
}

// byteConn is a net.Conn that reads from a fixed byte string.
type byteConn struct {
	r *bytes.Reader
	w bytes.Buffer
}

func (c *byteConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *byteConn) Write(b []byte) (int, error)      { return c.w.Write(b) }
func (c *byteConn) Close() error                     { return nil }
func (c *byteConn) LocalAddr() net.Addr              { return nil }
func (c *byteConn) RemoteAddr() net.Addr             { return nil }
func (c *byteConn) SetDeadline(time.Time) error      { return nil }
func (c *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error { return nil }
func newByteConn(b []byte) *byteConn                 { return &byteConn{r: bytes.NewReader(b)} }
func pipeOver(c net.Conn, f Framing, max int) *Pipe {
	return NewPipe(c, &transport.Config{MaxRecvSize: max}, f, rep)
}
func frame(f Framing, payload []byte) []byte {
	var b []byte
	if f == FramingIPC {
		b = append(b, 1)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(len(payload)))
	return append(b, payload...)
}

func TestFraming(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), readBufSize/8) // 2x the read buffer
	for _, f := range []Framing{FramingTCP, FramingIPC} {
		var in []byte
		msgs := [][]byte{[]byte("a"), {}, []byte("hello"), big, []byte("after big")}
		for _, m := range msgs {
			in = append(in, frame(f, m)...)
		}
		p := pipeOver(newByteConn(in), f, 1<<20)
		for i, want := range msgs {
			got, err := p.Recv()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("framing %d msg %d: %d bytes, %v", f, i, len(got), err)
			}
		}
		if _, err := p.Recv(); err != io.EOF {
			t.Fatalf("framing %d: end: %v", f, err)
		}
		// Writing produces the same bytes.
		var batch []byte
		for _, m := range msgs {
			batch = transport.AppendFrame(batch, m)
		}
		c := newByteConn(nil)
		w := pipeOver(c, f, 1<<20)
		if err := w.Send(batch[:20], batch[20:]); f == FramingIPC && err == nil {
			// IPC re-frames whole frames; a batch split mid-frame is refused.
			t.Fatalf("ipc accepted a split batch")
		}
		c.w.Reset()
		if err := w.Send(batch); err != nil || !bytes.Equal(c.w.Bytes(), in) {
			t.Fatalf("framing %d: Send wrote % x, %v", f, c.w.Bytes()[:16], err)
		}
	}
}

func TestFramingErrors(t *testing.T) {
	tests := []struct {
		name string
		f    Framing
		in   []byte
		err  error
	}{
		{"oversize", FramingTCP, frame(FramingTCP, make([]byte, 11)), transport.ErrMsgTooLarge},
		{"huge announced, nothing sent", FramingTCP, binary.BigEndian.AppendUint64(nil, 1<<62), transport.ErrMsgTooLarge},
		{"ipc huge", FramingIPC, append([]byte{1}, binary.BigEndian.AppendUint64(nil, ^uint64(0))...), transport.ErrMsgTooLarge},
		{"ipc type", FramingIPC, append([]byte{2}, frame(FramingTCP, []byte("x"))...), transport.ErrProtocol},
		{"truncated header", FramingTCP, []byte{0, 0, 0}, io.ErrUnexpectedEOF},
		{"truncated payload", FramingTCP, frame(FramingTCP, []byte("hello"))[:10], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pipeOver(newByteConn(tt.in), tt.f, 10)
			if _, err := p.Recv(); !errors.Is(err, tt.err) {
				t.Fatalf("Recv = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestBuffered(t *testing.T) {
	in := append(frame(FramingTCP, []byte("one")), frame(FramingTCP, []byte("two"))...)
	p := pipeOver(newByteConn(in), FramingTCP, 100)
	if p.Buffered() {
		t.Fatal("buffered before any read")
	}
	p.Recv()
	if !p.Buffered() {
		t.Fatal("second message not reported buffered")
	}
	p.Recv()
	if p.Buffered() {
		t.Fatal("buffered after the last message")
	}
}

func TestListenerAndDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, &transport.Config{Self: rep, Peer: req}, FramingTCP, "tcp://"+ln.Addr().String())
	defer l.Close()
	// A client that never handshakes does not hold up the others.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// A client of the wrong protocol is refused and never surfaces.
	_, err = Dial(context.Background(), &transport.Config{Self: rep, Peer: req}, FramingTCP, func(ctx context.Context) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	})
	if !errors.Is(err, transport.ErrProtocolMismatch) {
		t.Fatalf("wrong protocol: %v", err)
	}
	p, err := Dial(context.Background(), &transport.Config{Self: req, Peer: rep}, FramingTCP, func(ctx context.Context) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sp, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if sp.Peer().ID != req.ID || p.Peer().ID != rep.ID {
		t.Fatalf("peers %v %v", sp.Peer(), p.Peer())
	}
	if err := p.Send(transport.AppendFrame(nil, []byte("ping"))); err != nil {
		t.Fatal(err)
	}
	if m, err := sp.Recv(); err != nil || string(m) != "ping" {
		t.Fatalf("%q %v", m, err)
	}
	if err := p.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Recv(); err != io.EOF {
		t.Fatalf("after CloseWrite: %v", err)
	}
	if l.Addr() == "" || p.LocalAddr() == "" || p.RemoteAddr() == "" {
		t.Fatal("empty addresses")
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// stepConn is a net.Conn whose reads return the steps one by one; a nil
// step is a timeout, as an interrupt produces.
type stepConn struct {
	byteConn
	steps [][]byte
	p     *Pipe
}

func (c *stepConn) Read(b []byte) (int, error) {
	if len(c.steps) == 0 {
		return 0, io.EOF
	}
	s := c.steps[0]
	if s == nil {
		c.steps = c.steps[1:]
		c.p.intr.Store(true) // as Interrupt would, with a deadline in the past
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, s)
	if n == len(s) {
		c.steps = c.steps[1:]
	} else {
		c.steps[0] = s[n:]
	}
	return n, nil
}

// TestInterruptKeepsData: an interrupt in the middle of a header, of a
// small message or of a message larger than the read buffer loses
// nothing: the next Recv goes on.
func TestInterruptKeepsData(t *testing.T) {
	big := bytes.Repeat([]byte("big!"), readBufSize/2)
	small := frame(FramingTCP, []byte("small"))
	bigf := frame(FramingTCP, big)
	c := &stepConn{steps: [][]byte{
		small[:3], nil, small[3:],
		bigf[:100], nil, bigf[100 : 100+readBufSize], nil, bigf[100+readBufSize:],
	}}
	p := pipeOver(c, FramingTCP, 1<<20)
	c.p = p
	var got [][]byte
	interrupts := 0
	for len(got) < 2 {
		m, err := p.Recv()
		if errors.Is(err, transport.ErrInterrupted) {
			interrupts++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, append([]byte(nil), m...))
	}
	if interrupts != 3 || string(got[0]) != "small" || !bytes.Equal(got[1], big) {
		t.Fatalf("%d interrupts, got %d and %d bytes", interrupts, len(got[0]), len(got[1]))
	}
	if p.Interruptible() {
		t.Fatal("a pipe over a plain net.Conn claims to be interruptible")
	}
}

func TestInterruptTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1)
		c.Read(buf) // hold the connection open until the client closes
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := pipeOver(c, FramingTCP, 100)
	defer p.Close()
	if !p.Interruptible() {
		t.Fatal("a TCP pipe is not interruptible")
	}
	done := make(chan error)
	go func() {
		_, err := p.Recv()
		done <- err
	}()
	// Interrupt a Recv that blocks in the connection's Read.
	testutil.Eventually(t, "Recv to block", func() bool { return blockedIn("IO wait", "spstream.(*Pipe).Recv") })
	p.Interrupt()
	if err := <-done; !errors.Is(err, transport.ErrInterrupted) {
		t.Fatalf("Recv after Interrupt: %v", err)
	}
	// An interrupt with no Recv in progress cuts the next one short.
	p.Interrupt()
	if _, err := p.Recv(); !errors.Is(err, transport.ErrInterrupted) {
		t.Fatalf("pending interrupt: %v", err)
	}
}

// TestInterruptRace hammers Interrupt from another goroutine while Recv
// runs: an interrupt must only ever cut a Recv short (ErrInterrupted),
// never leave a stale deadline that fails a healthy pipe, and no message
// may be lost or reordered.
func TestInterruptRace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const msgs = 20000
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		var b []byte
		for i := 0; i < msgs; i++ {
			b = append(b, frame(FramingTCP, binary.BigEndian.AppendUint32(nil, uint32(i)))...)
			if i%7 == 0 { // small writes, so that Recv often waits
				if _, err := c.Write(b); err != nil {
					sent <- err
					return
				}
				b = b[:0]
			}
		}
		_, err = c.Write(b)
		sent <- err
		io.Copy(io.Discard, c) // until the client closes
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := pipeOver(c, FramingTCP, 100)
	defer p.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.Interrupt()
			runtime.Gosched()
		}
	}()
	interrupts := 0
	for i := 0; i < msgs; {
		m, err := p.Recv()
		if errors.Is(err, transport.ErrInterrupted) {
			interrupts++
			continue
		}
		if err != nil {
			close(stop)
			<-done
			t.Fatalf("message %d: Recv failed on a healthy pipe: %v", i, err)
		}
		if len(m) != 4 || binary.BigEndian.Uint32(m) != uint32(i) {
			close(stop)
			<-done
			t.Fatalf("message %d: got % x", i, m)
		}
		i++
	}
	close(stop)
	<-done
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages, %d interrupts", msgs, interrupts)
}

// TestListenerDropsOldest: when a limit of pending handshakes is reached,
// the oldest connection it counts is closed to admit the newcomer, whose
// handshake then succeeds at once: silent connections cannot lock anyone
// out. Loopback addresses stand for distinct sources.
func TestListenerDropsOldest(t *testing.T) {
	tests := []struct {
		name          string
		maxPending    int
		maxPerSource  int
		silentSources []string // one silent connection from each, in order
		dialFrom      string   // then a legitimate dial from there
		dropped       []bool   // which silent connections end up closed
	}{
		{"per source", 100, 2, []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}, "127.0.0.1", []bool{true, true, false}},
		{"global", 3, 100, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, "127.0.0.5", []bool{true, false, false}},
		{"other sources untouched", 100, 2, []string{"127.0.0.2", "127.0.0.1", "127.0.0.1"}, "127.0.0.1", []bool{false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			l := newListener(ln, &transport.Config{Self: rep, Peer: req, HandshakeTimeout: time.Minute}, FramingTCP, "tcp://"+ln.Addr().String(), tt.maxPending, tt.maxPerSource)
			defer l.Close()
			dialFrom := func(src string) (net.Conn, error) {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
				return d.Dial("tcp", ln.Addr().String())
			}
			var silent []net.Conn
			for _, src := range tt.silentSources {
				c, err := dialFrom(src)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				silent = append(silent, c)
				// Admitted in this order: wait for its SP header.
				c.SetReadDeadline(time.Now().Add(testutil.Patience))
				if _, err := io.ReadFull(c, make([]byte, HandshakeLen)); err != nil {
					t.Fatal(err)
				}
			}
			cfg := &transport.Config{Self: req, Peer: rep}
			start := time.Now()
			p, err := Dial(context.Background(), cfg, FramingTCP, func(ctx context.Context) (net.Conn, error) { return dialFrom(tt.dialFrom) })
			if err != nil {
				t.Fatalf("legitimate dial: %v", err)
			}
			defer p.Close()
			if took := time.Since(start); took > 10*time.Second { // generous: the handshake timeout is a minute
				t.Fatalf("legitimate dial took %v", took)
			}
			sp, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			sp.Close()
			for i, c := range silent {
				c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				_, err := c.Read(make([]byte, 1))
				closed := err == io.EOF
				if want := tt.dropped[i]; closed != want {
					t.Errorf("silent connection %d (%s): closed %v, want %v (%v)", i, tt.silentSources[i], closed, want, err)
				}
			}
		})
	}
}

// TestLargeMessageGrows: a message announced at the size limit costs what
// has arrived of it (a few KiB for its first bytes), not the limit, and
// still arrives whole.
func TestLargeMessageGrows(t *testing.T) {
	const limit = 1 << 20
	payload := bytes.Repeat([]byte("plexus!!"), limit/8)
	in := frame(FramingTCP, payload)
	c := &chunkConn{in: in, cuts: []byte{transport.FrameHeaderLen + 1, 0}} // the header and one byte, then a pause
	p := pipeOver(c, FramingTCP, limit)
	c.p = p
	if _, err := p.Recv(); !errors.Is(err, transport.ErrInterrupted) {
		t.Fatalf("first Recv: %v", err)
	}
	if held := cap(p.large) + cap(p.rbuf); held > 4*minReadBufSize {
		t.Fatalf("one byte of a %d-byte message holds %d bytes", limit, held)
	}
	m, err := p.Recv()
	if err != nil || !bytes.Equal(m, payload) {
		t.Fatalf("Recv: %d bytes, %v", len(m), err)
	}
}

// blockedIn reports whether a goroutine is blocked in state (as the
// runtime prints it: "IO wait", "chan receive") with fn on its stack.
func blockedIn(state, fn string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, "\n")
		if strings.Contains(head, "["+state) && strings.Contains(g, fn) {
			return true
		}
	}
	return false
}
