package mesh

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// Every session a node holds (a link's, a circuit's inner session, the
// self session) runs an accept loop that reads the header of each stream
// the other end opens and hands it on: to a listener, or, on a link, to
// the circuit setup.

// acceptStreams serves the streams a link's peer opens on the link's
// session: circuit setups.
func (l *link) acceptStreams() { l.c.acceptLoop(l.sess, l.peer, nil, l, nil) }

// acceptConns serves the class streams a link's peer opens on the link's
// session: connections.
func (l *link) acceptConns() {
	l.c.acceptFrom(l.sess.AcceptClassStream, l.sess, l.peer, l.cert.grants, nil, nil)
}

// acceptLoop serves the streams opened on sess by host from, whose
// certificate grants g (nil: nothing; for the self session, see
// callerGrants), read once for the session (AllowGroups); l is the link
// when sess is a link's session (circuit setups are allowed only there,
// and connections never: they travel as the link's class streams, in a
// circuit's inner session or in the self session); opens, if set, counts
// the streams accepted.
func (c *core) acceptLoop(sess *mux.Session, from uint64, g *Grants, l *link, opens *atomic.Uint64) {
	c.acceptFrom(sess.AcceptStream, sess, from, g, l, opens)
}

// acceptFrom is acceptLoop for the streams that accept takes from sess.
// Workers read the headers: goroutines that serve one stream after another,
// so that a burst of streams pays for neither a goroutine nor its stack
// growth per stream, and that end once no stream came for workerIdle. At
// most MaxPendingStreams headers are read at once (one per worker); beyond
// that the loop stops accepting, and the peer's opens wait in mux's accept
// backlog. A connection dialed without waiting whose header has arrived
// with its first frame (the common case) needs no worker: the loop serves
// it itself (serveArrived), with no goroutine hand-off.
func (c *core) acceptFrom(accept func(context.Context) (*mux.Stream, error), sess *mux.Session, from uint64, g *Grants, l *link, opens *atomic.Uint64) {
	p := &workerPool{work: make(chan *mux.Stream)}
	p.retire = time.AfterFunc(time.Hour, p.retireIdle)
	p.retire.Stop()
	defer p.close()
	worker := func(st *mux.Stream) {
		defer p.workers.Add(-1)
		t := newAnswerTimer()
		defer t.t.Stop()
		for ok := true; ok && st != nil; st, ok = <-p.work {
			c.serveStream(st, from, g, l, t, p)
		}
	}
	var hb wire.HeaderBuf  // for the headers the loop reads itself
	idle := &answerTimer{} // never armed: such a header has arrived, and no answer is written
	for {
		st, err := accept(c.ctx)
		if err != nil {
			return
		}
		if opens != nil {
			opens.Add(1)
		}
		if l == nil && c.serveArrived(st, from, g, &hb, idle, p) {
			continue
		}
		p.last.Store(time.Now().UnixNano())
		select {
		case p.work <- st: // an idle worker
			continue
		default:
		}
		if int(p.workers.Load()) < c.lim.MaxPendingStreams {
			p.workers.Add(1)
			if !c.spawn(func() { worker(st) }) {
				p.workers.Add(-1)
				st.Reset(mux.CodeCancel)
				return
			}
			p.arm()
			continue
		}
		select { // all workers are busy: wait for one
		case p.work <- st:
		case <-sess.Done():
			st.Reset(mux.CodeCancel)
			return
		}
	}
}

// serveArrived serves, on the accept loop itself, a stream whose whole
// header has arrived with its first frame and asks for no answer (a
// connection dialed without waiting, wire.KindConnEarly): reading it
// cannot wait, and the stream is queued for its listener with no hand-off
// to a worker. It reports false, having read nothing, for any other
// stream, which a worker then serves.
func (c *core) serveArrived(st *mux.Stream, from uint64, g *Grants, hb *wire.HeaderBuf, idle *answerTimer, p *workerPool) bool {
	if p.waiting.Load() >= int32(c.lim.MaxPendingStreams) {
		// Connections of this session wait for room in a backlog already:
		// a worker serves this one, so that, should it wait too, the loop
		// goes on with the session's other streams.
		return false
	}
	n := st.Peek(hb[:])
	if hl, ok := wire.ConnHeaderLen(hb[:n]); !ok || hb[0] != wire.KindConnEarly || hl > n {
		return false
	}
	h, err := wire.ReadHeader(st, c.lim.MaxHops+1, hb)
	if err != nil {
		if errors.Is(err, ErrProtocol) {
			refuseConn(st, codeProtocol)
		} else {
			st.Reset(mux.CodeProtocol)
		}
		c.logf(slog.LevelWarn, "mesh: bad stream header", "from", c.who(from), "err", err)
		return true
	}
	c.deliver(st, from, g, h.Conn, false, idle, p)
	return true
}

// workerIdle is how long a header worker may wait for its next stream.
const workerIdle = time.Second

// workerPool is the header workers of one accept loop.
type workerPool struct {
	work    chan *mux.Stream // a stream to serve; nil: end; closed: the loop ended
	workers atomic.Int32
	waiting atomic.Int32 // connections waiting for room in a listener's backlog
	last    atomic.Int64 // unix nanoseconds of the last stream accepted
	retire  *time.Timer  // ends the idle workers once no stream came for workerIdle
	armed   atomic.Bool  // retire is set: there are workers

	mu     sync.Mutex // serializes retireIdle with arm and close
	closed bool
}

// arm sets the retire timer if it is not set.
func (p *workerPool) arm() {
	if p.armed.Load() {
		return
	}
	p.mu.Lock()
	if !p.armed.Load() && !p.closed {
		p.armed.Store(true)
		p.retire.Reset(workerIdle)
	}
	p.mu.Unlock()
}

// retireIdle ends the waiting workers once no stream came for workerIdle,
// and checks again later while some are busy.
func (p *workerPool) retireIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if quiet := time.Duration(time.Now().UnixNano() - p.last.Load()); quiet < workerIdle {
		p.retire.Reset(workerIdle - quiet)
		return
	}
	retired := int32(0)
	for {
		select {
		case p.work <- nil:
			retired++
			continue
		default:
		}
		break
	}
	if p.workers.Load() > retired { // busy ones, or one about to wait
		p.retire.Reset(workerIdle)
		return
	}
	p.armed.Store(false)
}

// close ends the workers once they are done with their streams.
func (p *workerPool) close() {
	p.mu.Lock()
	p.closed = true
	p.retire.Stop()
	close(p.work)
	p.mu.Unlock()
}

// serveStream reads the header of a stream and dispatches it. t, the
// worker's, bounds the header and the answer. Whatever may take longer (a
// wait for room in a listener's backlog, a circuit setup) is handed to a
// goroutine of its own, under a bound of its own, so that the worker is
// free for the session's next stream once the header is read.
func (c *core) serveStream(st *mux.Stream, from uint64, g *Grants, l *link, t *answerTimer, p *workerPool) {
	// The header, and a connection's answer, must come within
	// HandshakeTimeout. A timer that resets the stream, rather than
	// deadlines, leaves nothing behind on a stream that lives on (a relayed
	// circuit keeps only its splice), and one timer serves both.
	t.arm(st, c.lim.HandshakeTimeout)
	h, err := wire.ReadHeader(st, c.lim.MaxHops+1, &t.hdr)
	if err != nil || !wire.IsConn(h.Kind) {
		if !t.stop() {
			c.logf(slog.LevelWarn, "mesh: stream header not received in time", "from", c.who(from), "within", c.lim.HandshakeTimeout)
			return // reset
		}
	}
	if err != nil {
		switch {
		case h.Kind == wire.KindCircuit && errors.Is(err, ErrHopLimit) && l != nil:
			c.handleSetup(l, st, h.Setup, err) // refused there: h.Setup.Hop is read before the path
			return
		case h.Kind == wire.KindCircuit && errors.Is(err, ErrHopLimit):
			c.refuseSetupNow(st, err)
		case wire.IsConn(h.Kind) && errors.Is(err, ErrProtocol):
			refuseConn(st, codeProtocol)
		default:
			st.Reset(mux.CodeProtocol)
		}
		c.logf(slog.LevelWarn, "mesh: bad stream header", "from", c.who(from), "err", err)
		return
	}
	switch h.Kind {
	case wire.KindConn, wire.KindConnEarly:
		if l != nil { // connections to a neighbour travel as the link's class streams
			t.stop()
			refuseConn(st, codeProtocol)
			c.logf(slog.LevelWarn, "mesh: a connection on a link's session", "from", c.who(from))
			return
		}
		c.deliver(st, from, g, h.Conn, h.Kind == wire.KindConn, t, p)
		t.stop()
	case wire.KindDialBack:
		if l != nil || from == c.id { // only on a circuit's inner session, from its far end
			st.Reset(mux.CodeProtocol)
			c.logf(slog.LevelWarn, "mesh: a dial-back request outside a circuit", "from", c.who(from))
			return
		}
		c.dialBackRequested(st, from)
	case wire.KindCircuit:
		if l == nil {
			c.refuseSetupNow(st, errNestedCircuit)
			c.logf(slog.LevelWarn, "mesh: circuit refused", "from", c.who(from), "err", errNestedCircuit)
			return
		}
		c.handleSetup(l, st, h.Setup, nil)
	}
}

// answerTimer resets a stream whose header or answer takes too long: one
// per header worker, armed for each stream it serves, so that a stream
// costs no timer of its own.
type answerTimer struct {
	t     *time.Timer
	mu    sync.Mutex
	st    *mux.Stream // armed for it; nil: disarmed
	fired bool        // it fired for the stream it was last armed for

	hdr wire.HeaderBuf // the worker's scratch for the header it reads (it serves one stream at a time)
}

func newAnswerTimer() *answerTimer {
	a := &answerTimer{}
	a.t = time.AfterFunc(time.Hour, a.fire)
	a.t.Stop()
	return a
}

// arm starts the timer for st.
func (a *answerTimer) arm(st *mux.Stream, d time.Duration) {
	a.mu.Lock()
	a.st, a.fired = st, false
	a.mu.Unlock()
	a.t.Reset(d)
}

func (a *answerTimer) fire() {
	a.mu.Lock()
	st := a.st
	a.st = nil
	a.fired = st != nil
	a.mu.Unlock()
	if st != nil {
		st.Reset(mux.CodeCancel)
	}
}

// stop disarms the timer and reports whether it had not fired (the
// stream was not reset). It may be called again, with the same answer.
func (a *answerTimer) stop() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st != nil {
		a.st = nil
		a.t.Stop()
	}
	return !a.fired
}

// selfLink is the session on which a node dials itself: a mux session
// pair over an in-memory pipe, made on first use.
type selfLink struct {
	mu    sync.Mutex
	sess  *mux.Session
	known *knownDests // destinations that accepted a connection on sess
}

// session returns the self session, making it if need be.
func (s *selfLink) session(c *core) (*mux.Session, *knownDests, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil && s.sess.Err() == nil {
		return s.sess, s.known, nil
	}
	a, b := net.Pipe()
	client, err := mux.Client(a, c.innerCfg)
	if err != nil {
		return nil, nil, err
	}
	server, err := mux.Server(b, c.innerCfg)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	hc, hs := c.track(client), c.track(server)
	if hc == nil || hs == nil {
		client.Close()
		server.Close()
		c.untrack(hc)
		c.untrack(hs)
		return nil, nil, ErrClosed
	}
	if !c.spawn(func() {
		c.acceptLoop(server, c.id, nil, nil, nil)
		server.Close()
		client.Close()
		c.untrack(hs)
		c.untrack(hc)
	}) {
		return nil, nil, ErrClosed
	}
	s.sess, s.known = client, new(knownDests)
	return client, s.known, nil
}
