package mux

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/internal/timerref"
)

// Session multiplexes streams over one connection. Create it with Client
// or Server (or Dial); one side must be the client and the other the server.
// A Session is a net.Listener whose Accept returns the streams the peer opens.
//
// A session is made of parts, each a type of its own held by value (no
// pointer to follow on the hot path), each with its own file: the stream
// table (table.go), the send queue and its writer (writer.go), the credit
// of both directions (flow.go), the read token and what its holder owns
// (lead.go, reader.go), the health timer and pings (health.go), and the
// lifecycle below.
//
// Lock order: Stream.mu (two of them for a splice, by address: see
// splice.go), then streamTable.mu, then sendQueue.mu. A Stream.mu is
// never taken under a session lock (wakeSenders, Session.end and
// applySettings collect streams, then lock each). The read token's lock
// is taken with Stream.mu held or none; its hooks (see lead.go) run under
// it and take no lock. pings.mu is taken alone.
type Session struct {
	// First: a Session is large enough that the allocator aligns it to a
	// cache line, and the flow's hottest fields take the first one.
	flow sessionFlow

	conn       io.ReadWriteCloser
	cfg        Config
	log        *slog.Logger
	localAddr  net.Addr
	remoteAddr net.Addr
	client     bool

	table  streamTable
	sendq  sendQueue
	rd     readSide
	pings  pings
	health health
	life   lifecycle

	// waiting counts the goroutines blocked in AcceptStream, OpenStream
	// or Ping (those blocked on a stream: Stream.waiters): tests watch it
	// to know that a call waits.
	waiting atomic.Int32

	// cflow is the credit of the class streams, both ways, when
	// Config.ClassWindow gives the session a class (see flow.go).
	cflow sessionFlow
}

// lifecycle is how a session ends.
type lifecycle struct {
	done       chan struct{} // closed when the session ends
	closed     atomic.Bool   // set as done is closed, after err: a cheaper test than a select on done
	closeOnce  sync.Once
	connOnce   sync.Once
	connClosed chan struct{}              // closed once the connection is
	err        error                      // why the session ended, set before done is closed
	werr       atomic.Pointer[error]      // a connection write failed: nothing more is written
	failTimer  atomic.Pointer[time.Timer] // ends the session CloseTimeout after werr (writeFailed)
	// timers is the session as its timers' callbacks reach it (health,
	// close-wait, failTimer): end clears it, so that a stopped timer,
	// which the runtime keeps until its original time, holds nothing
	// of the session's.
	timers     *timerref.Ref[Session]
	writerDone chan struct{} // closed as the writer goroutine returns
	readerDone chan struct{} // closed as the reader goroutine returns
}

// Client starts the client side of a session on conn. cfg may be nil.
// Streams the client opens have odd ids.
func Client(conn io.ReadWriteCloser, cfg *Config) (*Session, error) {
	return newSession(conn, cfg, true)
}

// Server starts the server side of a session on conn. cfg may be nil.
// Streams the server opens have even ids.
func Server(conn io.ReadWriteCloser, cfg *Config) (*Session, error) {
	return newSession(conn, cfg, false)
}

func newSession(conn io.ReadWriteCloser, cfg *Config, client bool) (*Session, error) {
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if conn == nil {
		return nil, errors.New("mux: nil connection")
	}
	s := &Session{
		conn:       conn,
		cfg:        c,
		client:     client,
		log:        c.Logger,
		localAddr:  muxAddr{},
		remoteAddr: muxAddr{},
	}
	if nc, ok := conn.(interface{ LocalAddr() net.Addr }); ok {
		s.localAddr = nc.LocalAddr()
	}
	if nc, ok := conn.(interface{ RemoteAddr() net.Addr }); ok {
		s.remoteAddr = nc.RemoteAddr()
	}
	local := settings{role: roleServer, streamWindow: c.StreamWindow, sessionWindow: c.SessionWindow,
		maxFrame: c.MaxFrameSize, acceptBacklog: uint32(c.AcceptBacklog),
		classWindow: c.ClassWindow, classBacklog: uint32(c.ClassAcceptBacklog)}
	if client {
		local.role = roleClient
	}
	s.table.init()
	s.sendq.init(conn, &c, appendPreface(make([]byte, 0, 512), local), client, s.fail)
	s.flow.init(&c)
	s.cflow.initClass(&c)
	s.rd.init(conn, &c)
	s.pings.slots = make(chan struct{}, maxPings)
	s.life = lifecycle{
		done:       make(chan struct{}),
		connClosed: make(chan struct{}),
		writerDone: make(chan struct{}),
		readerDone: make(chan struct{}),
		timers:     timerref.New(s),
	}
	go s.readLoop()
	go s.writeLoop()
	s.startHealth()
	return s, nil
}

// Addr returns the local address of the connection; it makes the Session a
// net.Listener.
func (s *Session) Addr() net.Addr { return s.localAddr }

// LocalAddr returns the local address of the connection.
func (s *Session) LocalAddr() net.Addr { return s.localAddr }

// RemoteAddr returns the remote address of the connection.
func (s *Session) RemoteAddr() net.Addr { return s.remoteAddr }

// Done returns a channel that is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.life.done }

// Err returns why the session ended: nil while it is open, ErrSessionClosed
// after Close, or the failure (it wraps ErrProtocol, ErrKeepAliveTimeout,
// ErrWriteTimeout or the connection's error).
func (s *Session) Err() error {
	select {
	case <-s.life.done:
		return s.life.err
	default:
		return nil
	}
}

func (s *Session) isClosed() bool { return s.life.closed.Load() }

// closedErr is what operations on a closed session return.
func (s *Session) closedErr() error {
	if !s.isClosed() {
		// Closing, not yet ended: the cause is not set yet, and reading
		// it now would race with end, which sets it before closed.
		return ErrSessionClosed
	}
	if err := s.life.err; err != ErrSessionClosed {
		return &sessionError{cause: err}
	}
	return ErrSessionClosed
}

// Close closes the session and every stream, and delivers what was queued
// before it: it flushes the queued frames (data written before Close,
// FINs), half-closes the connection where it can (TCP, TLS, Unix), and
// reads and discards what the peer still sends until the peer closes its
// end, so that the peer's kernel never answers unread bytes with a reset
// that would discard our data. All of it takes at most
// Config.CloseTimeout; then the connection is closed, whatever is left.
// No timer of the session's, or of its streams', is left armed.
func (s *Session) Close() error {
	l := &s.life
	if !s.end(ErrSessionClosed) {
		// Ended already, or another Close is delivering: return when the
		// connection is closed, so that a caller that closes what is under
		// the connection next does not cut that delivery short.
		<-l.connClosed
		<-l.writerDone
		return nil
	}
	t := time.NewTimer(s.cfg.CloseTimeout)
	defer t.Stop()
	s.sendq.close()
	select {
	case <-l.writerDone:
		cw, ok := s.conn.(interface{ CloseWrite() error })
		if ok && l.werr.Load() == nil && cw.CloseWrite() == nil {
			select {
			case <-l.readerDone: // the peer's EOF
			case <-t.C:
			}
		}
	case <-t.C:
	}
	s.closeConn()
	<-l.writerDone
	return nil
}

// writeFailed handles a connection write that failed: nothing more is
// written and writers fail at once, but the reader goes on, so that what
// the peer sent before it went away is still delivered. The session ends
// at the peer's EOF, or Config.CloseTimeout later.
func (s *Session) writeFailed(err error) {
	if !s.life.werr.CompareAndSwap(nil, &err) {
		return
	}
	s.sendq.close()
	if s.isClosed() {
		return
	}
	wakeSenders(s.table.list()) // every writer, whatever it waits for
	t := timerref.AfterFunc(s.cfg.CloseTimeout, s.life.timers, func(s *Session) { s.fail(err) })
	s.life.failTimer.Store(t)
	if s.isClosed() {
		t.Stop() // end may have looked before the Store (see rearm)
	}
}

// fail ends the session at once because of err.
func (s *Session) fail(err error) {
	if s.end(err) {
		if s.log != nil {
			level := slog.LevelWarn
			if err == io.EOF {
				level = slog.LevelDebug // the peer closed the connection
			}
			s.log.Log(context.Background(), level, "mux: session ended", "err", err, "remote", s.remoteAddr)
		}
		s.closeConn()
	}
}

// end records why the session ends and wakes everything that waits on it.
// It stops every timer of the session's and of its streams', so that none
// keeps a closure of the session's armed: a closed session is garbage as
// soon as its caller drops it (TestCloseReleases). It reports whether this
// call ended it.
func (s *Session) end(err error) bool {
	l := &s.life
	ended := false
	l.closeOnce.Do(func() {
		l.err = err
		l.closed.Store(true)
		close(l.done)
		ended = true
		if t := s.health.timer.Load(); t != nil {
			t.Stop()
		}
		if t := l.failTimer.Load(); t != nil {
			t.Stop()
		}
		l.timers.Clear() // and the timers stopped, or armed later, hold nothing of it
		// A leader blocked in a read gives the token back; the reader
		// goroutine takes it to drain the connection (see readLoop).
		s.rd.token.End(func() { s.rd.setConnDeadlineLocked(aLongTimeAgo) })
		// Every stream leaves the table (and the close-wait timer stops):
		// NumStreams is 0 from now on, and a GoAway drain that waits for
		// it ends.
		for _, st := range s.table.takeAll() {
			st.mu.Lock()
			st.removeLocked() // its deadline timers stop
			signal(st.readCh)
			signal(st.writeCh)
			sp := st.sp
			st.mu.Unlock()
			if sp != nil {
				sp.pump(st) // the streams spliced to ours are reset
			}
		}
	})
	return ended
}

func (s *Session) closeConn() {
	s.life.connOnce.Do(func() {
		s.sendq.close()
		s.conn.Close()
		close(s.life.connClosed)
	})
}

// muxAddr is the address of a connection that has none.
type muxAddr struct{}

func (muxAddr) Network() string { return "mux" }
func (muxAddr) String() string  { return "mux" }
