package mux

import (
	"io"
	"math/bits"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Stream states, as bits: each direction closes on its own.
const (
	stLocalFIN  uint8 = 1 << iota // our write side is done: FIN queued, or reset
	stRemoteFIN                   // the peer's write side is done: FIN received, or reset
	stClosed                      // Close was called: our read side is closed too
	stRemoved                     // no longer in the session's stream table
	stAcked                       // a stream we opened: the peer accepted or refused it
)

// chunk is the payload of one received DATA frame, not yet fully read.
type chunk struct {
	b      []byte
	off    int    // b[off:] is unread
	sl     *slab  // b was cut from this slab (see slab.go)
	cost   uint32 // credit returned once the chunk is consumed
	eom    bool   // the chunk ends a message
	pooled bool   // b came from the payload pool
	direct bool   // b is a leading Read's buffer (see frameReader.lead)
}

// Stream is one bidirectional stream of a Session. It is a net.Conn, and
// also a message stream (Send and Recv). All methods are safe for
// concurrent use; concurrent Reads, or concurrent Recvs, each receive
// distinct data.
type Stream struct {
	sess *Session

	wlock sync.Mutex // held by the one Write or Send under way
	mu    sync.Mutex // guards the rest but the fields other locks guard
	err   error      // why the stream was reset; nil if it was not

	rq      chunkQueue // received, unread chunks
	partial []byte     // the message Recv has assembled so far
	flow    streamFlow // credit, both ways (see flow.go)

	readCh, writeCh chan struct{} // wake waiters; made on first wait
	rdl, wdl        *deadline     // made on first SetDeadline
	sp              *splice       // set once by Splice (see splice.go)

	id       uint32
	recycle  atomic.Bool // read with Read or RecvInto: small payloads come from the pool too (see pool.go)
	state    uint8
	class    uint8  // flagClass if the stream is of the session's class, else 0: set at open
	queued   bool   // in the session's accept queue; guarded by streamTable.mu
	lingers  bool   // closed, waiting for the peer's FIN (see closewait.go); guarded by streamTable.mu
	sendWait bool   // in the send queue's waiters; guarded by sendQueue.mu
	rqShift  uint8  // rq's slots charged to the session's queueKept: 1<<rqShift, none if 0 (see kept); a shift, so that Stream fits 176 B
	waiters  uint16 // goroutines blocked in wait: tests watch it to know that a call waits
}

// newStream makes a stream of class (flagClass or 0) and charges its
// window to the budget of the session, or of the class.
func newStream(s *Session, id uint32, class uint8, sendCredit uint32) *Stream {
	return &Stream{sess: s, id: id, class: class, flow: s.pool(class).newStream(sendCredit)}
}

// Class reports whether the stream is of the session's class (see
// Session.OpenClassStream).
func (st *Stream) Class() bool { return st.class != 0 }

// ID returns the stream id: odd for streams the client opened, even for the server's.
func (st *Stream) ID() uint32 { return st.id }

// Session returns the session the stream belongs to.
func (st *Stream) Session() *Session { return st.sess }

// LocalAddr returns the local address of the session's connection.
func (st *Stream) LocalAddr() net.Addr { return st.sess.localAddr }

// RemoteAddr returns the remote address of the session's connection.
func (st *Stream) RemoteAddr() net.Addr { return st.sess.remoteAddr }

// waitCh returns *ch, making it on first use. st.mu must be held.
func waitCh(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{}, 1)
	}
	return *ch
}

// wait blocks until ch is signalled, dl is closed or the session ends.
// st.mu must be held; it is released while waiting and held again on return.
func (st *Stream) wait(ch chan struct{}, dl <-chan struct{}) {
	st.waiters++
	st.mu.Unlock()
	select {
	case <-ch:
	case <-dl:
	case <-st.sess.life.done:
	}
	st.mu.Lock()
	st.waiters--
}

// signal wakes one waiter of ch, a channel with a buffer of one, without
// blocking. Waiters that find their condition still true pass the signal on,
// so one slot serves any number of them.
func signal(ch chan struct{}) {
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Read reads data of the stream, ignoring message boundaries. After the
// peer's CloseWrite or Close and once all data is read, it returns io.EOF.
func (st *Stream) Read(p []byte) (int, error) {
	if !st.recycle.Load() {
		st.recycle.Store(true)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	follow := false // the last lead handed data to another reader: let it lead
	for {
		if st.state&stClosed != 0 {
			signal(st.readCh)
			return 0, ErrStreamClosed
		}
		if len(st.partial) > 0 && len(p) > 0 { // left by a Recv that timed out
			n := copy(p, st.partial)
			st.partial = st.partial[n:]
			if len(st.partial) == 0 {
				st.partial = nil
			}
			return n, nil
		}
		if st.rq.len() > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			return st.readLocked(p), nil
		}
		if err := st.readErrLocked(); err != nil {
			signal(st.readCh)
			return 0, err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if st.rdl.exceeded() {
			signal(st.readCh)
			return 0, errTimeout
		}
		following := false
		if !follow {
			var led bool
			if led, following = st.sess.rd.leadOrFollow(st); led {
				into := p
				if st.sp != nil {
					into = nil // a spliced stream's data goes to its splice
				}
				st.mu.Unlock()
				var n int
				n, follow = st.sess.lead(st, into)
				st.mu.Lock()
				if n > 0 {
					if st.rq.len() > 0 {
						// The same read queued more of st: deliver left waking
						// readers to the leader, which returns without it.
						signal(st.readCh)
					}
					return n, nil // read straight into p
				}
				continue
			}
		} else {
			following = st.sess.rd.needReader()
		}
		st.wait(waitCh(&st.readCh), st.rdl.wait())
		if following {
			st.sess.rd.unfollow()
		}
		follow = false
	}
}

// Buffered returns how many bytes were received on the stream and not yet
// read: a Read would return at least that much without waiting.
func (st *Stream) Buffered() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := len(st.partial)
	for i := range st.rq.len() {
		c := st.rq.at(i)
		n += len(c.b) - c.off
	}
	return n
}

// Peek copies into p the start of the data received on the stream and not
// yet read, up to len(p) bytes, without consuming it, and returns how many
// bytes it copied. It never waits: with nothing buffered it returns 0.
func (st *Stream) Peek(p []byte) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := copy(p, st.partial)
	for i := 0; i < st.rq.len() && n < len(p); i++ {
		c := st.rq.at(i)
		n += copy(p[n:], c.b[c.off:])
	}
	return n
}

// readLocked copies buffered data into p and returns the credit of the
// chunks it used up.
func (st *Stream) readLocked(p []byte) int {
	n := 0
	var credit uint32
	for n < len(p) && st.rq.len() > 0 {
		c := st.rq.front()
		k := copy(p[n:], c.b[c.off:])
		n += k
		c.off += k
		if c.off == len(c.b) {
			credit += c.cost
			c.release()
			st.popChunk()
		}
	}
	if st.rq.len() > 0 {
		signal(st.readCh)
	}
	st.consumedLocked(credit)
	return n
}

// Recv returns the next whole message. A message whose sender used Write
// rather than Send ends where the sender's stream ends. It returns io.EOF
// at the end of the stream, io.ErrUnexpectedEOF if the stream ends within a
// message, and a *StreamError that is ErrMessageTooLarge (and the stream is
// reset) if the message exceeds Config.MaxMessageSize. The returned slice
// belongs to the caller.
func (st *Stream) Recv() ([]byte, error) { return st.recv(nil, false) }

// RecvInto is Recv into the caller's buffer: it returns the next whole
// message as append(buf[:0], message...), so in buf itself when it is
// large enough. The buffer the message was received in goes back to the
// session's pool, so a caller that hands its buffer back each time (buf,
// err = st.RecvInto(buf)) receives without allocating. Errors are Recv's;
// on an error the returned slice is buf[:0].
func (st *Stream) RecvInto(buf []byte) ([]byte, error) {
	if !st.recycle.Load() {
		st.recycle.Store(true)
	}
	return st.recv(buf[:0], true)
}

// recv is Recv, or RecvInto (into set) appending to dst.
func (st *Stream) recv(dst []byte, into bool) ([]byte, error) {
	s := st.sess
	st.mu.Lock()
	defer st.mu.Unlock()
	follow := false // the last lead handed data to another reader: let it lead
	for {
		if st.state&stClosed != 0 {
			signal(st.readCh)
			return dst, ErrStreamClosed
		}
		for st.rq.len() > 0 {
			c := st.rq.front()
			if len(st.partial)+len(c.b)-c.off > s.cfg.MaxMessageSize {
				return dst, st.abortLocked(CodeMessageTooLarge, false)
			}
			if c.eom && len(st.partial) == 0 { // the common case: one frame, one message
				msg := c.b[c.off:len(c.b):len(c.b)]
				switch {
				case into:
					msg = append(dst, msg...)
					c.release()
				case (c.pooled || c.sl != nil) && cap(c.b) < poolMin:
					msg = append([]byte(nil), msg...) // exactly its size: the caller keeps it
					c.release()
				}
				cost := c.cost
				st.popChunk()
				if st.rq.len() > 0 {
					signal(st.readCh)
				}
				st.consumedLocked(cost)
				return msg, nil
			}
			st.partial = append(st.partial, c.b[c.off:]...)
			cost, eom := c.cost, c.eom
			c.release()
			st.popChunk()
			st.consumedLocked(cost)
			if eom {
				msg := st.partial
				st.partial = nil
				if into {
					msg = append(dst, msg...)
				}
				if st.rq.len() > 0 {
					signal(st.readCh)
				}
				return msg, nil
			}
		}
		if err := st.readErrLocked(); err != nil {
			signal(st.readCh)
			if err == io.EOF && len(st.partial) > 0 {
				st.partial = nil
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
		if st.rdl.exceeded() {
			signal(st.readCh)
			return dst, errTimeout
		}
		following := false
		if !follow {
			var led bool
			if led, following = s.rd.leadOrFollow(st); led {
				st.mu.Unlock()
				_, follow = s.lead(st, nil)
				st.mu.Lock()
				continue
			}
		} else {
			following = s.rd.needReader()
		}
		st.wait(waitCh(&st.readCh), st.rdl.wait())
		if following {
			s.rd.unfollow()
		}
		follow = false
	}
}

// readErrLocked returns why nothing more can be read once the buffer is
// empty, or nil.
func (st *Stream) readErrLocked() error {
	switch {
	case st.err != nil:
		return st.err
	case st.state&stRemoteFIN != 0:
		return io.EOF
	case st.sess.isClosed():
		return st.sess.closedErr()
	}
	return nil
}

// receive takes the payload c of a DATA frame for st, as the reader
// hands it over (Session.deliver); fin says that the frame ends the peer's
// side. The payload is queued for the stream's reader, or its splice sp,
// which the reader then pumps; or it was read straight into the buffer of
// a leading Read (c.direct), and receive reports it as direct, consumed
// already; or it is dropped. woke reports whether a waiting Read was woken
// for it: not if the Read that leads is st's (leader), which sees it.
func (st *Stream) receive(c chunk, fin bool, leader *Stream) (sp *splice, direct, woke bool, err error) {
	st.mu.Lock()
	if !st.flow.received(c.cost) {
		credit := st.flow.recv
		st.mu.Unlock()
		c.release()
		return nil, false, false, protoErr("peer exceeded the window of stream %d (%d > %d)", st.id, c.cost, credit)
	}
	st.ackedLocked() // if it is ours: the peer sends on it, so it accepted it
	var consumed uint32
	switch {
	case st.state&stRemoved != 0 || st.state&stRemoteFIN != 0:
		// Over (reset), or data after the peer's FIN: drop it.
		c.release()
		consumed = c.cost
		if st.state&stRemoved == 0 {
			st.mu.Unlock()
			return nil, false, false, protoErr("DATA on stream %d after its FIN", st.id)
		}
	case st.state&stClosed != 0:
		// We closed the stream and the peer still sends: reset it, as TCP does.
		c.release()
		consumed = c.cost
		if c.cost > 0 {
			st.abortLocked(CodeCancel, false)
		}
	case c.direct && st.sp != nil:
		// Spliced while its Read led: the data is the splice's to forward.
		b, pooled := getPayload(len(c.b), true)
		copy(b, c.b)
		c.b, c.pooled, c.direct = b, pooled, false
		st.rq.push(c)
	case c.direct: // read into the leading Read's buffer: consumed already
		direct = true
		consumed = c.cost // returned once a FIN in the same frame is seen
	case c.cost > 0:
		st.rq.push(c)
		if st.readCh != nil && len(st.readCh) == 0 && st != leader {
			// A Read waits for it (the leader, if it is st's, will see it).
			signal(st.readCh)
			woke = true
		}
	}
	if fin && st.state&stRemoteFIN == 0 {
		st.state |= stRemoteFIN
		signal(st.readCh)
		st.removeIfDoneLocked()
	}
	st.consumedLocked(consumed) // after the FIN: no stream credit for a stream the peer ended
	sp = st.sp
	st.mu.Unlock()
	return sp, direct, woke, nil
}

// popChunk removes the first chunk of the receive queue.
func (st *Stream) popChunk() {
	if st.rq.pop(); st.rq.len() == 0 {
		st.trimQueue()
	}
}

// trimQueue decides, as the receive queue drains, whether it keeps its
// slots: idleQueue of them always, more while the drained queues of the
// session keep no more than the session window's worth of memory
// together (readSide.queueBudget). So a busy stream of small messages does
// not grow its queue again after each burst, and a peer that fills many
// streams once leaves little behind (TestDrainedQueuesBounded). A stream
// that is over keeps nothing, nor does a spliced one: its splice forwards
// what comes as it comes, and a relay holds thousands of them, mostly
// idle. st.mu must be held.
func (st *Stream) trimQueue() {
	q := &st.rq
	n := int64(len(q.buf))
	if st.sp != nil {
		st.unchargeQueue()
		q.release()
		return
	}
	if n <= idleQueue && st.rqShift == 0 {
		return
	}
	r := &st.sess.rd
	if st.state&stRemoved == 0 && n > idleQueue {
		d := n - st.kept()
		if d == 0 || r.queueKept.Add(d) <= r.queueBudget {
			st.rqShift = uint8(bits.TrailingZeros64(uint64(n))) // n, a power of two, > idleQueue
			return
		}
		r.queueKept.Add(-d)
	}
	st.unchargeQueue()
	if n > idleQueue {
		q.buf = nil
	}
}

// kept returns how many of the receive queue's slots are charged to the
// session's queueKept: 0, or the ring's length when it was charged, a
// power of two above idleQueue. st.mu must be held.
func (st *Stream) kept() int64 {
	if st.rqShift == 0 {
		return 0
	}
	return 1 << st.rqShift
}

// unchargeQueue gives back what the receive queue's slots took of the
// session's budget. st.mu must be held.
func (st *Stream) unchargeQueue() {
	if c := st.kept(); c > 0 {
		st.sess.rd.queueKept.Add(-c)
		st.rqShift = 0
	}
}

// discardLocked drops all unread data and returns its credit.
func (st *Stream) discardLocked() uint32 {
	var credit uint32
	for i := range st.rq.len() {
		c := st.rq.at(i)
		credit += c.cost
		c.release()
	}
	st.unchargeQueue()
	st.rq = chunkQueue{}
	st.partial = nil
	return credit
}

// Write writes p as stream data, without message boundaries. It returns once
// p is queued for the connection; the data is then delivered in order unless
// the stream is reset or the session fails. It blocks while the peer's
// credit is exhausted, until the write deadline.
func (st *Stream) Write(p []byte) (int, error) { return st.write(p, false) }

// Send queues p as one message and returns; the caller may reuse p at once.
// It blocks only while the peer's credit is exhausted, until the write
// deadline. A message longer than the frame size is split and joined again
// by Recv.
func (st *Stream) Send(p []byte) error {
	_, err := st.write(p, true)
	return err
}

func (st *Stream) write(p []byte, eom bool) (int, error) {
	// One writer at a time, so that messages, and the frames of one Write,
	// are never interleaved with another's while waiting for credit.
	st.wlock.Lock()
	defer st.wlock.Unlock()
	s := st.sess
	n := 0
	st.mu.Lock()
	defer st.mu.Unlock()
	for {
		if err := st.writeErrLocked(); err != nil {
			signal(st.writeCh)
			return n, err
		}
		if len(p) == 0 && !eom {
			return 0, nil
		}
		if st.wdl.exceeded() {
			signal(st.writeCh)
			return n, errTimeout
		}
		b, done := s.sendq.queueData(st, p, &n, eom, !eom)
		if b != nil {
			// The connection was idle: b holds frames of p, which we write
			// ourselves, with no hand-off to the writer goroutine and no copy.
			st.mu.Unlock()
			err := s.writeInline(b)
			st.mu.Lock()
			if done && err == nil {
				return n, nil
			}
			continue
		}
		if done {
			return n, nil
		}
		counted := s.rd.needReader()
		st.wait(waitCh(&st.writeCh), st.wdl.wait())
		s.rd.doneWaiting(counted)
	}
}

// writeErrLocked returns why the stream cannot be written, or nil.
func (st *Stream) writeErrLocked() error {
	switch {
	case st.err != nil:
		return st.err
	case st.state&(stClosed|stLocalFIN) != 0:
		return ErrStreamClosed
	case st.sess.isClosed():
		return st.sess.closedErr()
	}
	if werr := st.sess.life.werr.Load(); werr != nil {
		return &sessionError{cause: *werr}
	}
	return nil
}

// CloseWrite ends the write direction, as (*net.TCPConn).CloseWrite does:
// data written before it is delivered, then the peer reads io.EOF. The
// stream can still be read.
func (st *Stream) CloseWrite() error {
	st.mu.Lock()
	if st.err != nil || st.state&stLocalFIN != 0 {
		st.mu.Unlock()
		return nil
	}
	st.state |= stLocalFIN
	st.sess.sendq.queueFIN(st.id, st.class)
	signal(st.writeCh)
	st.removeIfDoneLocked()
	st.mu.Unlock()
	return nil
}

// Close closes both directions. Data written before Close is delivered,
// then the peer reads io.EOF; unread data is discarded, and data the peer
// sends after Close makes the stream reset, as TCP does. Pending Reads and
// Writes return ErrStreamClosed. Close never blocks. A peer that never
// closes its end gets the stream reset after Config.StreamCloseTimeout.
func (st *Stream) Close() error {
	st.mu.Lock()
	if st.state&stClosed != 0 {
		st.mu.Unlock()
		return nil
	}
	s := st.sess
	st.state |= stClosed
	credit := st.discardLocked()
	st.flow.leave(st.pool()) // it buffers nothing more: its window leaves the budget
	fin := st.err == nil && st.state&stLocalFIN == 0
	st.state |= stLocalFIN
	st.rdl.stop()
	st.wdl.stop()
	signal(st.readCh)
	signal(st.writeCh)
	if !st.removeIfDoneLocked() && st.state&stRemoved == 0 {
		s.closeWaitLocked(st)
	}
	if fin {
		s.sendq.queueFIN(st.id, st.class)
	}
	st.mu.Unlock()
	s.rd.interrupt(st, aLongTimeAgo)
	s.returnCredit(credit, st.class)
	return nil
}

// removeIfDoneLocked removes the stream once both directions are done and
// reports whether it did.
func (st *Stream) removeIfDoneLocked() bool {
	if st.state&stRemoved != 0 || st.state&(stLocalFIN|stRemoteFIN) != stLocalFIN|stRemoteFIN {
		return false
	}
	st.removeLocked()
	return true
}

// removeLocked takes the stream out of the session once: out of the stream
// table and the accept queue, its window back to the session's budget.
// Nothing waits on a stream that is over (its Reads and Writes return at
// once), so its deadlines keep no timer: none keeps the stream, and its
// session, alive. st.mu must be held.
func (st *Stream) removeLocked() {
	if st.state&stRemoved != 0 {
		return
	}
	s := st.sess
	s.table.remove(st)
	st.state |= stRemoved
	st.flow.leave(st.pool())
	st.rdl.stop()
	st.wdl.stop()
	st.unchargeQueue() // over: its queue keeps nothing once drained
	if st.rq.len() == 0 {
		st.trimQueue()
	}
}

// Reset aborts the stream in both directions and sends code to the peer,
// whose Reads and Writes then fail with a *StreamError carrying the code
// (errors.Is(err, ErrStreamReset)). Unsent and unread data is discarded.
func (st *Stream) Reset(code ErrorCode) error {
	st.mu.Lock()
	st.abortLocked(code, false)
	sp := st.sp
	st.mu.Unlock()
	st.sess.rd.interrupt(st, aLongTimeAgo)
	if sp != nil {
		sp.pump(st) // the stream spliced to it is reset too
	}
	return nil
}

// abortLocked is the one way a stream is reset, by either side: unread
// data is discarded and its credit returned, waiters are woken, the stream
// leaves the session, and a local reset sends a RESET with code to the
// peer (after the data queued before Close, if the stream was closed, so
// that the peer still gets it). It returns the stream's error. st.mu must
// be held.
func (st *Stream) abortLocked(code ErrorCode, remote bool) error {
	if st.err != nil {
		return st.err
	}
	s := st.sess
	reset := !remote && st.state&stRemoved == 0
	afterData := st.state&stClosed != 0
	st.err = &StreamError{StreamID: st.id, Code: code, Remote: remote}
	st.state |= stLocalFIN | stRemoteFIN
	credit := st.discardLocked()
	signal(st.readCh)
	signal(st.writeCh)
	st.ackedLocked() // the peer drops it from its accept queue
	st.removeLocked()
	credit = st.pool().freed(credit)
	if reset {
		s.sendq.queueReset(st.id, code, afterData, credit, st.class)
	} else {
		s.sendq.queueWindows(credit, st.class, 0, 0)
	}
	return st.err
}

// SetDeadline sets the read and write deadlines.
func (st *Stream) SetDeadline(t time.Time) error {
	st.SetReadDeadline(t)
	return st.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for Read and Recv, pending ones too. A
// zero t means none. Past the deadline they fail with an error that is
// os.ErrDeadlineExceeded and a net.Error whose Timeout is true.
func (st *Stream) SetReadDeadline(t time.Time) error {
	st.setDeadline(&st.rdl, &st.readCh, t)
	st.sess.rd.interrupt(st, t) // a Read that leads waits on the connection's deadline
	return nil
}

// SetWriteDeadline sets the deadline for Write and Send, pending ones too.
// A zero t means none. A Write that finds its deadline passed queues nothing.
func (st *Stream) SetWriteDeadline(t time.Time) error {
	st.setDeadline(&st.wdl, &st.writeCh, t)
	return nil
}

// setDeadline sets *d to t and wakes the waiters of *ch to see it.
func (st *Stream) setDeadline(d **deadline, ch *chan struct{}, t time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if *d == nil {
		if t.IsZero() {
			return
		}
		*d = new(deadline)
	}
	dl := *d
	dl.set(t, &st.mu)
	if t.IsZero() {
		*d = nil // a stream that set a deadline once (a relay's setup) keeps nothing
	} else if st.state&stRemoved != 0 {
		dl.stop() // over: nothing waits (see removeLocked)
	}
	signal(*ch)
}
