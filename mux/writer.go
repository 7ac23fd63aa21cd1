package mux

import (
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/plexusnet/plexus/internal/fastio"
)

// The send side. Streams append frames to the session's send queue under
// its lock and return; one writer goroutine takes whatever is queued and
// writes it with one system call (a writev of the segments), so the frames
// of many streams share few syscalls. Control frames have their own queue,
// written before any data, and a batch of data is at most maxBatch bytes,
// so a window update, ping or reset never waits behind more than one
// batch. A Write that finds the connection idle takes the batch itself and
// writes it with no hand-off (sendQueue.queueData, Session.writeInline);
// so does a small Write of a session nested in a stream, into that stream
// (Stream.tryWrite), and on to the socket if the stream's session is idle.

const (
	segSize  = 72 << 10  // a data segment: room for a 64 KiB frame and more
	maxBatch = 256 << 10 // data bytes written in one system call, at most
	maxFree  = 4         // written segments kept for reuse
	maxCtrl  = 1 << 20   // queued control bytes: a peer that lets more pile up does not read
)

// sendQueue is the send side of a session: the frames queued for the
// connection and whoever writes them. mu guards all but the writer's own
// fields at the end.
type sendQueue struct {
	mu          sync.Mutex
	peer        settings  // what the peer accepts (minSettings until its preface)
	openQueued  uint32    // highest id we opened whose SYN is queued
	nextID      uint64    // next stream id we open: its SYN is queued in id order
	ctrl        []byte    // queued control frames, written before data
	spare       []byte    // the other control buffer
	segs        [][]byte  // queued DATA frames, in segments; the last one takes appends
	free        [][]byte  // written segments kept for reuse
	buffered    int       // bytes of DATA frames queued or being written
	limit       int       // Config.SendBuffer: Write and Send wait while buffered is beyond it
	waiters     []*Stream // streams waiting for session credit or buffer room
	inline      batch     // the batch of an inline write; used by whoever set writing
	wake        chan struct{}
	resume      []byte // what an inline write left: written first
	framesOut   uint64 // frames queued
	openFlushed uint32 // highest id we opened whose SYN is written
	writerIdle  bool   // the writer goroutine sleeps, waiting for a kick
	writing     bool   // a connection write is under way (writer goroutine or inline)
	owed        bool   // writing is held for a splice's pump, which writes what is queued (Session.flushOwed)
	closing     bool   // no more frames: the writer flushes and stops

	// The writer: set once, or atomic.
	vectored bool // conn gathers net.Buffers into one system call (writev)
	conn     io.Writer
	raw      *fastio.Writer // non-blocking writes for inline writes (on records' socket if set); nil: none
	rawMax   int            // the most data a Write writes inline; 0: no limit
	// records, if set, is the connection under conn, a TLS connection:
	// a batch is sealed into records there and written from there (see
	// writeSealed), and q.resume then holds sealed records.
	records  *fastio.RecordConn
	writeSeq atomic.Uint64 // connection writes begun plus ended: odd while one is under way (see health.go)
	bytesOut atomic.Uint64
	stuck    func(error) // ends the session: the peer lets control frames pile up
}

// init readies the queue of a session on conn, with the preface to send
// first.
func (q *sendQueue) init(conn io.Writer, c *Config, preface []byte, client bool, stuck func(error)) {
	q.conn, q.stuck, q.limit = conn, stuck, c.SendBuffer
	q.peer = minSettings
	q.ctrl = preface
	q.wake = make(chan struct{}, 1)
	q.nextID = 2
	if client {
		q.nextID = 1
	}
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		q.vectored = true
	}
	q.raw = fastio.NewWriter(conn)
	if q.raw == nil {
		q.raw = nestedWriter(conn)
	}
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // a tls.Conn
		if rc, ok := nc.NetConn().(*fastio.RecordConn); ok {
			q.records, q.raw = rc, rc.Raw()
			if q.raw == nil {
				q.raw = nestedWriter(rc.Sock())
			}
		}
	}
	if q.raw != nil && q.raw.Nested() {
		q.rawMax = maxNestedInline
	}
}

// maxNestedInline is the most data a Write of a session nested in a
// stream writes inline (into the stream: Stream.tryWrite). Larger writes
// go through the writer goroutine, so that bulk transfers keep the
// session's frames and the stream's system calls in two goroutines.
const maxNestedInline = 4 << 10

// TryWriter is a connection with a non-blocking write, which a session on
// it uses as it uses a stream's when nested in one (small batches written
// from the writer's goroutine): it writes what it takes of bufs at once,
// maybe nothing, and never waits. (A resumable byte stream under a
// circuit's session is one.)
type TryWriter interface {
	TryWrite(bufs [][]byte) (int, error)
}

// nestedWriter returns the non-blocking write of a session nested in
// conn (Stream.tryWrite) if conn is a stream, or embeds one and leaves
// its writes alone (a type of another package that wraps a stream to read
// something first, as mesh's circuit set-up does), or the TryWrite of a
// TryWriter, else nil.
func nestedWriter(conn any) *fastio.Writer {
	if tw, ok := conn.(TryWriter); ok {
		return fastio.FuncWriter(tw.TryWrite)
	}
	sc, ok := conn.(interface{ stream() *Stream })
	if !ok {
		return nil
	}
	st := sc.stream()
	var flat []byte
	return fastio.FuncWriter(func(bufs [][]byte) (int, error) { return st.tryWrite(bufs, &flat) })
}

// stream returns st: what nestedWriter finds in a type that embeds st.
func (st *Stream) stream() *Stream { return st }

// TryWrite writes what it can of p at once, as one write, without
// waiting: as far as the stream's credit and its session's send buffer
// take it (what a byte stream layered on the stream uses to send from the
// caller's goroutine, as a session nested in a stream does). It returns
// how many bytes went: 0 and no error when nothing could, or while a
// Write of the stream is under way. One caller at a time.
func (st *Stream) TryWrite(p []byte) (int, error) {
	bufs := [1][]byte{p}
	return st.tryWrite(bufs[:], nil)
}

// tryWrite is the non-blocking write of a session nested in st
// (nestedWriter): it writes bufs, in one piece, as far as st's
// credit and its session's send buffer take them at once, with no wait,
// and returns how many bytes went. flat is its buffer for gathering bufs.
// Only the nested session's writer calls it (one at a time).
func (st *Stream) tryWrite(bufs [][]byte, flat *[]byte) (int, error) {
	if !st.wlock.TryLock() {
		return 0, nil // a blocking write is under way (not the nested session's)
	}
	defer st.wlock.Unlock()
	p := bufs[0]
	if len(bufs) > 1 {
		f := (*flat)[:0]
		for _, b := range bufs {
			f = append(f, b...)
		}
		p = f
		if cap(f) <= 4<<10 {
			*flat = f
		} else {
			*flat = nil
		}
	}
	s := st.sess
	n := 0
	st.mu.Lock()
	defer st.mu.Unlock()
	for {
		if err := st.writeErrLocked(); err != nil {
			return n, err
		}
		before := n
		b, done := s.sendq.queueData(st, p, &n, false, true)
		if b != nil {
			st.mu.Unlock()
			err := s.writeInline(b)
			st.mu.Lock()
			if err != nil {
				return n, err
			}
		}
		if done || n == before {
			return n, nil
		}
	}
}

// ours reports whether id is of a stream we opened: our ids have
// nextID's parity.
func (q *sendQueue) ours(id uint32) bool { return uint64(id)%2 == q.nextID%2 }

// appendDataLocked queues a DATA frame. q.mu must be held.
func (q *sendQueue) appendDataLocked(id uint32, flags uint8, p []byte) {
	need := headerSize + len(p)
	i := q.segmentFor(need)
	q.framesOut++
	seg := appendHeader(q.segs[i], typeData, flags, id, len(p))
	q.segs[i] = append(seg, p...)
}

// segmentFor returns the index of the segment that takes the next need
// bytes of frames, and counts them as buffered. q.mu must be held.
func (q *sendQueue) segmentFor(need int) int {
	q.buffered += need
	i := len(q.segs) - 1
	if i < 0 || cap(q.segs[i])-len(q.segs[i]) < need {
		q.segs = append(q.segs, q.newSegment(need))
		i++
	}
	return i
}

func (q *sendQueue) newSegment(need int) []byte {
	for j := len(q.free) - 1; j >= 0; j-- {
		if cap(q.free[j]) >= need {
			b := q.free[j]
			q.free[j] = q.free[len(q.free)-1]
			q.free[len(q.free)-1] = nil
			q.free = q.free[:len(q.free)-1]
			return b[:0]
		}
	}
	if need <= segSize {
		if b, _ := segPool.Get().(*[]byte); b != nil {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, max(segSize, need))
}

// segPool holds the segments of sessions whose writer is idle, so that an
// idle session keeps none (a busy one keeps up to maxFree of its own).
var segPool sync.Pool

// releaseSegmentsLocked gives the queue's spare segments to segPool, as
// its writer goes idle. q.mu must be held.
func (q *sendQueue) releaseSegmentsLocked() {
	for i, b := range q.free {
		if cap(b) == segSize {
			b = b[:0]
			segPool.Put(&b)
		}
		q.free[i] = nil
	}
	q.free = q.free[:0]
}

// send queues frames of p[*n:] for st while credit and the send buffer
// last (queueLocked), and reports whether all of p is queued; if not,
// st waits for credit or room, and is woken when it comes. With inline
// set, a Write that finds the connection idle gets, rather than queued
// frames, a batch of them that refers to p, to write itself
// (Session.writeInline) with no copy and no hand-off to the writer
// goroutine; done then says whether the batch holds the rest of p.
// st.mu must be held.
func (q *sendQueue) queueData(st *Stream, p []byte, n *int, eom, inline bool) (b *batch, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return nil, false // the caller finds the session closed
	}
	if inline && q.raw != nil && !q.writing && len(q.segs) == 0 && len(q.resume) == 0 &&
		(q.rawMax == 0 || len(p)-*n <= q.rawMax) && st.flow.canSend(st.pool()) {
		b = &q.inline
		q.takeLocked(b)
		done, _ = q.queueLocked(st, b, p, n, eom)
		return b, done
	}
	done, sessionBound := q.queueLocked(st, nil, p, n, eom)
	if !done && sessionBound && !st.sendWait {
		st.sendWait = true
		q.waiters = append(q.waiters, st)
	}
	q.kickLocked()
	return nil, done
}

// maxRelayInline is the most data a splice writes itself (relayData):
// bulk transfers keep the writer goroutine, which gathers more frames per
// system call.
const maxRelayInline = 4 << 10

// relayData is queueData for a splice (Stream.relayLocked): the frames
// are copied into the queue, for the data is the source stream's. If the
// connection is idle and the data small, the write is kept for the pump rather than handed to
// the writer goroutine: the queue owes a write (q.owed), which the pump
// does once it has let go of its streams (Session.flushOwed), with one
// non-blocking system call from its own goroutine, with no wake of the
// writer goroutine; what else is queued meanwhile (WINDOW frames among
// them) goes in the same write. st.mu must be held.
func (q *sendQueue) relayData(st *Stream, p []byte, n *int, eom bool) (done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return false // the caller finds the session closed
	}
	claimed := false
	if q.raw != nil && !q.writing && len(q.segs) == 0 && len(q.resume) == 0 && len(p)-*n <= maxRelayInline {
		q.writing, q.owed, claimed = true, true, true
	}
	done, sessionBound := q.queueLocked(st, nil, p, n, eom)
	if !done && sessionBound && !st.sendWait {
		st.sendWait = true
		q.waiters = append(q.waiters, st)
	}
	if claimed && len(q.segs) == 0 && len(q.ctrl) == 0 {
		q.writing, q.owed = false, false // nothing went: no write owed
	}
	q.kickLocked()
	return done
}

// flushOwed writes what is queued if a splice's pump owes the write
// (sendQueue.relayData). It must be called with no stream or session lock
// held.
func (s *Session) flushOwed() {
	q := &s.sendq
	q.mu.Lock()
	if !q.owed {
		q.mu.Unlock()
		return
	}
	q.owed = false
	b := &q.inline
	q.takeLocked(b)
	q.mu.Unlock()
	s.writeInline(b)
}

// queueLocked queues frames of st's data p[*n:] while credit and the send
// buffer last: into b, which then refers to p, or (b nil) copied into the
// queue. It reports whether all of p is queued and, if not, whether the
// session (its credit or its send buffer) rather than the stream's credit
// is what ran out. st.mu and q.mu must be held.
func (q *sendQueue) queueLocked(st *Stream, b *batch, p []byte, n *int, eom bool) (done, sessionBound bool) {
	for {
		rem := len(p) - *n
		room := q.limit - q.buffered - headerSize
		if room < 0 || (room == 0 && rem > 0) {
			return false, true // the connection is backed up
		}
		if b != nil && len(b.hdr)+headerSize > cap(b.hdr) {
			return false, false // the batch is full: the caller writes it and comes back
		}
		size := min(rem, int(q.peer.maxFrame), room)
		size, flags, ok, sessionBound := st.flow.spend(st.pool(), size, eom && size == rem)
		flags |= st.class
		if !ok {
			return false, sessionBound
		}
		if b != nil {
			h := len(b.hdr)
			b.hdr = appendHeader(b.hdr, typeData, flags, st.id, size)
			b.bufs = append(b.bufs, b.hdr[h:])
			if size > 0 {
				b.bufs = append(b.bufs, p[*n:*n+size])
			}
			b.data += headerSize + size
			q.buffered += headerSize + size
			q.framesOut++
		} else {
			q.appendDataLocked(st.id, flags, p[*n:*n+size])
		}
		*n += size
		if *n == len(p) && (!eom || flags&flagEOM != 0) {
			return true, false
		}
	}
}

// takeWaitersLocked returns the streams waiting for session credit or
// buffer room, and forgets them. q.mu must be held.
func (q *sendQueue) takeWaitersLocked() []*Stream {
	w := q.waiters
	q.waiters = nil
	for _, st := range w {
		st.sendWait = false
	}
	return w
}

// wakeSenders wakes streams taken by takeWaitersLocked, to try again. No
// session lock may be held.
func wakeSenders(w []*Stream) {
	for _, st := range w {
		st.mu.Lock()
		signal(st.writeCh)
		sp := st.sp
		st.mu.Unlock()
		if sp != nil {
			sp.pumpTo(st) // a spliced stream: its splice writes
		}
	}
}

// openLocked takes the id of a stream of class (flagClass or 0) we open
// and queues its SYN, so that the peer sees ids grow. It returns 0 when
// the ids are exhausted. q.mu must be held.
func (q *sendQueue) openLocked(class uint8) uint32 {
	if q.nextID > 1<<32-1 {
		return 0
	}
	id := uint32(q.nextID)
	q.nextID += 2
	q.appendDataLocked(id, flagSYN|class, nil)
	q.openQueued = id
	q.kickLocked()
	return id
}

// Sizes of control frames.
const (
	uint32FrameSize = headerSize + 4 // WINDOW, RESET, GOAWAY
	pingFrameSize   = headerSize + 8
)

// ctrlRoomLocked reports whether k control frames of n bytes in all may
// be appended to q.ctrl now, and counts them: not once the queue is
// closing, nor beyond maxCtrl, for a peer that lets control frames pile
// up without reading them fails the session. q.mu must be held.
func (q *sendQueue) ctrlRoomLocked(k, n int) bool {
	if q.closing {
		return false
	}
	if len(q.ctrl)+n > maxCtrl {
		go q.stuck(protoErr("peer does not read: %d bytes of control frames queued", len(q.ctrl)))
		return false
	}
	q.framesOut += uint64(k)
	q.kickLocked()
	return true
}

// queueUint32 queues a control frame whose payload is one 32-bit value:
// WINDOW, RESET or GOAWAY.
func (q *sendQueue) queueUint32(typ frameType, flags uint8, id, v uint32) {
	q.mu.Lock()
	if q.ctrlRoomLocked(1, uint32FrameSize) {
		q.ctrl = appendUint32Frame(q.ctrl, typ, flags, id, v)
	}
	q.mu.Unlock()
}

// queuePing queues a PING.
func (q *sendQueue) queuePing(flags uint8, opaque uint64) {
	q.mu.Lock()
	if q.ctrlRoomLocked(1, pingFrameSize) {
		q.ctrl = appendPing(q.ctrl, flags, opaque)
	}
	q.mu.Unlock()
}

// queueWindows queues the WINDOW frames that returning credit calls for:
// session credit (id 0; the class's if class is flagClass), and credit
// for stream id. Either may be 0: none.
func (q *sendQueue) queueWindows(session uint32, class uint8, id, stream uint32) {
	if session == 0 && stream == 0 {
		return
	}
	q.mu.Lock()
	q.queueWindowsLocked(session, class, id, stream)
	q.mu.Unlock()
}

// queueWindowsLocked is queueWindows; q.mu must be held.
func (q *sendQueue) queueWindowsLocked(session uint32, class uint8, id, stream uint32) {
	k := 0
	if session > 0 {
		k++
	}
	if stream > 0 {
		k++
	}
	if k > 0 && q.ctrlRoomLocked(k, k*uint32FrameSize) {
		q.ctrl = appendWindows(q.ctrl, session, class, id, stream)
	}
}

// queueFIN queues an empty DATA frame with FIN, after the data of stream
// id, of class (flagClass or 0).
func (q *sendQueue) queueFIN(id uint32, class uint8) {
	q.mu.Lock()
	if !q.closing {
		q.appendDataLocked(id, flagFIN|class, nil)
		q.kickLocked()
	}
	q.mu.Unlock()
}

// queueReset queues a RESET, and a WINDOW for the session (the class's if
// class is flagClass) if credit is not 0 (what the reset stream held).
// The RESET goes with the control
// frames, ahead of data, unless it must follow data already queued: when
// afterData is set, or when the stream is ours and its SYN may not be
// written yet.
func (q *sendQueue) queueReset(id uint32, code ErrorCode, afterData bool, credit uint32, class uint8) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if afterData || (q.ours(id) && id > q.openFlushed) {
		q.queueWindowsLocked(credit, class, 0, 0)
		if !q.closing {
			i := q.segmentFor(uint32FrameSize)
			q.framesOut++
			q.kickLocked()
			q.segs[i] = appendUint32Frame(q.segs[i], typeReset, 0, id, uint32(code))
		}
		return
	}
	k := 1
	if credit > 0 {
		k++
	}
	if q.ctrlRoomLocked(k, k*uint32FrameSize) {
		q.ctrl = appendUint32Frame(appendWindows(q.ctrl, credit, class, 0, 0), typeReset, 0, id, uint32(code))
	}
}

// kickLocked wakes the writer goroutine if it sleeps and no write is under
// way (whoever writes checks the queues again when done). q.mu must be held.
func (q *sendQueue) kickLocked() {
	if q.writerIdle && !q.writing {
		q.writerIdle = false
		signal(q.wake)
	}
}

// close makes the queue take no more frames: the writer flushes what is
// queued and stops.
func (q *sendQueue) close() {
	q.mu.Lock()
	q.closing = true
	q.kickLocked()
	q.mu.Unlock()
}

// batch is what one connection write sends: control frames, then data.
type batch struct {
	bufs, iov   net.Buffers
	hdr         []byte // headers of frames whose payload the batch refers to
	first       int    // bufs[first] is ctrl (if any); a resumed write comes before
	flat        []byte // the batch in one piece, for connections that cannot gather
	ctrl        []byte
	nsegs       int    // bufs[ctrl?1:0 : +nsegs] are segments the queue owns
	data        int    // bytes of the batch counted in sendQueue.buffered
	flushedOpen uint32 // every SYN up to this id is in the batch
}

// takeLocked moves queued frames into b, at most maxBatch bytes of data,
// and marks a write under way. q.mu must be held.
func (q *sendQueue) takeLocked(b *batch) {
	q.writing = true
	b.bufs, b.ctrl, b.nsegs, b.data, b.flushedOpen = b.bufs[:0], q.ctrl, 0, 0, 0
	if b.hdr == nil {
		b.hdr = make([]byte, 0, 64*headerSize)
	}
	b.hdr = b.hdr[:0]
	if len(q.resume) > 0 { // the middle of a frame: before anything else
		b.bufs = append(b.bufs, q.resume)
		b.data += len(q.resume)
		q.resume = nil
	}
	b.first = len(b.bufs)
	if len(q.ctrl) > 0 {
		b.bufs = append(b.bufs, q.ctrl)
		q.ctrl = q.spare[:0]
		q.spare = nil
	}
	n := 0
	for b.nsegs < len(q.segs) && n < maxBatch {
		b.bufs = append(b.bufs, q.segs[b.nsegs])
		n += len(q.segs[b.nsegs])
		b.nsegs++
	}
	b.data += n
	if b.nsegs == len(q.segs) {
		b.flushedOpen = q.openQueued
	}
	rest := copy(q.segs, q.segs[b.nsegs:])
	clear(q.segs[rest:])
	q.segs = q.segs[:rest]
}

// next waits until frames are queued and takes a batch of them into b,
// for the writer goroutine. It returns false once the queue is closing
// and all is written.
func (q *sendQueue) next(b *batch) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.writing || (len(q.ctrl) == 0 && len(q.segs) == 0 && len(q.resume) == 0) {
		if q.closing && !q.writing {
			return false
		}
		q.writerIdle = true
		q.releaseSegmentsLocked()
		q.mu.Unlock()
		<-q.wake
		q.mu.Lock()
	}
	q.takeLocked(b)
	return true
}

// tryWrite sends b with one non-blocking system call (see
// Session.writeInline), sealed first over TLS (q.records): what the kernel
// does not take at once is queued, first of all, for the writer goroutine.
func (q *sendQueue) tryWrite(b *batch) error {
	q.writeSeq.Add(1)
	var n int
	var err error
	var sp *[]byte // sealed records
	var sealed []byte
	if q.records != nil {
		sp, err = q.seal(b, b.bufs)
		if sp != nil {
			sealed = *sp
		}
		if err == nil && len(sealed) > 0 {
			n, err = q.raw.TryWriteOne(sealed)
		}
	} else {
		n, err = q.raw.TryWrite(b.bufs)
	}
	q.writeSeq.Add(1)
	if q.records == nil {
		q.bytesOut.Add(uint64(n)) // (seal counted the bytes it sealed)
	}
	if err != nil {
		return err
	}
	if q.records != nil {
		var rest []byte
		if n < len(sealed) {
			rest = append([]byte(nil), sealed[n:]...)
		}
		q.records.Put(sp)
		if rest == nil {
			return q.records.Release()
		}
		q.mu.Lock()
		q.resume = rest // records stays held until the writer goroutine writes it
		q.buffered += len(rest)
		q.mu.Unlock()
		return nil
	}
	var rest []byte
	for _, p := range b.bufs {
		if n >= len(p) {
			n -= len(p)
			continue
		}
		rest = append(rest, p[n:]...)
		n = 0
	}
	if rest != nil {
		q.mu.Lock()
		q.resume = rest
		q.buffered += len(rest)
		q.mu.Unlock()
	}
	return nil
}

// write sends b on the connection; q.mu must not be held.
func (q *sendQueue) write(b *batch) error {
	if len(b.bufs) == 0 {
		return nil
	}
	q.writeSeq.Add(1)
	var err error
	var n int64
	if q.records != nil {
		err = q.writeSealed(b)
	} else if q.vectored || len(b.bufs) == 1 {
		b.iov = append(b.iov[:0], b.bufs...) // WriteTo consumes its receiver
		n, err = b.iov.WriteTo(q.conn)
		clear(b.iov[:cap(b.iov)])
	} else {
		// A connection that cannot gather (TLS, a pipe) would turn every
		// buffer into a write of its own: a TLS record, a pipe hand-off.
		b.flat = b.flat[:0]
		for _, p := range b.bufs {
			b.flat = append(b.flat, p...)
		}
		var k int
		k, err = q.conn.Write(b.flat)
		n = int64(k)
		if cap(b.flat) > 4*maxBatch {
			b.flat = nil
		}
	}
	q.writeSeq.Add(1)
	if q.records == nil {
		q.bytesOut.Add(uint64(n)) // (seal counted the bytes it sealed)
	}
	return err
}

// seal writes bufs to the TLS connection in one piece, so that its records
// fit the batch rather than each buffer (a frame header would be a record
// of its own), and returns the records, gathered in q.records: the caller
// writes them and gives the buffer back (RecordConn.Put). q.records is
// held from then on; the caller releases it once nothing sealed is left
// to write.
func (q *sendQueue) seal(b *batch, bufs [][]byte) (*[]byte, error) {
	q.records.Hold()
	p := bufs[0]
	if len(bufs) > 1 {
		b.flat = b.flat[:0]
		for _, p := range bufs {
			b.flat = append(b.flat, p...)
		}
		p = b.flat
	}
	n, err := q.conn.Write(p)
	q.bytesOut.Add(uint64(n)) // what the connection (TLS) took, as a session over a plain tls.Conn counts
	if cap(b.flat) > 4*maxBatch {
		b.flat = nil
	}
	return q.records.Take(), err
}

// writeSealed is write for a TLS connection: the records an inline write
// left (q.resume, sealed already) go first, then the batch, sealed in one
// piece, with one blocking write.
func (q *sendQueue) writeSealed(b *batch) error {
	rc := q.records
	if b.first > 0 { // a resumed write: records already
		rc.Hold()
		for _, p := range b.bufs[:b.first] {
			if _, err := rc.Conn.Write(p); err != nil {
				return err
			}
		}
	}
	if len(b.bufs) > b.first {
		sp, err := q.seal(b, b.bufs[b.first:])
		if err == nil && sp != nil {
			_, err = rc.Conn.Write(*sp)
		}
		rc.Put(sp)
		if err != nil {
			return err
		}
	}
	return rc.Release()
}

// finish recycles b's buffers, ends the write and hands what was queued
// meanwhile to the writer goroutine. It returns the streams to wake (with
// wakeSenders) because the send buffer has room again.
func (q *sendQueue) finish(b *batch, err error) (wake []*Stream) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.writing = false
	q.buffered -= b.data
	if len(q.waiters) > 0 && q.buffered <= q.limit/2 {
		wake = q.takeWaitersLocked()
	}
	if err != nil {
		q.closing = true
	} else if b.flushedOpen > q.openFlushed {
		q.openFlushed = b.flushedOpen
	}
	first := b.first
	if len(b.ctrl) > 0 {
		first++
		if q.spare == nil && cap(b.ctrl) <= 64<<10 {
			q.spare = b.ctrl[:0]
		}
	}
	for _, seg := range b.bufs[first : first+b.nsegs] {
		if len(q.free) < maxFree && cap(seg) <= 2*segSize {
			q.free = append(q.free, seg[:0])
		}
	}
	clear(b.bufs[:cap(b.bufs)])
	b.ctrl = nil
	if len(q.ctrl) > 0 || len(q.segs) > 0 || len(q.resume) > 0 || q.closing {
		q.kickLocked()
	}
	return wake
}

// writeLoop is the session's writer goroutine.
func (s *Session) writeLoop() {
	defer close(s.life.writerDone)
	q := &s.sendq
	var b batch
	for q.next(&b) {
		err := q.write(&b)
		if err != nil {
			s.writeFailed(err)
		}
		wakeSenders(q.finish(&b, err))
		if err != nil {
			return
		}
	}
}

// writeInline writes b, which sendQueue.queueData took for an application
// goroutine (see Stream.write), with one non-blocking system call: what
// the kernel does not take at once is queued, first of all, for the
// writer goroutine, so a Write never waits for a congested connection.
func (s *Session) writeInline(b *batch) error {
	q := &s.sendq
	err := q.tryWrite(b)
	if err != nil {
		s.writeFailed(err)
	}
	wakeSenders(q.finish(b, err))
	return err
}
