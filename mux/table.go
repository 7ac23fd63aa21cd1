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
// queue, and the flags queued and lingers of every Stream.
type streamTable struct {
	mu          sync.Mutex
	streams     map[uint32]*Stream
	acceptQ     []*Stream // streams the peer opened, not yet accepted: acceptQ[acceptHead:]
	acceptHead  int
	acceptCh    chan struct{}
	backlog     int // live streams in acceptQ (a stream reset there is skipped)
	unacked     int // streams we opened that the peer has neither accepted nor refused
	peerBacklog int // how many of those the peer holds: its AcceptBacklog
	openCh      chan struct{}
	lastPeerID  uint32 // highest stream id the peer opened
	goAwayLocal bool   // we sent GOAWAY: no new streams either way
	goAwayPeer  bool   // the peer sent GOAWAY: we may open no new streams
	cw          closeWait
	opened      uint64 // streams we opened (Stats)
	accepted    uint64 // streams the peer opened that we took (Stats)
}

func (t *streamTable) init() {
	t.streams = make(map[uint32]*Stream)
	t.acceptCh = make(chan struct{}, 1)
	t.openCh = make(chan struct{}, 1)
	t.peerBacklog = minAcceptBacklog
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
	t := &s.table
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		switch {
		case s.isClosed():
			return nil, s.closedErr()
		case t.goAwayLocal || t.goAwayPeer:
			return nil, ErrGoAway
		case len(t.streams) >= s.cfg.MaxStreams:
			return nil, fmt.Errorf("%w: %d streams open", ErrTooManyStreams, len(t.streams))
		}
		if t.unacked < t.peerBacklog {
			break
		}
		t.mu.Unlock()
		counted := s.rd.needReader()
		s.waiting.Add(1)
		select {
		case <-t.openCh:
		case <-s.life.done:
		case <-ctx.Done():
			s.waiting.Add(-1)
			s.rd.doneWaiting(counted)
			signal(t.openCh)
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
	id := q.openLocked()
	if id == 0 {
		return nil, fmt.Errorf("%w: stream ids exhausted", ErrTooManyStreams)
	}
	st := newStream(s, id, q.peer.streamWindow)
	t.streams[id] = st
	t.opened++
	t.unacked++
	if t.unacked < t.peerBacklog {
		signal(t.openCh) // room for another opener
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
	t.mu.Lock()
	t.unacked--
	signal(t.openCh)
	t.mu.Unlock()
}

// AcceptStream waits for and returns the next stream the peer opened.
// Streams the peer reset before they were accepted are skipped.
func (s *Session) AcceptStream(ctx context.Context) (*Stream, error) {
	t := &s.table
	for {
		t.mu.Lock()
		for t.acceptHead < len(t.acceptQ) {
			st := t.acceptQ[t.acceptHead]
			t.acceptQ[t.acceptHead] = nil
			t.acceptHead++
			if t.acceptHead == len(t.acceptQ) {
				t.acceptQ, t.acceptHead = t.acceptQ[:0], 0
			}
			if !st.queued {
				continue // reset while it waited
			}
			st.queued = false
			t.backlog--
			if t.acceptHead < len(t.acceptQ) {
				signal(t.acceptCh)
			}
			t.mu.Unlock()
			s.sendq.queueUint32(typeWindow, flagACK, st.id, 0) // tell the opener its backlog has room
			return st, nil
		}
		t.mu.Unlock()
		if s.isClosed() {
			signal(t.acceptCh)
			return nil, s.closedErr()
		}
		counted := s.rd.needReader()
		s.waiting.Add(1)
		select {
		case <-t.acceptCh:
		case <-s.life.done:
		case <-ctx.Done():
			s.waiting.Add(-1)
			s.rd.doneWaiting(counted)
			signal(t.acceptCh)
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

// accept handles a SYN: it opens the stream, or refuses it.
func (s *Session) accept(id uint32) (*Stream, error) {
	if s.isLocalID(id) {
		return nil, protoErr("peer opened stream %d, an id of this side", id)
	}
	t := &s.table
	t.mu.Lock()
	if id <= t.lastPeerID {
		t.mu.Unlock()
		return nil, protoErr("peer opened stream %d again", id)
	}
	t.lastPeerID = id
	var refuse ErrorCode
	switch {
	case t.goAwayLocal:
		refuse = CodeGoingAway
	case len(t.streams) >= s.cfg.MaxStreams, t.backlog >= s.cfg.AcceptBacklog:
		refuse = CodeRefused
	}
	if refuse != 0 {
		t.mu.Unlock()
		s.sendq.queueReset(id, refuse, false, 0)
		return nil, nil
	}
	st := newStream(s, id, s.sendq.peer.streamWindow) // peer is written under t.mu too
	st.queued = true
	t.streams[id] = st
	t.accepted++
	t.backlog++
	if t.acceptHead > 0 && t.acceptHead >= len(t.acceptQ)/2 { // drop the accepted prefix
		n := copy(t.acceptQ, t.acceptQ[t.acceptHead:])
		clear(t.acceptQ[n:])
		t.acceptQ, t.acceptHead = t.acceptQ[:n], 0
	}
	if len(t.acceptQ)-t.acceptHead > 2*t.backlog+64 {
		// Mostly streams reset before they were accepted: a peer that
		// opens and resets streams while nobody accepts would otherwise
		// grow the queue without bound. Keep the live ones, in order.
		n := 0
		for _, q := range t.acceptQ[t.acceptHead:] {
			if q.queued {
				t.acceptQ[n] = q
				n++
			}
		}
		clear(t.acceptQ[n:])
		t.acceptQ, t.acceptHead = t.acceptQ[:n], 0
	}
	t.acceptQ = append(t.acceptQ, st)
	signal(t.acceptCh)
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
	}
	if st.queued { // reset before it was accepted: it leaves the queue
		st.queued = false
		t.backlog--
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
