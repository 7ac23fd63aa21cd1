package mux

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// The stream table: the streams a session tracks, the accept queue of the
// streams the peer opened, and the backlogs that bound opening on either
// side.

// streamTable is a session's streams; mu guards it, and the closeWait
// queue, and the flags queued and lingers of every Stream. Its accept
// queues and backlogs are kept per class (see Config.ClassWindow): index
// 0 for the session's streams, 1 for the class's (classIndex), so that
// streams of one class the application does not accept never hold up the
// other's.
type streamTable struct {
	mu          sync.Mutex
	streams     map[uint32]*Stream
	acc         [2]acceptQueue
	unacked     [2]int // streams we opened that the peer has neither accepted nor refused
	openCh      [2]chan struct{}
	classN      int    // class streams in streams
	peerBacklog [2]int // how many unacked streams of a class the peer holds: its AcceptBacklog, ClassAcceptBacklog
	peerKnown   bool   // the peer's preface is read: peerBacklog and whether it has a class are known
	lastPeerID  uint32 // highest stream id the peer opened
	goAwayLocal bool   // we sent GOAWAY: no new streams either way
	goAwayPeer  bool   // the peer sent GOAWAY: we may open no new streams
	cw          closeWait
	opened      uint64 // streams we opened (Stats)
	accepted    uint64 // streams the peer opened that we took (Stats)
}

// acceptQueue is the streams of one class the peer opened, not yet
// accepted: q[head:].
type acceptQueue struct {
	q       []*Stream
	head    int
	ch      chan struct{}
	backlog int // live streams in q (a stream reset there is skipped)
}

// classIndex is the index, in the table's per-class state, of class
// (flagClass or 0).
func classIndex(class uint8) int {
	if class != 0 {
		return 1
	}
	return 0
}

func (t *streamTable) init() {
	t.streams = make(map[uint32]*Stream)
	for i := range t.acc {
		t.acc[i].ch = make(chan struct{}, 1)
		t.openCh[i] = make(chan struct{}, 1)
	}
	t.peerBacklog = [2]int{minAcceptBacklog, minAcceptBacklog}
}

// backlogLocked returns the streams of class the peer opened that wait
// to be accepted, and the most there may be. t.mu must be held.
func (s *Session) backlogLocked(class uint8) (n, limit int) {
	if class != 0 {
		return s.table.acc[1].backlog, s.cfg.ClassAcceptBacklog
	}
	return s.table.acc[0].backlog, s.cfg.AcceptBacklog
}

// countLocked returns the streams of class open, and the most there may
// be. t.mu must be held.
func (s *Session) countLocked(class uint8) (n, limit int) {
	t := &s.table
	if class != 0 {
		return t.classN, s.cfg.ClassMaxStreams
	}
	return len(t.streams) - t.classN, s.cfg.MaxStreams
}

// isLocalID reports whether id belongs to streams this side opens.
func (s *Session) isLocalID(id uint32) bool { return (id%2 == 1) == s.client }

// OpenStream opens a new stream. It costs no round trip: the stream can be
// written at once. It fails with ErrTooManyStreams when Config.MaxStreams
// streams are open, and with ErrGoAway after either side called GoAway.
// It waits, until ctx is done, while the peer's accept backlog is full of
// streams this side opened and the peer's application has not accepted.
func (s *Session) OpenStream(ctx context.Context) (*Stream, error) {
	return s.open(ctx, 0)
}

// OpenClassStream opens a stream of the session's class: its data is
// charged to the class window (Config.ClassWindow) rather than to the
// session's, the peer accepts it with AcceptClassStream, and
// Config.ClassMaxStreams bounds such streams apart from MaxStreams. It
// waits for the peer's preface (the first round trip of a session) to
// know whether the peer has a class, and fails with ErrNoClass if either
// side has none. Otherwise it is OpenStream.
func (s *Session) OpenClassStream(ctx context.Context) (*Stream, error) {
	if s.cfg.ClassWindow == 0 {
		return nil, ErrNoClass
	}
	return s.open(ctx, flagClass)
}

// open opens a stream of class (flagClass or 0).
func (s *Session) open(ctx context.Context, class uint8) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := &s.table
	ci := classIndex(class)
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		n, limit := s.countLocked(class)
		switch {
		case s.isClosed():
			return nil, s.closedErr()
		case t.goAwayLocal || t.goAwayPeer:
			return nil, ErrGoAway
		case n >= limit:
			return nil, fmt.Errorf("%w: %d streams open", ErrTooManyStreams, n)
		case class != 0 && t.peerKnown && s.sendq.peer.classWindow == 0: // peer is written under t.mu too
			return nil, ErrNoClass
		}
		if t.unacked[ci] < t.peerBacklog[ci] && (class == 0 || t.peerKnown) {
			break
		}
		t.mu.Unlock()
		counted := s.rd.needReader()
		s.waiting.Add(1)
		select {
		case <-t.openCh[ci]:
		case <-s.life.done:
		case <-ctx.Done():
			s.waiting.Add(-1)
			s.rd.doneWaiting(counted)
			signal(t.openCh[ci])
			t.mu.Lock()
			return nil, ctx.Err()
		}
		s.waiting.Add(-1)
		s.rd.doneWaiting(counted)
		t.mu.Lock()
	}
	q := &s.sendq
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return nil, s.closedErr()
	}
	id := q.openLocked(class)
	if id == 0 {
		return nil, fmt.Errorf("%w: stream ids exhausted", ErrTooManyStreams)
	}
	st := newStream(s, id, class, q.peer.streamWindow)
	t.streams[id] = st
	if class != 0 {
		t.classN++
	}
	t.opened++
	t.unacked[ci]++
	if t.unacked[ci] < t.peerBacklog[ci] {
		signal(t.openCh[ci]) // room for another opener
	}
	return st, nil
}

// ackedLocked records that the peer accepted or refused st, a stream this
// side opened, or that st was reset before it did; either way the peer's
// backlog has room again. st.mu must be held.
func (st *Stream) ackedLocked() {
	if st.state&stAcked != 0 || !st.sess.isLocalID(st.id) {
		return
	}
	st.state |= stAcked
	t := &st.sess.table
	ci := classIndex(st.class)
	t.mu.Lock()
	t.unacked[ci]--
	signal(t.openCh[ci])
	t.mu.Unlock()
}

// AcceptStream waits for and returns the next stream the peer opened.
// Streams the peer reset before they were accepted are skipped. Streams of
// the session's class are not among them: see AcceptClassStream.
func (s *Session) AcceptStream(ctx context.Context) (*Stream, error) {
	return s.acceptQueued(ctx, 0)
}

// AcceptClassStream waits for and returns the next stream of the
// session's class the peer opened (see OpenClassStream). On a session
// without a class it fails with ErrNoClass.
func (s *Session) AcceptClassStream(ctx context.Context) (*Stream, error) {
	if s.cfg.ClassWindow == 0 {
		return nil, ErrNoClass
	}
	return s.acceptQueued(ctx, flagClass)
}

// acceptQueued waits for and returns the next stream of class the peer
// opened.
func (s *Session) acceptQueued(ctx context.Context, class uint8) (*Stream, error) {
	t := &s.table
	a := &t.acc[classIndex(class)]
	for {
		t.mu.Lock()
		for a.head < len(a.q) {
			st := a.q[a.head]
			a.q[a.head] = nil
			a.head++
			if a.head == len(a.q) {
				a.q, a.head = a.q[:0], 0
			}
			if !st.queued {
				continue // reset while it waited
			}
			st.queued = false
			a.backlog--
			if a.head < len(a.q) {
				signal(a.ch)
			}
			t.mu.Unlock()
			s.sendq.queueUint32(typeWindow, flagACK, st.id, 0) // tell the opener its backlog has room
			return st, nil
		}
		t.mu.Unlock()
		if s.isClosed() {
			signal(a.ch)
			return nil, s.closedErr()
		}
		counted := s.rd.needReader()
		s.waiting.Add(1)
		select {
		case <-a.ch:
		case <-s.life.done:
		case <-ctx.Done():
			s.waiting.Add(-1)
			s.rd.doneWaiting(counted)
			signal(a.ch)
			return nil, ctx.Err()
		}
		s.waiting.Add(-1)
		s.rd.doneWaiting(counted)
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

// NumStreams returns the number of streams the session tracks: open in at
// least one direction, or opened by the peer and not yet accepted.
func (s *Session) NumStreams() int {
	s.table.mu.Lock()
	defer s.table.mu.Unlock()
	return len(s.table.streams)
}

// GoAway tells the peer that the session is going away: from now on neither
// side can open a stream, while the streams that are open carry on. Close
// the session once they are done (NumStreams returns 0).
func (s *Session) GoAway() error {
	t := &s.table
	t.mu.Lock()
	already := t.goAwayLocal
	t.goAwayLocal = true
	t.mu.Unlock()
	if s.isClosed() {
		return s.closedErr()
	}
	if !already {
		s.sendq.queueUint32(typeGoAway, 0, 0, uint32(CodeNoError))
	}
	return nil
}

// accept handles a SYN of a stream of class (flagClass or 0): it opens
// the stream, or refuses it.
func (s *Session) accept(id uint32, class uint8) (*Stream, error) {
	if s.isLocalID(id) {
		return nil, protoErr("peer opened stream %d, an id of this side", id)
	}
	if class != 0 && s.cfg.ClassWindow == 0 {
		return nil, protoErr("peer opened stream %d of a class on a session without one", id)
	}
	t := &s.table
	a := &t.acc[classIndex(class)]
	t.mu.Lock()
	if id <= t.lastPeerID {
		t.mu.Unlock()
		return nil, protoErr("peer opened stream %d again", id)
	}
	t.lastPeerID = id
	var refuse ErrorCode
	n, limit := s.countLocked(class)
	queued, backlog := s.backlogLocked(class)
	switch {
	case t.goAwayLocal:
		refuse = CodeGoingAway
	case n >= limit, queued >= backlog:
		refuse = CodeRefused
	}
	if refuse != 0 {
		t.mu.Unlock()
		s.sendq.queueReset(id, refuse, false, 0, class)
		return nil, nil
	}
	st := newStream(s, id, class, s.sendq.peer.streamWindow) // peer is written under t.mu too
	st.queued = true
	t.streams[id] = st
	if class != 0 {
		t.classN++
	}
	t.accepted++
	a.backlog++
	if a.head > 0 && a.head >= len(a.q)/2 { // drop the accepted prefix
		n := copy(a.q, a.q[a.head:])
		clear(a.q[n:])
		a.q, a.head = a.q[:n], 0
	}
	if len(a.q)-a.head > 2*a.backlog+64 {
		// Mostly streams reset before they were accepted: a peer that
		// opens and resets streams while nobody accepts would otherwise
		// grow the queue without bound. Keep the live ones, in order.
		n := 0
		for _, q := range a.q[a.head:] {
			if q.queued {
				a.q[n] = q
				n++
			}
		}
		clear(a.q[n:])
		a.q, a.head = a.q[:n], 0
	}
	a.q = append(a.q, st)
	signal(a.ch)
	t.mu.Unlock()
	return st, nil
}

// lookup returns the stream id refers to, nil if it is over, or an error if
// it never existed.
func (s *Session) lookup(id uint32) (*Stream, error) {
	t := &s.table
	t.mu.Lock()
	st := t.streams[id]
	last := t.lastPeerID
	t.mu.Unlock()
	if st != nil {
		return st, nil
	}
	if s.isLocalID(id) {
		q := &s.sendq
		q.mu.Lock()
		next := q.nextID
		q.mu.Unlock()
		if uint64(id) >= next {
			return nil, protoErr("frame for stream %d, which this side never opened", id)
		}
	} else if id > last {
		return nil, protoErr("frame for stream %d, which the peer never opened", id)
	}
	return nil, nil
}

// remove drops st from the table, the accept queue and the close-wait
// queue.
func (t *streamTable) remove(st *Stream) {
	t.mu.Lock()
	if t.streams[st.id] == st {
		delete(t.streams, st.id)
		if st.class != 0 {
			t.classN--
		}
	}
	if st.queued { // reset before it was accepted: it leaves the queue
		st.queued = false
		t.acc[classIndex(st.class)].backlog--
	}
	if st.lingers {
		st.lingers = false
		t.cw.live--
	}
	t.mu.Unlock()
}

// takeAll empties the table and returns its streams.
func (t *streamTable) takeAll() map[uint32]*Stream {
	t.mu.Lock()
	defer t.mu.Unlock()
	streams := t.streams
	t.streams = make(map[uint32]*Stream)
	t.classN = 0
	t.cw.stop()
	return streams
}

// list returns the streams of the table.
func (t *streamTable) list() []*Stream {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listLocked()
}

// listLocked is list; t.mu must be held.
func (t *streamTable) listLocked() []*Stream {
	streams := make([]*Stream, 0, len(t.streams))
	for _, st := range t.streams {
		streams = append(streams, st)
	}
	return streams
}
