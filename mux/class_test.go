package mux

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// Streams of the session's class (Config.ClassWindow): their own credit,
// accept queue and stream bound, apart from the session's.

func classCfg() *Config {
	return &Config{SessionWindow: minSessionWindow, ClassWindow: minSessionWindow}
}

// classPair opens a class stream on c and accepts it on s.
func classPair(t testing.TB, c, s *Session) (*Stream, *Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := c.OpenClassStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AcceptClassStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Class() || !b.Class() {
		t.Fatal("a class stream that says it is not")
	}
	return a, b
}

func TestClassStreams(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, classCfg(), classCfg())
	// Both ways, and the server opens too.
	for _, p := range [][2]*Session{{cs, ss}, {ss, cs}} {
		a, b := classPair(t, p[0], p[1])
		want := randBytes(1<<20, 7)
		go func() {
			a.Write(want)
			a.CloseWrite()
		}()
		got, err := io.ReadAll(b)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("class stream moved %d of %d bytes: %v", len(got), len(want), err)
		}
		b.Write([]byte("back"))
		b.Close()
		got, err = io.ReadAll(a)
		if err != nil || string(got) != "back" {
			t.Fatalf("answer %q, %v", got, err)
		}
		a.Close()
	}
	// Class streams are not in the session's accept queue, nor the other
	// way round.
	a, b := streamPair(t, cs, ss)
	a.Close()
	b.Close()
	ss.table.mu.Lock()
	n0, n1 := len(ss.table.acc[0].q)-ss.table.acc[0].head, len(ss.table.acc[1].q)-ss.table.acc[1].head
	ss.table.mu.Unlock()
	if n0 != 0 || n1 != 0 {
		t.Fatalf("accept queues hold %d and %d streams, want none", n0, n1)
	}
	waitFor(t, func() bool { return cs.NumStreams() == 0 && ss.NumStreams() == 0 })
	if err := cs.Err(); err != nil {
		t.Fatal(err)
	}
	if st := ss.Stats(); st.ClassStreams != 0 || st.StreamsAccepted != 2 || st.StreamsOpened != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// fillClassUnread opens n class streams whose accepting side never reads
// and writes to each until the credit runs out.
func fillClassUnread(t *testing.T, cs, ss *Session, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		a, _ := classPair(t, cs, ss)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			a.Write(make([]byte, 1<<20))
		}()
	}
	wg.Wait()
}

// TestClassUnreadLeavesSession: class streams nobody reads fill the
// class's credit, and the session's streams still move; session streams
// nobody reads fill the session's, and class streams still move.
func TestClassUnreadLeavesSession(t *testing.T) {
	t.Run("class full", func(t *testing.T) {
		cs, ss := sessionPair(t, tcpPipe, classCfg(), classCfg())
		fillClassUnread(t, cs, ss, 8)
		if used, w := ss.cflow.used.Load(), int64(ss.cflow.window); used < w/2 {
			t.Fatalf("unread class streams hold %d of the class window %d, want it mostly used", used, w)
		}
		moveNew(t, cs, ss)
	})
	t.Run("session full", func(t *testing.T) {
		cs, ss := sessionPair(t, tcpPipe, classCfg(), classCfg())
		fillUnread(t, cs, ss, 8)
		if used, w := ss.flow.used.Load(), int64(ss.flow.window); used < w/2 {
			t.Fatalf("unread streams hold %d of the session window %d, want it mostly used", used, w)
		}
		a, b := classPair(t, cs, ss)
		want := randBytes(4<<20, 3)
		go func() {
			a.Write(want)
			a.Close()
		}()
		b.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, err := io.ReadAll(b)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("a class stream among unread ones moved %d of %d bytes: %v", len(got), len(want), err)
		}
	})
}

func TestClassNeedsBothSides(t *testing.T) {
	cs, ss := sessionPair(t, tcpPipe, classCfg(), nil)
	if _, err := ss.OpenClassStream(ctxT(t)); !errors.Is(err, ErrNoClass) {
		t.Fatalf("OpenClassStream without a class: %v", err)
	}
	if _, err := ss.AcceptClassStream(ctxT(t)); !errors.Is(err, ErrNoClass) {
		t.Fatalf("AcceptClassStream without a class: %v", err)
	}
	// The client has one, the server not: the client learns it from the
	// server's preface.
	if _, err := cs.OpenClassStream(ctxT(t)); !errors.Is(err, ErrNoClass) {
		t.Fatalf("OpenClassStream to a peer without a class: %v", err)
	}
	a, b := streamPair(t, cs, ss) // and plain streams go on
	a.Write([]byte("x"))
	if _, err := io.ReadFull(b, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// TestClassPreface: a session without a class sends the preface of
// version 1, exactly as before classes; with one, version 2.
func TestClassPreface(t *testing.T) {
	s := settings{role: roleClient, streamWindow: minStreamWindow, sessionWindow: minSessionWindow,
		maxFrame: minFrameSize, acceptBacklog: 1}
	b := appendPreface(nil, s)
	if len(b) != prefaceSize || b[prefaceVersion] != protoVersion || prefaceLen(b) != prefaceSize {
		t.Fatalf("preface without a class: %x", b)
	}
	s.classWindow, s.classBacklog = 1<<20, 16
	b = appendPreface(nil, s)
	if len(b) != prefaceSize2 || b[prefaceVersion] != protoVersion2 || prefaceLen(b) != prefaceSize2 {
		t.Fatalf("preface with a class: %x", b)
	}
	got, err := parsePreface(b)
	if err != nil || got != s {
		t.Fatalf("parsed %+v, %v; want %+v", got, err, s)
	}
	bad := append([]byte(nil), b...)
	copy(bad[24:28], []byte{0, 0, 0, 1}) // class window below the minimum
	if _, err := parsePreface(bad); !errors.Is(err, ErrProtocol) {
		t.Fatalf("a class window of 1: %v", err)
	}
	bad = append([]byte(nil), b...)
	copy(bad[28:32], []byte{0, 0, 0, 0})
	if _, err := parsePreface(bad); !errors.Is(err, ErrProtocol) {
		t.Fatalf("a class accept backlog of 0: %v", err)
	}
	if _, err := parsePreface(b[:prefaceSize]); !errors.Is(err, ErrProtocol) {
		t.Fatalf("a version 2 preface cut short: %v", err)
	}
	if err := (&Config{ClassWindow: 1000}).Validate(); err == nil {
		t.Fatal("a class window below the minimum is valid")
	}
}

// TestClassMaxStreams: class streams and the others are bounded apart.
func TestClassMaxStreams(t *testing.T) {
	cfg := classCfg()
	cfg.MaxStreams, cfg.ClassMaxStreams = 2, 3
	cs, ss := sessionPair(t, tcpPipe, cfg, classCfg())
	for range 3 {
		classPair(t, cs, ss)
	}
	if _, err := cs.OpenClassStream(ctxT(t)); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("a fourth class stream: %v", err)
	}
	for range 2 {
		streamPair(t, cs, ss)
	}
	if _, err := cs.OpenStream(ctxT(t)); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("a third stream: %v", err)
	}
	// And on the accepting side: the peer's class opens beyond the bound
	// are refused, its other opens still taken.
	scfg := classCfg()
	scfg.ClassMaxStreams = 1
	cs, ss = sessionPair(t, tcpPipe, classCfg(), scfg)
	classPair(t, cs, ss)
	a, err := cs.OpenClassStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("x"))
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, ErrStreamReset) {
		t.Fatalf("a class stream beyond the acceptor's bound: %v, want refused", err)
	}
	streamPair(t, cs, ss)
}

// TestClassAcceptBacklog: class streams nobody accepts fill the class's
// backlog only; the opener of the others still opens, and the other way
// round.
func TestClassAcceptBacklog(t *testing.T) {
	scfg := classCfg()
	scfg.AcceptBacklog, scfg.ClassAcceptBacklog = 1, 3
	cs, ss := sessionPair(t, tcpPipe, classCfg(), scfg)
	if _, err := cs.Ping(ctxT(t)); err != nil { // the server's preface is read
		t.Fatal(err)
	}
	for range 3 {
		if _, err := cs.OpenClassStream(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.OpenStream(ctxT(t)); err != nil {
		t.Fatalf("a stream while the class's backlog is full: %v", err)
	}
	// Both backlogs are full now: a further open of either waits.
	for _, open := range []func(context.Context) (*Stream, error){cs.OpenStream, cs.OpenClassStream} {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := open(ctx)
			errc <- err
		}()
		waitFor(t, func() bool { return cs.waiting.Load() == 1 })
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("an open beyond the peer's backlog: %v, want it to wait", err)
		}
	}
	// Accepting a class stream makes room in the class's backlog only.
	if _, err := ss.AcceptClassStream(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.OpenClassStream(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ss.table.mu.Lock()
	n := ss.table.acc[0].backlog
	ss.table.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d streams wait to be accepted, want 1", n)
	}
}

func classClientPreface() []byte {
	return appendPreface(nil, settings{role: roleClient, streamWindow: DefaultStreamWindow,
		sessionWindow: DefaultSessionWindow, maxFrame: DefaultMaxFrameSize, acceptBacklog: DefaultAcceptBacklog,
		classWindow: minSessionWindow, classBacklog: DefaultAcceptBacklog})
}

// TestHostileClass: a peer that breaks the rules of classes fails the
// session with a protocol error.
func TestHostileClass(t *testing.T) {
	payload := make([]byte, 60<<10) // within a stream's window
	cases := []struct {
		name string
		cfg  *Config
		pre  []byte
		msgs [][]byte
		want string
	}{
		{"exceeds the class window", classCfg(), classClientPreface(), func() [][]byte {
			var m [][]byte
			for i := range uint32(5) { // 5 × 60 KiB > 256 KiB
				m = append(m, frame(typeData, flagSYN|flagClass, 2*i+1, payload))
			}
			return m
		}(), "class window"},
		{"class stream on a session without one", nil, classClientPreface(),
			[][]byte{frame(typeData, flagSYN|flagClass, 1, nil)}, "without one"},
		{"class WINDOW on a session without one", nil, clientPreface(),
			[][]byte{frame(typeWindow, flagClass, 0, u32(1000))}, "without a class"},
		{"class DATA on a plain stream", classCfg(), classClientPreface(),
			[][]byte{frame(typeData, flagSYN, 1, nil), frame(typeData, flagClass, 1, []byte("x"))}, "another class"},
		{"plain DATA on a class stream", classCfg(), classClientPreface(),
			[][]byte{frame(typeData, flagSYN|flagClass, 1, nil), frame(typeData, 0, 1, []byte("x"))}, "another class"},
		{"class window overflow", classCfg(), classClientPreface(),
			[][]byte{frame(typeWindow, flagClass, 0, u32(maxWindow))}, "overflow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newRawPeer(t, tc.cfg)
			p.conn.Write(tc.pre)
			for _, m := range tc.msgs {
				p.conn.Write(m)
			}
			p.expectFail(t, ErrProtocol)
			if err := p.sess.Err(); !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}
