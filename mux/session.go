package mux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/plexusnet/plexus/internal/fastio"
)

// Session multiplexes streams over one connection. Create it with Client
// or Server (or Dial); one side must be the client and the other the server.
// A Session is a net.Listener whose Accept returns the streams the peer opens.
type Session struct {
	conn       io.ReadWriteCloser
	cfg        Config
	maxWindow  uint32 // the largest a stream's receive window grows to
	client     bool
	vectored   bool           // conn gathers net.Buffers into one system call (writev)
	raw        *fastio.Writer // non-blocking writes for inline writes; nil: none
	log        *slog.Logger
	localAddr  net.Addr
	remoteAddr net.Addr

	// The stream table, the accept queue and what the peer announced.
	// Lock order: Stream.mu, then Session.mu, then Session.wmu.
	mu          sync.Mutex
	streams     map[uint32]*Stream
	lastPeerID  uint32    // highest stream id the peer opened
	acceptQ     []*Stream // streams the peer opened, not yet accepted: acceptQ[acceptHead:]
	acceptHead  int
	acceptCh    chan struct{}
	backlog     int // live streams in acceptQ (a stream reset there is skipped)
	unacked     int // streams we opened that the peer has neither accepted nor refused
	peerBacklog int // how many of those the peer holds: its AcceptBacklog
	openCh      chan struct{}
	goAwayLocal bool // we sent GOAWAY: no new streams either way
	goAwayPeer  bool // the peer sent GOAWAY: we may open no new streams
	cw          closeWait

	// The send side, guarded by wmu; see writer.go.
	wmu          sync.Mutex
	peer         settings  // what the peer accepts (minSettings until its preface)
	nextID       uint64    // next stream id we open
	ctrl         []byte    // queued control frames, written before data
	spare        []byte    // the other control buffer
	segs         [][]byte  // queued DATA frames, in segments; the last one takes appends
	free         [][]byte  // written segments kept for reuse
	sendCredit   int64     // session credit we hold
	sendBuffered int       // bytes of DATA frames queued or being written (Config.SendBuffer caps it)
	sendWaiters  []*Stream // streams waiting for session credit or buffer room
	writerIdle   bool      // the writer goroutine sleeps, waiting for a kick
	writing      bool      // a connection write is under way (writer goroutine or inline)
	inline       batch     // the batch of an inline write; used by whoever set writing
	wake         chan struct{}
	resume       []byte // what an inline write left: written first
	closing      bool   // no more frames: the writer flushes and stops
	openQueued   uint32 // highest id we opened whose SYN is queued
	openFlushed  uint32 // highest id we opened whose SYN is written

	// Receive-side credit of the whole session (see flow.go).
	recvUsed     atomic.Int64  // credit the peer spent that we have not returned
	recvUnacked  atomic.Uint32 // credit consumed by reads, not yet returned
	windows      atomic.Int64  // the receive windows of all streams together
	windowBudget int64         // what windows may add up to by growing: half the SessionWindow

	// The read token (see lead.go). fr, leader and wokeReader belong to
	// whoever holds it; the token's lock guards connDeadline.
	token        fastio.Token
	rconn        deadliner // nil: no leaders
	connDeadline time.Time // the read deadline set on conn
	fr           frameReader
	slabs        atomic.Int32 // slabs that hold chunks or are being cut from (see slab.go)
	splices      atomic.Int32 // splices of its streams not yet over (see lead.go)
	queueKept    atomic.Int64 // slots the drained receive queues keep beyond idleQueue (Stream.trimQueue)
	queueBudget  int64        // at most this many: the session window's worth of chunks
	leader       *Stream      // the stream whose Read leads, if one does
	wokeReader   bool         // the last read handed data to a waiting Read

	pingMu  sync.Mutex
	pings   map[uint64]chan struct{}
	pingSeq uint64

	writeSeq atomic.Uint64 // connection writes begun plus ended: odd while one is under way (see health.go)
	counters               // see stats.go
	health   atomic.Pointer[time.Timer]
	hs       healthState

	done       chan struct{} // closed when the session ends
	closed     atomic.Bool   // set as done is closed, after err: a cheaper test than a select on done
	closeOnce  sync.Once
	connOnce   sync.Once
	connClosed chan struct{}         // closed once the connection is
	err        error                 // why the session ended, set before done is closed
	werr       atomic.Pointer[error] // a connection write failed: nothing more is written
	writerDone chan struct{}
	readerDone chan struct{}
	pingSlots  chan struct{} // one per Ping under way (maxPings)
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
		conn:         conn,
		cfg:          c,
		client:       client,
		log:          c.Logger,
		streams:      make(map[uint32]*Stream),
		acceptCh:     make(chan struct{}, 1),
		openCh:       make(chan struct{}, 1),
		peerBacklog:  minAcceptBacklog,
		peer:         minSettings,
		sendCredit:   minSessionWindow,
		wake:         make(chan struct{}, 1),
		pings:        make(map[uint64]chan struct{}),
		done:         make(chan struct{}),
		writerDone:   make(chan struct{}),
		readerDone:   make(chan struct{}),
		connClosed:   make(chan struct{}),
		pingSlots:    make(chan struct{}, maxPings),
		localAddr:    muxAddr{},
		remoteAddr:   muxAddr{},
		maxWindow:    max(c.StreamWindow, c.SessionWindow/4),
		windowBudget: int64(c.SessionWindow) / 2,
		queueBudget:  int64(c.SessionWindow) / int64(unsafe.Sizeof(chunk{})),
	}
	if nc, ok := conn.(interface{ LocalAddr() net.Addr }); ok {
		s.localAddr = nc.LocalAddr()
	}
	if nc, ok := conn.(interface{ RemoteAddr() net.Addr }); ok {
		s.remoteAddr = nc.RemoteAddr()
	}
	local := settings{role: roleServer, streamWindow: c.StreamWindow, sessionWindow: c.SessionWindow,
		maxFrame: c.MaxFrameSize, acceptBacklog: uint32(c.AcceptBacklog)}
	s.nextID = 2
	if client {
		local.role = roleClient
		s.nextID = 1
	}
	s.ctrl = appendPreface(make([]byte, 0, 512), local)
	s.fr = frameReader{
		r:     conn,
		buf:   make([]byte, readBufSize),
		seq:   &s.bytesIn,
		slabs: &s.slabs,
	}
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		s.vectored = true
	}
	s.raw = fastio.NewWriter(conn)
	s.fr.rv = fastio.NewReader(conn)
	s.initToken()
	if d, ok := conn.(deadliner); ok {
		s.rconn = d
	}
	go s.readLoop()
	go s.writeLoop()
	s.startHealth()
	return s, nil
}

// isLocalID reports whether id belongs to streams this side opens.
func (s *Session) isLocalID(id uint32) bool { return (id%2 == 1) == s.client }

// OpenStream opens a new stream. It costs no round trip: the stream can be
// written at once. It fails with ErrTooManyStreams when Config.MaxStreams
// streams are open, and with ErrGoAway after either side called GoAway.
// It waits, until ctx is done, while the peer's accept backlog is full of
// streams this side opened and the peer's application has not accepted.
func (s *Session) OpenStream(ctx context.Context) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		switch {
		case s.isClosed():
			return nil, s.closedErr()
		case s.goAwayLocal || s.goAwayPeer:
			return nil, ErrGoAway
		case len(s.streams) >= s.cfg.MaxStreams:
			return nil, fmt.Errorf("%w: %d streams open", ErrTooManyStreams, len(s.streams))
		}
		if s.unacked < s.peerBacklog {
			break
		}
		s.mu.Unlock()
		counted := s.needReader()
		select {
		case <-s.openCh:
		case <-s.done:
		case <-ctx.Done():
			s.doneWaiting(counted)
			signal(s.openCh)
			s.mu.Lock()
			return nil, ctx.Err()
		}
		s.doneWaiting(counted)
		s.mu.Lock()
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closing {
		return nil, s.closedErr()
	}
	if s.nextID > math.MaxUint32 {
		return nil, fmt.Errorf("%w: stream ids exhausted", ErrTooManyStreams)
	}
	id := uint32(s.nextID)
	s.nextID += 2
	st := newStream(s, id, s.peer.streamWindow)
	s.streams[id] = st
	s.opened++
	s.unacked++
	if s.unacked < s.peerBacklog {
		signal(s.openCh) // room for another opener
	}
	// The SYN is queued in id order, under wmu, so the peer sees ids grow.
	s.appendDataLocked(id, flagSYN, nil)
	s.openQueued = id
	s.kickLocked()
	return st, nil
}

// ackedLocked records that the peer accepted or refused st, a stream this
// side opened, or that st was reset before it did; either way the peer's
// backlog has room again. st.mu must be held.
func (s *Session) ackedLocked(st *Stream) {
	if st.state&stAcked != 0 || !s.isLocalID(st.id) {
		return
	}
	st.state |= stAcked
	s.mu.Lock()
	s.unacked--
	signal(s.openCh)
	s.mu.Unlock()
}

// AcceptStream waits for and returns the next stream the peer opened.
// Streams the peer reset before they were accepted are skipped.
func (s *Session) AcceptStream(ctx context.Context) (*Stream, error) {
	for {
		s.mu.Lock()
		for s.acceptHead < len(s.acceptQ) {
			st := s.acceptQ[s.acceptHead]
			s.acceptQ[s.acceptHead] = nil
			s.acceptHead++
			if s.acceptHead == len(s.acceptQ) {
				s.acceptQ, s.acceptHead = s.acceptQ[:0], 0
			}
			if !st.queued {
				continue // reset while it waited
			}
			st.queued = false
			s.backlog--
			if s.acceptHead < len(s.acceptQ) {
				signal(s.acceptCh)
			}
			s.mu.Unlock()
			var b [headerSize + 4]byte
			s.wmu.Lock() // tell the opener its backlog has room
			s.queueCtrlLocked(appendUint32Frame(b[:0], typeWindow, flagACK, st.id, 0))
			s.wmu.Unlock()
			return st, nil
		}
		s.mu.Unlock()
		if s.isClosed() {
			signal(s.acceptCh)
			return nil, s.closedErr()
		}
		counted := s.needReader()
		select {
		case <-s.acceptCh:
		case <-s.done:
		case <-ctx.Done():
			s.doneWaiting(counted)
			signal(s.acceptCh)
			return nil, ctx.Err()
		}
		s.doneWaiting(counted)
	}
}

// Accept waits for and returns the next stream the peer opened; it makes
// the Session a net.Listener.
func (s *Session) Accept() (net.Conn, error) {
	st, err := s.AcceptStream(context.Background())
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Addr returns the local address of the connection; it makes the Session a
// net.Listener.
func (s *Session) Addr() net.Addr { return s.localAddr }

// LocalAddr returns the local address of the connection.
func (s *Session) LocalAddr() net.Addr { return s.localAddr }

// RemoteAddr returns the remote address of the connection.
func (s *Session) RemoteAddr() net.Addr { return s.remoteAddr }

// NumStreams returns the number of streams the session tracks: open in at
// least one direction, or opened by the peer and not yet accepted.
func (s *Session) NumStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// GoAway tells the peer that the session is going away: from now on neither
// side can open a stream, while the streams that are open carry on. Close
// the session once they are done (NumStreams returns 0).
func (s *Session) GoAway() error {
	s.mu.Lock()
	already := s.goAwayLocal
	s.goAwayLocal = true
	s.mu.Unlock()
	if s.isClosed() {
		return s.closedErr()
	}
	if !already {
		s.wmu.Lock()
		s.queueCtrlLocked(appendUint32Frame(nil, typeGoAway, 0, 0, uint32(CodeNoError)))
		s.wmu.Unlock()
	}
	return nil
}

// Done returns a channel that is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended: nil while it is open, ErrSessionClosed
// after Close, or the failure (it wraps ErrProtocol, ErrKeepAliveTimeout,
// ErrWriteTimeout or the connection's error).
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

func (s *Session) isClosed() bool { return s.closed.Load() }

// closedErr is what operations on a closed session return.
func (s *Session) closedErr() error {
	if s.err == ErrSessionClosed {
		return s.err
	}
	return &sessionError{cause: s.err}
}

// Close closes the session and every stream, and delivers what was queued
// before it: it flushes the queued frames (data written before Close,
// FINs), half-closes the connection where it can (TCP, TLS, Unix), and
// reads and discards what the peer still sends until the peer closes its
// end, so that the peer's kernel never answers unread bytes with a reset
// that would discard our data. All of it takes at most
// Config.CloseTimeout; then the connection is closed, whatever is left.
func (s *Session) Close() error {
	if !s.end(ErrSessionClosed) {
		// Ended already, or another Close is delivering: return when the
		// connection is closed, so that a caller that closes what is under
		// the connection next does not cut that delivery short.
		<-s.connClosed
		<-s.writerDone
		return nil
	}
	t := time.NewTimer(s.cfg.CloseTimeout)
	defer t.Stop()
	s.wmu.Lock()
	s.closing = true
	s.kickLocked()
	s.wmu.Unlock()
	select {
	case <-s.writerDone:
		cw, ok := s.conn.(interface{ CloseWrite() error })
		if ok && s.werr.Load() == nil && cw.CloseWrite() == nil {
			select {
			case <-s.readerDone: // the peer's EOF
			case <-t.C:
			}
		}
	case <-t.C:
	}
	s.closeConn()
	<-s.writerDone
	return nil
}

// writeFailed handles a connection write that failed: nothing more is
// written and writers fail at once, but the reader goes on, so that what
// the peer sent before it went away is still delivered. The session ends
// at the peer's EOF, or Config.CloseTimeout later.
func (s *Session) writeFailed(err error) {
	if !s.werr.CompareAndSwap(nil, &err) {
		return
	}
	s.wmu.Lock()
	s.closing = true
	s.wmu.Unlock()
	if s.isClosed() {
		return
	}
	s.mu.Lock()
	streams := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()
	s.wakeSenders(streams) // every writer, whatever it waits for
	time.AfterFunc(s.cfg.CloseTimeout, func() { s.fail(err) })
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
// It reports whether this call ended it.
func (s *Session) end(err error) bool {
	ended := false
	s.closeOnce.Do(func() {
		s.err = err
		s.closed.Store(true)
		close(s.done)
		ended = true
		if t := s.health.Load(); t != nil {
			t.Stop()
		}
		// A leader blocked in a read gives the token back; the reader
		// goroutine takes it to drain the connection (see readLoop).
		s.token.End(func() { s.setConnDeadlineLocked(aLongTimeAgo) })
		// Every stream leaves the table: NumStreams is 0 from now on, and
		// a GoAway drain that waits for it ends.
		s.mu.Lock()
		streams := s.streams
		s.streams = make(map[uint32]*Stream)
		if s.cw.timer != nil {
			s.cw.timer.Stop()
		}
		s.mu.Unlock()
		for _, st := range streams {
			st.mu.Lock()
			st.removeLocked()
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
	s.connOnce.Do(func() {
		s.wmu.Lock()
		s.closing = true
		s.kickLocked()
		s.wmu.Unlock()
		s.conn.Close()
		close(s.connClosed)
	})
}

// removeStream drops st from the stream table, the accept queue and the
// close-wait queue.
func (s *Session) removeStream(st *Stream) {
	s.mu.Lock()
	if s.streams[st.id] == st {
		delete(s.streams, st.id)
	}
	if st.queued { // reset before it was accepted: it leaves the queue
		st.queued = false
		s.backlog--
	}
	if st.lingers {
		st.lingers = false
		s.cw.live--
	}
	s.mu.Unlock()
}

// maxPings bounds the Pings under way at once; more wait for a slot, so
// that pings queued on a backed-up connection stay few.
const maxPings = 16

// Ping sends a ping and waits for the answer; it returns the round trip.
// At most maxPings are under way at once; others wait for a slot. The
// peer answers when it next reads the connection: at once if its reader
// goroutine reads, but up to 10 ms later if a Read of the peer's has just
// returned and nothing else waits on its session (see lead.go), so the
// round trip includes that.
func (s *Session) Ping(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	select {
	case s.pingSlots <- struct{}{}:
		defer func() { <-s.pingSlots }()
	case <-s.done:
		return 0, s.closedErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	ch := make(chan struct{})
	s.pingMu.Lock()
	if s.pings == nil {
		s.pingMu.Unlock()
		return 0, s.closedErr()
	}
	s.pingSeq++
	id := s.pingSeq
	s.pings[id] = ch
	s.pingMu.Unlock()
	defer func() {
		s.pingMu.Lock()
		delete(s.pings, id)
		s.pingMu.Unlock()
	}()
	start := time.Now()
	s.wmu.Lock()
	s.queueCtrlLocked(appendPing(nil, 0, id))
	s.wmu.Unlock()
	defer s.doneWaiting(s.needReader())
	select {
	case <-ch:
		rtt := time.Since(start)
		s.rtt.Store(int64(rtt))
		return rtt, nil
	case <-s.done:
		return 0, s.closedErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// muxAddr is the address of a connection that has none.
type muxAddr struct{}

func (muxAddr) Network() string { return "mux" }
func (muxAddr) String() string  { return "mux" }
