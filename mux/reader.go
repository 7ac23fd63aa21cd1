package mux

import (
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"

	"github.com/plexusnet/plexus/internal/fastio"
)

// frameReader takes frames off the connection. It is resumable: readOnce
// reads once and handles every frame that is then complete, so whoever
// holds the read token (see lead.go) may stop between any two reads, even
// in the middle of a payload, and another reader goes on from there.
type frameReader struct {
	r          io.Reader
	rv         *fastio.Reader // scatter reads of r, or nil
	buf        []byte
	start, end int
	seq        *atomic.Uint64 // counts the bytes reads returned (readSide.bytesIn)
	frames     uint64         // frame headers taken, published to readSide.framesIn after each read
	preface    bool           // the peer's preface was read
	empty      int            // reads in a row that returned nothing
	cache      *Stream
	// bulk is set after a large frame: the next read into an empty buffer
	// takes only a header, so that a large payload that follows is read
	// straight into its chunk rather than through buf.
	bulk bool
	// pend is a DATA frame whose payload is larger than what is buffered:
	// it is read straight into pend.c.b, or dropped. A nil pend.c.b means
	// none of it is read yet and its buffer is still to be chosen
	// (payloadChunk, in readPending). It points to pendBuf.
	pend    *pending
	pendBuf pending
	// lead and leadBuf are the stream of a leading Read and its buffer,
	// while that Read leads and until a payload of lead's is delivered:
	// the first, if it fits, goes straight into leadBuf (see Session.lead),
	// and leadN is then its length.
	lead    *Stream
	leadBuf []byte
	leadN   int
	// pumps are the splices of the streams that got data, or their end, in
	// this read: they forward it once the read's frames are handled.
	pumps []pump
	// slab is the slab small payloads are cut from (see slab.go), at
	// slabOff; cut counts the chunks cut from it. slabs is readSide.slabs.
	slab    *slab
	slabOff int
	cut     int64
	slabs   *atomic.Int32
}

// endLead ends a leading Read's turn and returns how many bytes were read
// straight into its buffer. A payload still being read into that buffer
// (the Read's deadline passed, or the session failed) moves to a chunk of
// its own with what it has so far, or, if nothing of it came yet, has its
// buffer chosen again by whoever reads it next: the buffer is the
// caller's again once Read returns.
func (fr *frameReader) endLead(st *Stream) int {
	if p := fr.pend; p != nil && p.c.direct {
		if p.got == 0 {
			p.c = chunk{} // nothing read yet: undecided again, for whoever reads it
		} else {
			b, pooled := getPayload(len(p.c.b), st.recycle.Load())
			copy(b, p.c.b[:p.got])
			p.c.b, p.c.pooled, p.c.direct = b, pooled, false
		}
	}
	n := fr.leadN
	fr.lead, fr.leadBuf, fr.leadN = nil, nil, 0
	return n
}

type pending struct {
	h    frameHeader
	st   *Stream
	c    chunk
	got  int  // bytes of the payload read, or dropped, so far
	drop bool // the payload is dropped: its stream refused or over
}

const (
	readBufSize   = 64 << 10
	maxEmptyReads = 100 // reads in a row that return no data and no error before giving up, as bufio
)

// readOnce reads from the connection once, blocking, and handles every
// frame that is then complete; then the splices of the streams that got
// something forward it (pumpSplices).
func (s *Session) readOnce(fr *frameReader) error {
	var err error
	if p := fr.pend; p != nil && !p.drop {
		err = s.readPending(fr, p)
	} else {
		err = s.readBuffered(fr)
	}
	if len(fr.pumps) > 0 {
		fr.pumpSplices()
	}
	return err
}

// readBuffered reads into fr.buf once and handles every frame that is
// then complete.
func (s *Session) readBuffered(fr *frameReader) error {
	if fr.start == fr.end {
		fr.start, fr.end = 0, 0
	} else if fr.start > 0 && len(fr.buf)-fr.end < len(fr.buf)/2 {
		fr.end = copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start = 0
	}
	limit := len(fr.buf)
	if fr.bulk && fr.start == fr.end && fr.pend == nil && fr.preface {
		limit = headerSize
	}
	n, err := fr.r.Read(fr.buf[fr.end:limit])
	if n > 0 {
		fr.seq.Add(uint64(n))
		fr.end += n
		if perr := s.processCounted(fr); perr != nil {
			return perr
		}
	}
	return fr.readErr(n, err)
}

// readPending reads the rest of p's payload straight into its buffer.
// Nothing else is buffered meanwhile, so where the connection has scatter
// reads (fastio.Reader) the same system call also takes the next frame's
// header, and only that, into fr.buf: a bulk transfer costs one read per
// frame, and the next payload again goes straight into its own buffer.
func (s *Session) readPending(fr *frameReader, p *pending) error {
	if p.c.b == nil {
		p.c = fr.payloadChunk(p.st, p.h.length)
	}
	fr.start, fr.end = 0, 0 // all that was buffered went into p
	var n int
	var err error
	if fr.rv != nil {
		n, err = fr.rv.ReadTwo(p.c.b[p.got:], fr.buf[:headerSize])
	} else {
		n, err = fr.r.Read(p.c.b[p.got:])
	}
	if n > 0 {
		fr.seq.Add(uint64(n))
		k := min(n, len(p.c.b)-p.got)
		p.got += k
		fr.end = n - k // the next header's bytes, if any
		if p.got == len(p.c.b) {
			fr.pend = nil
			if err := s.deliver(p.h, p.st, p.c); err != nil {
				return err
			}
			if fr.end > 0 {
				if perr := s.processCounted(fr); perr != nil {
					return perr
				}
			}
		}
	}
	return fr.readErr(n, err)
}

// processCounted is process, publishing the frames it took to
// readSide.framesIn.
func (s *Session) processCounted(fr *frameReader) error {
	before := fr.frames
	err := s.process(fr)
	s.rd.framesIn.Add(fr.frames - before)
	return err
}

// payloadChunk returns the chunk that takes a payload of st's: the
// leading Read's buffer if st is the leader's stream and the payload fits
// (see Session.lead), else a buffer of its own.
func (fr *frameReader) payloadChunk(st *Stream, length uint32) chunk {
	var c chunk
	switch {
	case length == 0:
	case st == fr.lead && int(length) <= len(fr.leadBuf):
		c.b, c.direct = fr.leadBuf[:length], true
	default:
		recycle := st.recycle.Load()
		if recycle && length <= slabMaxPayload {
			if sc, ok := fr.slabChunk(int(length)); ok {
				return sc
			}
		}
		c.b, c.pooled = getPayload(int(length), recycle)
	}
	return c
}

// readErr turns the result of a read into readOnce's error.
func (fr *frameReader) readErr(n int, err error) error {
	if n > 0 {
		fr.empty = 0
		if err == io.EOF {
			return nil // the next read says EOF again
		}
		return err
	}
	if err == nil {
		if fr.empty++; fr.empty >= maxEmptyReads {
			return io.ErrNoProgress
		}
		return nil
	}
	if err == io.EOF && !fr.preface && fr.end > fr.start {
		return protoErr("bad preface: connection closed after %d bytes", fr.end-fr.start)
	}
	if err == io.EOF && (fr.start < fr.end || fr.pend != nil) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// process handles every complete frame in the buffer.
func (s *Session) process(fr *frameReader) error {
	for {
		avail := fr.end - fr.start
		if p := fr.pend; p != nil { // p.drop: the rest of a dropped payload
			k := min(avail, int(p.h.length)-p.got)
			fr.start += k
			p.got += k
			if p.got < int(p.h.length) {
				return nil
			}
			fr.pend = nil
			continue
		}
		if !fr.preface {
			size := prefaceLen(fr.buf[fr.start:fr.end])
			if size == 0 || avail < size {
				return nil
			}
			if err := s.takePreface(fr.buf[fr.start : fr.start+size]); err != nil {
				return err
			}
			fr.start += size
			fr.preface = true
			continue
		}
		if avail < headerSize {
			return nil
		}
		h := parseHeader(fr.buf[fr.start:])
		fr.frames++
		if err := h.check(s.cfg.MaxFrameSize); err != nil {
			return err
		}
		size := headerSize + int(h.length)
		if h.typ != typeData {
			if avail < size {
				return nil
			}
			b := fr.buf[fr.start+headerSize : fr.start+size]
			fr.start += size
			if err := s.handleControl(h, b); err != nil {
				return err
			}
			continue
		}
		if avail < size && int(h.length) < len(fr.buf)/2 {
			return nil // a small frame: wait until it is all buffered
		}
		fr.start += headerSize
		fr.bulk = h.length >= readBufSize/4
		st, err := s.dataTarget(fr, h)
		if err != nil {
			return err
		}
		if st == nil { // refused or over: drop the payload
			k := min(int(h.length), fr.end-fr.start)
			fr.start += k
			if k < int(h.length) {
				fr.pendBuf = pending{h: h, got: k, drop: true}
				fr.pend = &fr.pendBuf
				return nil
			}
			continue
		}
		if h.length > 0 && fr.start == fr.end {
			// None of the payload is here yet: where it goes is chosen when
			// it is read (readPending), by whoever reads then.
			fr.pendBuf = pending{h: h, st: st}
			fr.pend = &fr.pendBuf
			return nil
		}
		c := fr.payloadChunk(st, h.length)
		k := copy(c.b, fr.buf[fr.start:fr.end])
		fr.start += k
		if k < len(c.b) { // the rest is read straight into c.b
			fr.pendBuf = pending{h: h, st: st, c: c, got: k}
			fr.pend = &fr.pendBuf
			return nil
		}
		if err := s.deliver(h, st, c); err != nil {
			return err
		}
	}
}

// takePreface checks the peer's preface and applies its settings.
func (s *Session) takePreface(b []byte) error {
	peer, err := parsePreface(b)
	if err != nil {
		return err
	}
	if (peer.role == roleClient) == s.client {
		return protoErr("both sides of the session are clients, or both servers")
	}
	s.applySettings(peer)
	return nil
}

// handleControl handles a frame other than DATA.
func (s *Session) handleControl(h frameHeader, b []byte) error {
	switch h.typ {
	case typeWindow:
		return s.handleWindow(h.streamID, h.flags, binary.BigEndian.Uint32(b))
	case typeReset:
		s.handleReset(h.streamID, ErrorCode(binary.BigEndian.Uint32(b)))
	case typePing:
		s.handlePing(h.flags, binary.BigEndian.Uint64(b))
	case typeGoAway:
		s.table.mu.Lock()
		s.table.goAwayPeer = true
		s.table.mu.Unlock()
		if s.log != nil {
			s.log.Debug("mux: peer going away", "code", ErrorCode(binary.BigEndian.Uint32(b)))
		}
	}
	return nil
}

// readLoop is the session's reader goroutine: it reads whenever no
// application goroutine does (see lead.go). Once the session is over it
// drains the connection: it reads and discards until the peer's EOF, or
// until the connection is closed (see Session.Close).
func (s *Session) readLoop() {
	defer close(s.life.readerDone)
	r := &s.rd
	fr := &r.fr
	for {
		r.token.Take(nil) // after the session ends, End makes it wait only for the token
		if s.isClosed() {
			fr.retireSlab() // its chunks still readable; the slab goes back once they are read
			for {
				if _, err := s.conn.Read(fr.buf); err != nil {
					return
				}
			}
		}
		err := s.readOnce(fr)
		r.releaseToken(false)
		if err != nil && !isTimeout(err) { // a timeout: meant for a leader that has gone
			s.readFailed(err)
		}
	}
}

// readFailed ends the session after a read error, unless it is over.
func (s *Session) readFailed(err error) {
	if s.isClosed() {
		return
	}
	if errors.Is(err, io.EOF) {
		err = io.EOF // the peer closed the connection
		if werr := s.life.werr.Load(); werr != nil {
			err = *werr // it went away while we wrote
		}
	}
	s.fail(err)
}

// isTimeout reports whether err is a read deadline expiring.
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// applySettings takes in the peer's preface: the credit we assumed for it
// grows to what it announced. The streams opened until then get the
// difference; those opened from then on get all of it (newStream), so
// both happen under the table's lock.
func (s *Session) applySettings(peer settings) {
	t, q := &s.table, &s.sendq
	t.mu.Lock()
	t.peerBacklog[0] = int(peer.acceptBacklog)
	if peer.classBacklog > 0 {
		t.peerBacklog[1] = int(peer.classBacklog)
	}
	t.peerKnown = true
	for _, ch := range t.openCh {
		signal(ch)
	}
	q.mu.Lock()
	q.peer = peer
	s.flow.grant(peer.sessionWindow - minSessionWindow)
	if s.cfg.ClassWindow > 0 {
		s.cflow.grant(peer.classWindow)
	}
	waiters := q.takeWaitersLocked()
	q.mu.Unlock()
	opened := t.listLocked()
	t.mu.Unlock()
	delta := peer.streamWindow - minStreamWindow
	for _, st := range opened {
		st.mu.Lock()
		st.flow.granted(delta)
		signal(st.writeCh)
		sp := st.sp
		st.mu.Unlock()
		if sp != nil {
			sp.pumpTo(st)
		}
	}
	wakeSenders(waiters)
}

// dataTarget applies what the header of a DATA frame says before its
// payload: it charges the credit of the session (or of the class, for a
// frame with flagClass), opens the stream on SYN, and returns the stream,
// or nil if the payload is to be dropped.
func (s *Session) dataTarget(fr *frameReader, h frameHeader) (*Stream, error) {
	cost := dataCost(h.length, h.flags)
	class := h.flags & flagClass
	if class != 0 && s.cfg.ClassWindow == 0 {
		return nil, protoErr("DATA of a class on stream %d, on a session without one", h.streamID)
	}
	if err := s.pool(class).charge(cost); err != nil {
		return nil, err
	}
	var st *Stream
	var err error
	switch {
	case h.flags&flagSYN != 0:
		st, err = s.accept(h.streamID, class)
	case fr.cache != nil && fr.cache.id == h.streamID:
		st = fr.cache
	default:
		st, err = s.lookup(h.streamID)
	}
	if err != nil {
		return nil, err
	}
	if st == nil { // refused or over: the data is dropped, its credit returned
		s.returnCredit(cost, class)
		return nil, nil
	}
	if st.class != class {
		return nil, protoErr("DATA on stream %d of another class than its SYN", h.streamID)
	}
	fr.cache = st
	return st, nil
}

// deliver hands the payload of a DATA frame to its stream
// (Stream.receive), and takes what that means for the holder of the read
// token: a payload read straight into a leading Read's buffer, a Read
// woken, a splice to pump after the read.
func (s *Session) deliver(h frameHeader, st *Stream, c chunk) error {
	c.cost, c.eom = dataCost(h.length, h.flags), h.flags&flagEOM != 0
	r := &s.rd
	fr := &r.fr
	if st == fr.lead { // only its first payload may go to the Read's buffer
		fr.lead, fr.leadBuf = nil, nil
	}
	sp, direct, woke, err := st.receive(c, h.flags&flagFIN != 0, r.leader)
	if direct {
		fr.leadN = len(c.b)
	}
	if woke {
		r.wokeReader = true
	}
	if sp != nil && (len(fr.pumps) == 0 || fr.pumps[len(fr.pumps)-1].src != st) {
		fr.pumps = append(fr.pumps, pump{sp, st})
	}
	return err
}

func (s *Session) handleReset(id uint32, code ErrorCode) {
	st, _ := s.lookup(id)
	if st == nil {
		return // over already, or never existed: nothing to reset
	}
	st.mu.Lock()
	st.abortLocked(code, true)
	sp := st.sp
	st.mu.Unlock()
	if sp != nil {
		sp.pump(st) // the reset goes on to the other stream
	}
}
