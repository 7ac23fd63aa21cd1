package socket

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

func TestNoSend(t *testing.T) {
	a, b := newPair(t, WithNoSend())
	defer a.Close()
	defer b.Close()
	c := mustNew(WithNoSend())
	defer c.Close()
	if err := c.Send(nil); !errors.Is(err, ErrInvalidSendType) {
		t.Fatalf("NewNoSend: %v", err)
	}
	d := mustNew(WithNoRecv())
	defer d.Close()
	if _, err := d.Recv(); !errors.Is(err, ErrInvalidRecvType) {
		t.Fatalf("NewNoRecv: %v", err)
	}
	for name, err := range map[string]error{
		"Send":    a.Send([]byte("x")),
		"SendAll": a.SendAll([]byte("x")),
		"SendTo":  a.SendTo(Path{1}, []byte("x")),
		"SendMsg": a.SendMsg(&Message{Content: []byte("x")}),
	} {
		if !errors.Is(err, ErrInvalidSendType) {
			t.Errorf("%s on a NoSend socket: %v", name, err)
		}
	}
	if st := a.Stats(); st.MsgsSent != 0 {
		t.Fatalf("a NoSend socket sent: %+v", st)
	}
}

func TestNoRecv(t *testing.T) {
	a, b := newPair(t)
	defer a.Close()
	defer b.Close()
	r := mustNew(WithNoRecv())
	defer r.Close()
	addr, _ := r.ListenAddr("inproc://norecv")
	s := mustNew()
	defer s.Close()
	if err := s.Dial(addr); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		s.Send([]byte("dropped"))
	}
	testutil.Eventually(t, "the messages to be read and discarded", func() bool { return r.Stats().Filtered == 100 })
	if _, err := r.Recv(); !errors.Is(err, ErrInvalidRecvType) {
		t.Fatalf("Recv on a NoRecv socket: %v", err)
	}
	if _, err := r.RecvMsg(); !errors.Is(err, ErrInvalidRecvType) {
		t.Fatalf("RecvMsg on a NoRecv socket: %v", err)
	}
	// Sending still works.
	if err := r.SendAll([]byte("out")); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Recv(); err != nil || string(b) != "out" {
		t.Fatal(string(b), err)
	}
}

func TestRecvQueueSize(t *testing.T) {
	a, b := newPair(t, WithRecvQueueSize(3))
	defer a.Close()
	defer b.Close()
	for i := 0; i < 10; i++ {
		a.Send(seq(i))
	}
	bs := b.(*sock)
	testutil.Eventually(t, "the reader to fill the queue and wait", func() bool {
		bs.rq.mu.Lock()
		defer bs.rq.mu.Unlock()
		return bs.rq.n == 3 && bs.rq.fullWait == 1
	})
	for i := 0; i < 10; i++ {
		if m, err := b.Recv(); err != nil || binary.BigEndian.Uint32(m) != uint32(i) {
			t.Fatal(m, err)
		}
	}
}

func TestSendQueueAndBestEffort(t *testing.T) {
	s := mustNew(WithSendQueueSize(4), WithSendBestEffort(), WithSendStopTimeout(0))
	defer s.Close()
	for i := 0; i < 4; i++ {
		if err := s.Send([]byte("queued")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := s.Send([]byte("one too many")); !errors.Is(err, ErrMsgDropped) {
		t.Fatalf("full best-effort queue: %v", err)
	}
	if st := s.Stats(); st.Dropped != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSendDeadlines(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		send func(s Socket) error
		want error
	}{
		{"timeout", []Option{WithSendTimeout(20 * time.Millisecond)}, func(s Socket) error { return s.Send(nil) }, os.ErrDeadlineExceeded},
		{"deadline", nil, func(s Socket) error {
			s.SetSendDeadline(time.Now().Add(-time.Second))
			return s.Send(nil)
		}, os.ErrDeadlineExceeded},
		{"context", nil, func(s Socket) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return s.SendContext(ctx, nil)
		}, context.Canceled},
		{"sendto", nil, func(s Socket) error {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			return s.SendMsgContext(ctx, &Message{Content: []byte("x")})
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(append(tt.opts, WithSendQueueSize(1), WithSendStopTimeout(0))...)
			defer s.Close()
			if err := s.Send([]byte("fills the queue")); err != nil {
				t.Fatal(err)
			}
			if err := tt.send(s); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRecvDeadlines(t *testing.T) {
	s := mustNew(WithRecvTimeout(10 * time.Millisecond))
	defer s.Close()
	if _, err := s.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("recv timeout: %v", err)
	}
	s2 := mustNew()
	defer s2.Close()
	s2.SetRecvDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := s2.RecvMsg(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("recv deadline: %v", err)
	}
	s2.SetRecvDeadline(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s2.RecvContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("recv context: %v", err)
	}
}

func TestSendTTL(t *testing.T) {
	a, b := newPair(t, WithSendTTL(5))
	defer a.Close()
	defer b.Close()
	a.Send([]byte("x"))
	m, err := b.RecvMsg()
	if err != nil || m.TTL != 4 {
		t.Fatalf("ttl %d, %v", m.TTL, err)
	}
	// A message built by the caller with a TTL keeps it.
	a.SendMsg(&Message{Content: []byte("y"), TTL: 2})
	if m, _ := b.RecvMsg(); m.TTL != 1 {
		t.Fatalf("explicit ttl: %d", m.TTL)
	}
}

// TestTTLExhaustion loops a message through a switch whose two sockets
// are connected to each other: each pass costs a hop, and the message is
// dropped and counted when none is left.
func TestTTLExhaustion(t *testing.T) {
	a, b := newPair(t, WithSendTTL(10))
	defer a.Close()
	defer b.Close()
	c := mustNew()
	defer c.Close()
	addr, _ := a.ListenAddr("inproc://ttl-loop")
	if err := c.Dial(addr); err != nil {
		t.Fatal(err)
	}
	hops := 0
	sw := StartSwitch(a, b, func(m *Message) *Message { hops++; return m })
	defer sw.Stop()
	// c sends to a (its only peer); the switch forwards a's messages to b,
	// b sends them to its only peer, a; and again.
	if err := c.SendMsg(&Message{Content: []byte("loop"), TTL: 10}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the looping message to be dropped", func() bool { return a.Stats().TTLDropped+b.Stats().TTLDropped == 1 })
	sw.Stop()
	if hops != 10 {
		t.Fatalf("the message made %d hops, want 10", hops)
	}
}

func TestMaxRecvSize(t *testing.T) {
	// Over tcp, a raw SP peer announces a 1 TiB message: the pipe closes
	// and nothing that size is allocated (the test would run out of memory).
	l := mustNew(WithMaxRecvSize(1024))
	defer l.Close()
	conn, p := rawPeer(t, l)
	defer conn.Close()
	ok := append(binary.BigEndian.AppendUint64(nil, 4+5), 0, 1, 0, 0, 'h', 'e', 'l', 'l', 'o')
	huge := binary.BigEndian.AppendUint64(nil, 1<<40)
	if _, err := conn.Write(append(ok, huge...)); err != nil {
		t.Fatal(err)
	}
	if b, err := l.Recv(); err != nil || string(b) != "hello" {
		t.Fatalf("message before the oversize one: %q %v", b, err)
	}
	testutil.Eventually(t, "the pipe to be closed", func() bool { st := l.Stats(); return st.Oversize == 1 && st.Pipes == 0 })
	if _, err := p.Recv(); err == nil {
		t.Fatal("the connection stayed open")
	}

	// Between sockets, a message one byte over the limit closes the pipe.
	a, b := connected(t, "inproc://maxsize", []Option{WithMaxRecvSize(100)}, nil)
	b.Send(make([]byte, 100-rawHeaderLen))
	if m, err := a.Recv(); err != nil || len(m) != 100-rawHeaderLen {
		t.Fatal(len(m), err)
	}
	b.Send(make([]byte, 101-rawHeaderLen))
	testutil.Eventually(t, "the pipe to be closed", func() bool { return a.Stats().Oversize == 1 })
}

func TestMalformedHeader(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
	}{
		{"short", []byte{0, 1}},
		{"flags", []byte{0x80, 1, 0, 0}},
		{"paths", []byte{0, 1, 2, 0, 0, 0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew()
			defer l.Close()
			conn, _ := rawPeer(t, l)
			defer conn.Close()
			conn.Write(transport.AppendFrame(nil, tt.payload))
			testutil.Eventually(t, "the pipe to be closed", func() bool {
				st := l.Stats()
				return st.ProtocolErrors == 1 && st.Pipes == 0 && st.PipesOpened == 1
			})
		})
	}
}

func TestMaxPeers(t *testing.T) {
	l := mustNew(WithMaxPeers(1))
	defer l.Close()
	addr, _ := l.ListenAddr("tcp://127.0.0.1:0")
	d1 := mustNew()
	defer d1.Close()
	if err := d1.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the first peer", func() bool { return l.Stats().Pipes == 1 })
	d2 := mustNew(WithReconnectInterval(time.Hour, time.Hour))
	defer d2.Close()
	d2.Dial(addr) // the handshake succeeds; the listener then refuses the pipe
	testutil.Eventually(t, "the second peer to be refused", func() bool { return d2.Stats().PipesClosed == 1 })
	if l.Stats().Pipes != 1 || l.Stats().PipesOpened != 1 {
		t.Fatalf("listener %+v", l.Stats())
	}
	// A dialer at its limit refuses to dial more.
	one := mustNew(WithMaxPeers(1))
	defer one.Close()
	for i, want := range []error{nil, ErrTooManyPeers} {
		other := mustNew()
		defer other.Close()
		addr, _ := other.ListenAddr(fmt.Sprint("inproc://maxpeers-", i))
		if err := one.Dial(addr); !errors.Is(err, want) {
			t.Fatalf("dial %d: %v, want %v", i, err, want)
		}
	}
}

func TestSendAllAndMode(t *testing.T) {
	hub := mustNew(WithSendMode(SendToAll))
	defer hub.Close()
	addr, _ := hub.ListenAddr("inproc://hub")
	var spokes []Socket
	for i := 0; i < 3; i++ {
		s := mustNew()
		defer s.Close()
		if err := s.Dial(addr); err != nil {
			t.Fatal(err)
		}
		spokes = append(spokes, s)
	}
	testutil.Eventually(t, "three peers", func() bool { return hub.Stats().Pipes == 3 })
	hub.Send([]byte("send"))
	hub.SendAll([]byte("sendall"))
	for _, s := range spokes {
		for _, want := range []string{"send", "sendall"} {
			if b, err := s.Recv(); err != nil || string(b) != want {
				t.Fatalf("%q %v", b, err)
			}
		}
	}
	// A message forwarded back through the hub goes to all but its sender.
	spokes[0].Send([]byte("echo"))
	m, err := hub.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	hub.SendMsg(m)
	for _, s := range spokes[1:] {
		if b, err := s.Recv(); err != nil || string(b) != "echo" {
			t.Fatalf("%q %v", b, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if b, err := spokes[0].RecvContext(ctx); err == nil {
		t.Fatalf("the sender got its own message back: %q", b)
	}
}

func TestSendAllBestEffort(t *testing.T) {
	hub := mustNew(WithSendQueueSize(2), WithSendBestEffort())
	defer hub.Close()
	addr, _ := hub.ListenAddr("inproc://hub-be")
	s := mustNew(WithRecvQueueSize(1))
	defer s.Close()
	s.Dial(addr)
	testutil.Eventually(t, "a peer", func() bool { return hub.Stats().Pipes == 1 })
	// The peer does not read: its queues fill, then messages are dropped.
	var dropped int
	for i := 0; i < 100000 && dropped == 0; i++ {
		if err := hub.SendAll(bytes.Repeat([]byte("x"), 1024)); errors.Is(err, ErrMsgDropped) {
			dropped++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if dropped == 0 || hub.Stats().Dropped == 0 {
		t.Fatalf("nothing dropped: %+v", hub.Stats())
	}
}

func TestRecvFilter(t *testing.T) {
	a, b := newPair(t, WithRecvFilter(func(c []byte) bool { return bytes.HasPrefix(c, []byte("keep")) }))
	defer a.Close()
	defer b.Close()
	for i := 0; i < 10; i++ {
		a.Send([]byte(fmt.Sprint("drop", i)))
		a.Send([]byte(fmt.Sprint("keep", i)))
	}
	for i := 0; i < 10; i++ {
		if m, err := b.Recv(); err != nil || string(m) != fmt.Sprint("keep", i) {
			t.Fatal(string(m), err)
		}
	}
	if st := b.Stats(); st.Filtered != 10 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSendToOneFair: Send spreads messages over the peers.
func TestSendToOneFair(t *testing.T) {
	hub := mustNew()
	defer hub.Close()
	addr, _ := hub.ListenAddr("inproc://fair")
	const peers, n = 3, 300
	counts := make([]int, peers)
	done := make(chan int, n)
	for i := 0; i < peers; i++ {
		s := mustNew()
		defer s.Close()
		if err := s.Dial(addr); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				if _, err := s.Recv(); err != nil {
					return
				}
				done <- i
			}
		}()
	}
	testutil.Eventually(t, "three peers", func() bool { return hub.Stats().Pipes == peers })
	for i := 0; i < n; i++ {
		if err := hub.Send([]byte("job")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		counts[<-done]++
	}
	for i, c := range counts {
		if c == 0 {
			t.Fatalf("peer %d got nothing: %v", i, counts)
		}
	}
	t.Logf("distribution %v", counts)
}

// silentServer accepts TCP connections and never answers: the peer that
// never completes an SP handshake. Its connections close with the test.
func silentServer(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- c:
			default:
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return "tcp://" + ln.Addr().String(), func() int { return len(conns) }
}

// TestHandshakeTimeout: WithHandshakeTimeout bounds a Dial to a peer that
// never answers the SP handshake, and how long a listener keeps a
// connection that never sends one; both are far below the default.
func TestHandshakeTimeout(t *testing.T) {
	const d = 200 * time.Millisecond
	s := mustNew(WithHandshakeTimeout(d))
	defer s.Close()
	silent, _ := silentServer(t)
	start := time.Now()
	err := s.Dial(silent)
	if took := time.Since(start); !errors.Is(err, os.ErrDeadlineExceeded) || took >= transport.DefaultHandshakeTimeout {
		t.Fatalf("dial to a silent server: %v after %v", err, took)
	}

	l := mustNew(WithHandshakeTimeout(d))
	defer l.Close()
	addr, _ := l.ListenAddr("tcp://127.0.0.1:0")
	u, _ := transport.ParseURL(addr)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(testutil.Patience))
	start = time.Now()
	b, err := io.ReadAll(c) // the listener's SP header, then its close
	if took := time.Since(start); err != nil || len(b) != 8 || took >= transport.DefaultHandshakeTimeout {
		t.Fatalf("a silent client: read %d bytes, %v, closed after %v", len(b), err, took)
	}
}

// TestMaxPeersPerListener: a listener refuses the peer beyond its cap,
// and the peers it keeps are unaffected; another listener of the same
// socket has its own cap, and a peer that leaves makes room.
func TestMaxPeersPerListener(t *testing.T) {
	if o := defaultOptions(); o.maxLnPeers != DefaultMaxPeersPerListener || DefaultMaxPeersPerListener <= 0 {
		t.Fatalf("default cap %d", o.maxLnPeers)
	}
	l := mustNew(WithMaxPeersPerListener(2))
	defer l.Close()
	addrA, _ := l.ListenAddr("tcp://127.0.0.1:0")
	addrB, _ := l.ListenAddr("ipc://" + t.TempDir() + "/cap.sock")
	dial := func(addr string) Socket {
		d := mustNew(WithReconnectInterval(time.Hour, time.Hour))
		t.Cleanup(func() { d.Close() })
		if err := d.Dial(addr); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d1, d2 := dial(addrA), dial(addrA)
	testutil.Eventually(t, "two peers", func() bool { return l.Stats().Pipes == 2 })
	d3 := dial(addrA) // its handshake succeeds; the socket then refuses the pipe
	testutil.Eventually(t, "the third peer to be refused", func() bool { return d3.Stats().PipesClosed == 1 })
	if st := l.Stats(); st.Pipes != 2 || st.Refused != 1 {
		t.Fatalf("listener %+v", st)
	}
	for i, d := range []Socket{d1, d2} {
		if err := d.Send([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		m, err := l.RecvMsg()
		if err != nil || string(m.Content) != fmt.Sprint(i) {
			t.Fatalf("peer %d: %v %v", i, m, err)
		}
		if err := l.SendTo(m.Source, []byte("ok")); err != nil {
			t.Fatal(err)
		}
		if b, err := d.Recv(); err != nil || string(b) != "ok" {
			t.Fatalf("peer %d: %q %v", i, b, err)
		}
	}
	// The other listener counts its own peers.
	dial(addrB)
	testutil.Eventually(t, "a peer on the second listener", func() bool { return l.Stats().Pipes == 3 })
	// A peer that leaves makes room for another.
	d1.Close()
	testutil.Eventually(t, "the first peer gone", func() bool { return l.Stats().Pipes == 2 })
	dial(addrA)
	testutil.Eventually(t, "a new peer in its place", func() bool { return l.Stats().Pipes == 3 })
	if st := l.Stats(); st.Refused != 1 {
		t.Fatalf("listener %+v", st)
	}
}

// TestIdleTimeout: an accepted peer that sends nothing is closed after the
// idle timeout; one that talks, one that waits for the application to
// read, and a dialed pipe are not.
func TestIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	l := mustNew(WithIdleTimeout(idle), WithRecvQueueSize(1))
	defer l.Close()
	addr, _ := l.ListenAddr("tcp://127.0.0.1:0")
	silent := mustNew(WithReconnectInterval(time.Hour, time.Hour))
	defer silent.Close()
	chatty := mustNew(WithIdleTimeout(idle)) // dialed: its own timeout does not apply
	defer chatty.Close()
	flood := mustNew()
	defer flood.Close()
	for _, d := range []Socket{silent, chatty} {
		if err := d.Dial(addr); err != nil {
			t.Fatal(err)
		}
	}
	// chatty talks from the start, every idle/5, whatever the rest takes on
	// a busy machine.
	talked := make(chan error, 1)
	go func() {
		start := time.Now()
		for time.Since(start) < 4*idle {
			if err := chatty.Send([]byte("still here")); err != nil {
				talked <- err
				return
			}
			// Time, not state: the test is that a peer talking every
			// idle/5 is never shed.
			time.Sleep(idle / 5)
		}
		talked <- nil
	}()
	if err := flood.Dial(addr); err != nil {
		t.Fatal(err)
	}
	// flood fills the listener's receive queue, then its pipe's buffers:
	// its reader waits for the application, which does not read for now.
	for i := 0; i < 100; i++ {
		if err := flood.Send([]byte("queued")); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-talked; err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the silent peer closed", func() bool { return silent.Stats().PipesClosed == 1 })
	if st := l.Stats(); st.IdleTimeouts != 1 || st.Pipes != 2 {
		t.Fatalf("listener %+v", st)
	}
	if st := chatty.Stats(); st.PipesClosed != 0 || st.IdleTimeouts != 0 {
		t.Fatalf("dialed pipe %+v", st)
	}
	// Everything queued is still delivered.
	n := 0
	for n < 100 {
		b, err := l.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "queued" {
			n++
		}
	}
}

// TestSendHook: each message sent to one peer is reported once, with the
// pipe that took it and the last word of its Source path; messages sent
// to a named pipe or to all are not.
func TestSendHook(t *testing.T) {
	type took struct{ pipe, tag uint32 }
	var mu sync.Mutex
	var got []took
	s := mustNew(WithSendHook(func(pipe, tag uint32) {
		mu.Lock()
		got = append(got, took{pipe, tag})
		mu.Unlock()
	}))
	defer s.Close()
	peer := mustNew()
	defer peer.Close()
	addr, _ := peer.ListenAddr("inproc://send-hook")
	if err := s.Dial(addr); err != nil {
		t.Fatal(err)
	}
	for i := uint32(1); i <= 10; i++ {
		if err := s.SendMsg(&Message{Source: Path{7, i}, Content: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	s.Send([]byte("no source: tag 0"))
	s.SendAll([]byte("to all: not reported"))
	for i := 0; i < 12; i++ {
		if _, err := peer.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 11 {
		t.Fatalf("%d reports: %v", len(got), got)
	}
	for i, g := range got {
		want := uint32(i + 1)
		if i == 10 {
			want = 0
		}
		if g.tag != want || g.pipe == 0 || g.pipe != got[0].pipe {
			t.Fatalf("report %d: %+v", i, g)
		}
	}
}
