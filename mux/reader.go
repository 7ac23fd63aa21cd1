package mux

import (
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"time"
)

// frameReader reads frames from the connection through a buffer. Large
// payloads are read straight into their destination rather than through
// the buffer, so bulk data is copied once.
type frameReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	touch      func() // called after every read that returned data
	// bulk is set after a large frame: the next read into an empty buffer
	// takes only what was asked for (a header), so that a large payload that
	// follows is read straight into its chunk rather than through buf.
	bulk bool
}

const (
	readBufSize   = 64 << 10
	maxEmptyReads = 100 // reads in a row that return no data and no error before giving up, as bufio
)

// fill makes at least n bytes available in the buffer.
func (fr *frameReader) fill(n int) error {
	if fr.end-fr.start >= n {
		return nil
	}
	if fr.start > 0 && len(fr.buf)-fr.start < n {
		fr.end = copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start = 0
	}
	limit := len(fr.buf)
	if fr.bulk && fr.start == fr.end {
		limit = fr.end + n
	}
	for empty := 0; fr.end-fr.start < n; {
		m, err := fr.r.Read(fr.buf[fr.end:limit])
		if m > 0 {
			fr.end += m
			fr.touch()
			continue
		}
		if err == nil {
			if empty++; empty < maxEmptyReads {
				continue
			}
			err = io.ErrNoProgress
		}
		if err == io.EOF && fr.end > fr.start {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// next returns the next n (at most len(buf)) bytes, valid until the next call.
func (fr *frameReader) next(n int) ([]byte, error) {
	if err := fr.fill(n); err != nil {
		return nil, err
	}
	b := fr.buf[fr.start : fr.start+n]
	fr.start += n
	return b, nil
}

// readFull fills dst.
func (fr *frameReader) readFull(dst []byte) error {
	k := copy(dst, fr.buf[fr.start:fr.end])
	fr.start += k
	dst = dst[k:]
	if len(dst) >= len(fr.buf)/2 {
		for empty := 0; len(dst) > 0; { // a large remainder goes straight to dst
			m, err := fr.r.Read(dst)
			if m > 0 {
				dst = dst[m:]
				fr.touch()
				continue
			}
			if err == nil {
				if empty++; empty < maxEmptyReads {
					continue
				}
				err = io.ErrNoProgress
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		return nil
	}
	if err := fr.fill(len(dst)); err != nil {
		return err
	}
	fr.start += copy(dst, fr.buf[fr.start:])
	return nil
}

// discard skips n bytes.
func (fr *frameReader) discard(n int) error {
	for n > 0 {
		if fr.start == fr.end {
			if err := fr.fill(1); err != nil {
				return err
			}
		}
		k := min(n, fr.end-fr.start)
		fr.start += k
		n -= k
	}
	return nil
}

// readLoop is the session's reader goroutine.
func (s *Session) readLoop() {
	fr := &frameReader{
		r:     s.conn,
		buf:   make([]byte, readBufSize),
		touch: func() { s.lastRead.Store(time.Now().UnixNano()) },
	}
	err := s.readFrames(fr)
	if s.isClosed() {
		s.fail(err) // already over; just make sure the connection is closed
		return
	}
	if errors.Is(err, io.EOF) {
		err = io.EOF // the peer closed the connection
	}
	s.fail(err)
}

func (s *Session) readFrames(fr *frameReader) error {
	b, err := fr.next(prefaceSize)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return protoErr("bad preface: connection closed after %d bytes", fr.end-fr.start)
		}
		return err
	}
	peer, err := parsePreface(b)
	if err != nil {
		return err
	}
	if (peer.role == roleClient) == s.client {
		return protoErr("both sides of the session are clients, or both servers")
	}
	s.applySettings(peer)

	var cache *Stream // the stream of the last DATA frame
	for {
		if fr.start == fr.end && s.wokeReader {
			// We handed data to a goroutine waiting in Read and have nothing
			// buffered: let it run before our next read, which would most
			// likely find nothing and only delay it.
			s.wokeReader = false
			runtime.Gosched()
		}
		b, err := fr.next(headerSize)
		if err != nil {
			return err
		}
		h := parseHeader(b)
		if err := h.check(s.cfg.MaxFrameSize); err != nil {
			return err
		}
		if h.typ == typeData {
			if err := s.handleData(fr, h, &cache); err != nil {
				return err
			}
			continue
		}
		b, err = fr.next(int(h.length))
		if err != nil {
			return err
		}
		switch h.typ {
		case typeWindow:
			err = s.handleWindow(h.streamID, h.flags, binary.BigEndian.Uint32(b))
		case typeReset:
			s.handleReset(h.streamID, ErrorCode(binary.BigEndian.Uint32(b)))
		case typePing:
			s.handlePing(h.flags, binary.BigEndian.Uint64(b))
		case typeGoAway:
			s.mu.Lock()
			s.goAwayPeer = true
			s.mu.Unlock()
			if s.log != nil {
				s.log.Debug("mux: peer going away", "code", ErrorCode(binary.BigEndian.Uint32(b)))
			}
		}
		if err != nil {
			return err
		}
	}
}

// applySettings takes in the peer's preface: the credit we assumed for it
// grows to what it announced.
func (s *Session) applySettings(peer settings) {
	s.mu.Lock()
	s.peerKnown = true
	s.peerBacklog = int(peer.acceptBacklog)
	signal(s.openCh)
	s.wmu.Lock()
	s.peer = peer
	s.sendCredit += int64(peer.sessionWindow) - minSessionWindow
	waiters := s.creditWaiters
	s.creditWaiters = nil
	s.wmu.Unlock()
	opened := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		opened = append(opened, st)
	}
	s.mu.Unlock()
	delta := int64(peer.streamWindow) - minStreamWindow
	for _, st := range opened {
		st.mu.Lock()
		st.sendCredit += delta
		signal(st.writeCh)
		st.mu.Unlock()
	}
	for _, st := range waiters {
		signal(st.writeCh)
	}
}

// lookup returns the stream id refers to, nil if it is over, or an error if
// it never existed.
func (s *Session) lookup(id uint32) (*Stream, error) {
	s.mu.Lock()
	st := s.streams[id]
	last := s.lastPeerID
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	if s.isLocalID(id) {
		s.wmu.Lock()
		next := s.nextID
		s.wmu.Unlock()
		if uint64(id) >= next {
			return nil, protoErr("frame for stream %d, which this side never opened", id)
		}
	} else if id > last {
		return nil, protoErr("frame for stream %d, which the peer never opened", id)
	}
	return nil, nil
}

// accept handles a SYN: it opens the stream, or refuses it.
func (s *Session) accept(id uint32) (*Stream, error) {
	if s.isLocalID(id) {
		return nil, protoErr("peer opened stream %d, an id of this side", id)
	}
	s.mu.Lock()
	if id <= s.lastPeerID {
		s.mu.Unlock()
		return nil, protoErr("peer opened stream %d again", id)
	}
	s.lastPeerID = id
	var refuse ErrorCode
	switch {
	case s.goAwayLocal:
		refuse = CodeGoingAway
	case len(s.streams) >= s.cfg.MaxStreams, s.backlog >= s.cfg.AcceptBacklog:
		refuse = CodeRefused
	}
	if refuse != 0 {
		s.mu.Unlock()
		s.queueReset(id, refuse, false)
		return nil, nil
	}
	st := newStream(s, id, s.peer.streamWindow)
	st.queued = true
	s.streams[id] = st
	s.backlog++
	s.acceptQ = append(s.acceptQ, st)
	signal(s.acceptCh)
	s.mu.Unlock()
	return st, nil
}

func (s *Session) handleData(fr *frameReader, h frameHeader, cache **Stream) error {
	cost := dataCost(h.length, h.flags)
	if used := s.recvUsed.Add(int64(cost)); used > int64(s.cfg.SessionWindow) {
		return protoErr("peer exceeded the session window (%d > %d)", used, s.cfg.SessionWindow)
	}
	var st *Stream
	var err error
	switch {
	case h.flags&flagSYN != 0:
		st, err = s.accept(h.streamID)
	case *cache != nil && (*cache).id == h.streamID:
		st = *cache
	default:
		st, err = s.lookup(h.streamID)
	}
	if err != nil {
		return err
	}
	if st == nil { // refused or over: drop the data, give the credit back
		s.releaseRecv(cost)
		return fr.discard(int(h.length))
	}
	*cache = st

	var c chunk
	if h.length > 0 {
		c.b, c.pooled = getPayload(int(h.length))
		if err := fr.readFull(c.b); err != nil {
			return err
		}
	}
	fr.bulk = h.length >= readBufSize/4
	c.cost, c.eom = cost, h.flags&flagEOM != 0

	st.mu.Lock()
	if cost > st.recvCredit {
		st.mu.Unlock()
		return protoErr("peer exceeded the window of stream %d (%d > %d)", st.id, cost, st.recvCredit)
	}
	st.recvCredit -= cost
	remove := false
	switch {
	case st.state&stRemoved != 0 || st.state&stRemoteFIN != 0:
		// Over (reset), or data after the peer's FIN: drop it.
		s.dropChunk(c)
		if st.state&stRemoved == 0 {
			st.mu.Unlock()
			return protoErr("DATA on stream %d after its FIN", st.id)
		}
	case st.state&stClosed != 0:
		// We closed the stream and the peer still sends: reset it, as TCP does.
		s.dropChunk(c)
		if cost > 0 {
			s.queueReset(st.id, CodeCancel, true)
			st.err = &StreamError{StreamID: st.id, Code: CodeCancel}
			st.state |= stLocalFIN | stRemoteFIN
			remove = st.markRemovedLocked()
		}
	case cost > 0:
		st.pushChunk(c)
		if st.readCh != nil && len(st.readCh) == 0 {
			signal(st.readCh)
			s.wokeReader = true
		}
	}
	if h.flags&flagFIN != 0 && st.state&stRemoteFIN == 0 {
		st.state |= stRemoteFIN
		signal(st.readCh)
		remove = st.markRemovedLocked()
	}
	st.mu.Unlock()
	if remove {
		s.removeStream(st)
	}
	return nil
}

// dropChunk discards a received chunk and returns its credit to the session.
func (s *Session) dropChunk(c chunk) {
	if c.pooled {
		putPayload(c.b)
	}
	s.releaseRecv(c.cost)
}

func (s *Session) handleWindow(id uint32, flags uint8, inc uint32) error {
	if inc == 0 && flags&flagACK == 0 {
		return protoErr("WINDOW of 0 on stream %d", id)
	}
	if id == 0 {
		s.wmu.Lock()
		s.sendCredit += int64(inc)
		over := s.sendCredit > maxWindow
		waiters := s.creditWaiters
		s.creditWaiters = nil
		s.wmu.Unlock()
		if over {
			return protoErr("session window overflow")
		}
		for _, st := range waiters {
			st.mu.Lock()
			signal(st.writeCh)
			st.mu.Unlock()
		}
		return nil
	}
	st, err := s.lookup(id)
	if st == nil {
		return err
	}
	st.mu.Lock()
	if flags&flagACK != 0 {
		s.ackedLocked(st)
	}
	st.sendCredit += int64(inc)
	over := st.sendCredit > maxWindow
	signal(st.writeCh)
	st.mu.Unlock()
	if over {
		return protoErr("window overflow on stream %d", id)
	}
	return nil
}

func (s *Session) handleReset(id uint32, code ErrorCode) {
	st, _ := s.lookup(id)
	if st == nil {
		return // over already, or never existed: nothing to reset
	}
	st.mu.Lock()
	if st.err == nil {
		st.err = &StreamError{StreamID: id, Code: code, Remote: true}
	}
	st.state |= stLocalFIN | stRemoteFIN | stRemoved
	s.ackedLocked(st)
	signal(st.readCh)
	signal(st.writeCh)
	st.mu.Unlock()
	s.mu.Lock()
	if st.queued { // reset before it was accepted: it leaves the queue
		st.queued = false
		s.backlog--
	}
	s.mu.Unlock()
	s.removeStream(st)
}

func (s *Session) handlePing(flags uint8, opaque uint64) {
	if flags&flagACK == 0 {
		s.wmu.Lock()
		s.queueCtrlLocked(appendPing(nil, flagACK, opaque))
		s.wmu.Unlock()
		return
	}
	s.pingMu.Lock()
	if ch := s.pings[opaque]; ch != nil {
		close(ch)
		delete(s.pings, opaque)
	}
	s.pingMu.Unlock()
}
