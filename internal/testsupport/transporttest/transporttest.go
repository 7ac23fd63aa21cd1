// Package transporttest is the conformance suite of plexus transports,
// as golang.org/x/net/nettest is that of net.Conn: Run checks, on one
// transport, what every transport promises (package transport's Pipe,
// Listener and Interrupter contracts): dialing and listening, framing,
// the size limit, the protocol check, what Close unblocks, interrupts,
// concurrent use and bad URLs. Each transport's tests call Run once and
// keep only what is theirs alone.
package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

// Setup is a transport under test.
type Setup struct {
	// Transport is the transport: it listens, and dials unless Dialer is
	// set.
	Transport transport.Transport
	// Dialer, if set, dials the listeners of Transport: the same
	// transport at another place (another mesh node).
	Dialer transport.Transport
	// ListenURL returns a URL to listen on that nobody uses (it may ask
	// for a free port, such as tcp://127.0.0.1:0). It is called once per
	// listener.
	ListenURL func(t testing.TB) string
	// Config, if set, completes the config of one end (a TLS config):
	// listening tells which.
	Config func(t testing.TB, cfg *transport.Config, listening bool)
	// BadURLs are URLs that Dial and Listen both refuse with
	// transport.ErrBadURL.
	BadURLs []string
	// AddrInUse: a second Listen on a listener's address fails with
	// transport.ErrAddrInUse (it fails in any case).
	AddrInUse bool
}

// Run runs the suite on s, each check a subtest.
func Run(t *testing.T, s Setup) {
	t.Helper()
	for _, c := range []struct {
		name string
		f    func(*testing.T, Setup)
	}{
		{"DialListen", testDialListen},
		{"Framing", testFraming},
		{"Oversize", testOversize},
		{"ProtocolMismatch", testMismatch},
		{"CloseDelivers", testCloseDelivers},
		{"CloseUnblocks", testCloseUnblocks},
		{"ListenerClose", testListenerClose},
		{"Interrupt", testInterrupt},
		{"Concurrent", testConcurrent},
		{"DialNowhere", testDialNowhere},
		{"BadURL", testBadURL},
	} {
		t.Run(c.name, func(t *testing.T) { c.f(t, s) })
	}
}

// dialer returns the transport that dials.
func (s Setup) dialer() transport.Transport {
	if s.Dialer != nil {
		return s.Dialer
	}
	return s.Transport
}

// configs returns the configs of a req0 dialer and a rep0 listener, the
// listener's receiving at most max bytes (0: the default).
func (s Setup) configs(t testing.TB, max int) (dialer, listener *transport.Config) {
	dialer, listener = testutil.ReqRepConfigs()
	listener.MaxRecvSize = max
	if s.Config != nil {
		s.Config(t, dialer, false)
		s.Config(t, listener, true)
	}
	return dialer, listener
}

// listen listens on a fresh URL with cfg; the listener is closed when
// the test ends.
func (s Setup) listen(t testing.TB, cfg *transport.Config) transport.Listener {
	t.Helper()
	u := parse(t, s.ListenURL(t))
	l, err := s.Transport.Listen(context.Background(), u, cfg)
	if err != nil {
		t.Fatalf("Listen %s: %v", u, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// pair listens and connects a req0 dialer c to a rep0 listener's end p,
// the listener receiving at most max bytes (0: the default); both are
// closed when the test ends.
func (s Setup) pair(t testing.TB, max int) (c, p transport.Pipe) {
	t.Helper()
	dc, lc := s.configs(t, max)
	l := s.listen(t, lc)
	c, p = testutil.Connect(t, s.dialer(), parse(t, l.Addr()), dc, l)
	t.Cleanup(func() { closeBoth(c, p) })
	return c, p
}

// closeBoth closes c and p at once: a close handshake (ws) waits for the
// other end, which must not wait for its turn.
func closeBoth(c, p transport.Pipe) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Close()
	}()
	p.Close()
	<-done
}

// closeAsync closes p in a goroutine, as a handshake may need the other
// end to read, and returns a channel closed once Close returned.
func closeAsync(p transport.Pipe) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Close()
	}()
	return done
}

// drain receives on p until it fails, in a goroutine (the end of a close
// handshake that the test does not otherwise read).
func drain(p transport.Pipe) {
	go func() {
		for {
			if _, err := p.Recv(); err != nil {
				return
			}
		}
	}()
}

func parse(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := transport.ParseURL(raw)
	if err != nil {
		t.Fatalf("ParseURL %q: %v", raw, err)
	}
	return u
}

// send sends each message as one frame, in one Send.
func send(t testing.TB, p transport.Pipe, msgs ...[]byte) {
	t.Helper()
	frames := make([][]byte, len(msgs))
	for i, m := range msgs {
		frames[i] = transport.AppendFrame(nil, m)
	}
	if err := p.Send(frames...); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// expect receives one message and checks it is want.
func expect(t testing.TB, p transport.Pipe, want []byte) {
	t.Helper()
	m, err := p.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if !bytes.Equal(m, want) {
		t.Fatalf("Recv: %d bytes %.20q, want %d bytes %.20q", len(m), m, len(want), want)
	}
}

// testDialListen: a dial to a listener's address is accepted; each end
// knows the other's protocol and its peer's address; messages go both ways; a
// second listener on the address is refused.
func testDialListen(t *testing.T, s Setup) {
	if got := s.Transport.Scheme(); got == "" || parse(t, s.ListenURL(t)).Scheme != got {
		t.Fatalf("Scheme %q does not match the listen URL", got)
	}
	dc, lc := s.configs(t, 0)
	l := s.listen(t, lc)
	u := parse(t, l.Addr())
	if u.Scheme != s.Transport.Scheme() {
		t.Fatalf("listener address %s: scheme %q", l.Addr(), u.Scheme)
	}
	c, p := testutil.Connect(t, s.dialer(), u, dc, l)
	defer closeBoth(c, p)
	if c.Peer() != lc.Self || p.Peer() != dc.Self {
		t.Fatalf("peers: the dialer sees %v, the listener %v", c.Peer(), p.Peer())
	}
	// A dialer may not know its own address (ws does not).
	for _, a := range []string{c.RemoteAddr(), p.LocalAddr(), p.RemoteAddr()} {
		if a == "" {
			t.Fatalf("an empty address: %q %q %q %q", c.LocalAddr(), c.RemoteAddr(), p.LocalAddr(), p.RemoteAddr())
		}
	}
	send(t, c, []byte("request"))
	expect(t, p, []byte("request"))
	send(t, p, []byte("reply"))
	expect(t, c, []byte("reply"))
	l2, err := s.Transport.Listen(context.Background(), u, lc)
	if err == nil {
		l2.Close()
		t.Fatalf("a second Listen on %s succeeded", u)
	}
	if s.AddrInUse && !errors.Is(err, transport.ErrAddrInUse) {
		t.Fatalf("a second Listen on %s: %v, want ErrAddrInUse", u, err)
	}
}

// testFraming: message boundaries hold whatever the batching: frames in
// one buffer, in several buffers of one Send, empty messages and large
// ones.
func testFraming(t *testing.T, s Setup) {
	c, p := s.pair(t, 0)
	large := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16+1)
	msgs := [][]byte{[]byte("one"), {}, []byte("three"), large, {0}}
	var batch []byte
	for _, m := range msgs {
		batch = transport.AppendFrame(batch, m)
	}
	errc := make(chan error, 1)
	go func() { // a transport may not buffer a large message: send while receiving
		if err := c.Send(batch); err != nil {
			errc <- err
			return
		}
		frames := make([][]byte, len(msgs))
		for i, m := range msgs {
			frames[i] = transport.AppendFrame(nil, m)
		}
		errc <- c.Send(frames...)
	}()
	for range 2 {
		for _, m := range msgs {
			expect(t, p, m)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := c.Send(); err != nil {
		t.Fatalf("Send of nothing: %v", err)
	}
	send(t, c, []byte("after nothing"))
	expect(t, p, []byte("after nothing"))
}

// testOversize: a message over the receiver's limit fails its Recv with
// ErrMsgTooLarge; one at the limit passes.
func testOversize(t *testing.T, s Setup) {
	const max = 100
	c, p := s.pair(t, max)
	at := bytes.Repeat([]byte{'x'}, max)
	send(t, c, at)
	expect(t, p, at)
	send(t, c, make([]byte, 2*max))
	if m, err := p.Recv(); !errors.Is(err, transport.ErrMsgTooLarge) {
		t.Fatalf("Recv of %d bytes over a limit of %d: %d bytes, %v; want ErrMsgTooLarge", 2*max, max, len(m), err)
	}
}

// testMismatch: a dialer whose protocol the listener does not pair with
// is refused with ErrProtocolMismatch.
func testMismatch(t *testing.T, s Setup) {
	_, lc := s.configs(t, 0)
	l := s.listen(t, lc)
	bad := *lc // rep0 dialing rep0
	if s.Config != nil {
		s.Config(t, &bad, false)
	}
	p, err := s.dialer().Dial(context.Background(), parse(t, l.Addr()), &bad)
	if !errors.Is(err, transport.ErrProtocolMismatch) {
		if err == nil {
			p.Close()
		}
		t.Fatalf("rep dialing rep: %v, want ErrProtocolMismatch", err)
	}
	if p != nil {
		t.Fatalf("a failed Dial returned a non-nil Pipe %#v", p)
	}
}

// testCloseDelivers: what was sent before Close is received, then Recv
// fails; a Send on a closed pipe fails.
func testCloseDelivers(t *testing.T, s Setup) {
	c, p := s.pair(t, 0)
	send(t, c, []byte("first"), []byte("last"))
	closed := closeAsync(c)
	expect(t, p, []byte("first"))
	expect(t, p, []byte("last"))
	if m, err := p.Recv(); err == nil {
		t.Fatalf("Recv after the peer closed: %q", m)
	}
	<-closed
	if err := c.Send(transport.AppendFrame(nil, []byte("x"))); err == nil {
		t.Fatal("Send on a closed pipe succeeded")
	}
}

// testCloseUnblocks: Close of either end ends a Recv blocked on the
// other, and of its own end a Recv blocked on it.
func testCloseUnblocks(t *testing.T, s Setup) {
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("own=%v", own), func(t *testing.T) {
			c, p := s.pair(t, 0)
			errc := make(chan error, 1)
			go func() {
				_, err := p.Recv()
				errc <- err
			}()
			if own {
				drain(c)
				p.Close()
			} else {
				c.Close()
			}
			if err := <-errc; err == nil {
				t.Fatal("a blocked Recv returned no error after Close")
			}
		})
	}
}

// testListenerClose: Close of a listener ends a blocked Accept with an
// error matching ErrClosed, and so does every Accept after it.
func testListenerClose(t *testing.T, s Setup) {
	_, lc := s.configs(t, 0)
	l := s.listen(t, lc)
	errc := make(chan error, 1)
	go func() {
		p, err := l.Accept()
		if err == nil {
			p.Close()
		}
		errc <- err
	}()
	l.Close()
	if err := <-errc; !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Accept blocked during Close: %v, want ErrClosed", err)
	}
	if _, err := l.Accept(); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want ErrClosed", err)
	}
}

// testInterrupt: on a pipe whose interrupts work, Interrupt ends a Recv
// in progress or the next one with ErrInterrupted, and loses nothing.
func testInterrupt(t *testing.T, s Setup) {
	c, p := s.pair(t, 0)
	in, ok := p.(transport.Interrupter)
	if !ok || !in.Interruptible() {
		t.Skipf("%T: no interrupts", p)
	}
	in.Interrupt() // before Recv: the next one is cut short
	if _, err := p.Recv(); !errors.Is(err, transport.ErrInterrupted) {
		t.Fatalf("Recv after Interrupt: %v, want ErrInterrupted", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Recv()
		errc <- err
	}()
	in.Interrupt() // during Recv, or before it: either way it ends
	if err := <-errc; !errors.Is(err, transport.ErrInterrupted) {
		t.Fatalf("Recv during Interrupt: %v, want ErrInterrupted", err)
	}
	send(t, c, []byte("still there"))
	expect(t, p, []byte("still there"))
}

// testConcurrent: at both ends at once, a goroutine sends while another
// receives (Send and Recv may run concurrently, each in one goroutine):
// every message arrives whole and in order.
func testConcurrent(t *testing.T, s Setup) {
	const n = 200
	c, p := s.pair(t, 0)
	msg := func(i int) []byte { return fmt.Appendf(nil, "%d-%s", i, bytes.Repeat([]byte{'m'}, 37*i)) }
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for _, pp := range [][2]transport.Pipe{{c, p}, {p, c}} {
		w, r := pp[0], pp[1]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := w.Send(transport.AppendFrame(nil, msg(i))); err != nil {
					errs <- fmt.Errorf("Send %d: %v", i, err)
					w.Close() // unblock the receiver
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range n {
				m, err := r.Recv()
				if err == nil && !bytes.Equal(m, msg(i)) {
					err = fmt.Errorf("%d bytes %.20q, want %.20q", len(m), m, msg(i))
				}
				if err != nil {
					errs <- fmt.Errorf("Recv %d: %v", i, err)
					r.Close() // unblock the sender
					return
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

// testDialNowhere: a dial to an address nobody listens on fails, with a
// nil Pipe.
func testDialNowhere(t *testing.T, s Setup) {
	dc, lc := s.configs(t, 0)
	l := s.listen(t, lc)
	u := parse(t, l.Addr())
	l.Close() // nobody listens there any more
	p, err := s.dialer().Dial(context.Background(), u, dc)
	if err == nil {
		p.Close()
		t.Fatalf("a dial to %s, closed, succeeded", u)
	}
	if p != nil {
		t.Fatalf("a failed Dial (%v) returned a non-nil Pipe %#v", err, p)
	}
}

// testBadURL: Dial and Listen refuse the setup's bad URLs with
// ErrBadURL.
func testBadURL(t *testing.T, s Setup) {
	if len(s.BadURLs) == 0 {
		t.Skip("no bad URLs given")
	}
	dc, lc := s.configs(t, 0)
	for _, raw := range s.BadURLs {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("url.Parse %q: %v", raw, err)
		}
		if p, err := s.dialer().Dial(context.Background(), u, dc); !errors.Is(err, transport.ErrBadURL) {
			if err == nil {
				p.Close()
			}
			t.Errorf("Dial %s: %v, want ErrBadURL", raw, err)
		}
		if l, err := s.Transport.Listen(context.Background(), u, lc); !errors.Is(err, transport.ErrBadURL) {
			if err == nil {
				l.Close()
			}
			t.Errorf("Listen %s: %v, want ErrBadURL", raw, err)
		}
	}
}
