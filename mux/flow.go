package mux

import (
	"sync/atomic"
	"time"
)

// Flow control, both ways, and all of its policy: what a frame costs, how
// a stream's window grows and shrinks, when credit goes back to the peer.
// sessionFlow and streamFlow hold the credit and decide; they know nothing
// of connections, locks or frames, so flow_test.go drives them alone. The
// few functions at the end of the file apply their decisions to a session.
//
// Receiving. The peer may send on a stream as much as the stream's credit
// allows and on the session as much as the session's credit allows
// (dataTarget, Stream.receive charge a DATA frame to both). Credit comes
// back as the application consumes: Read, Recv, a splice forwarding, or
// data dropped (Stream.consumedLocked, Session.returnCredit) gives it to
// sessionFlow.freed and streamFlow.consumed, which say when a WINDOW is
// due and how large; the send queue then sends it ahead of data. The
// session window caps the memory the peer can make us hold.
//
// Stream windows tune themselves (streamFlow.resize) within a budget: they
// grow only while the windows of all streams together, initial windows
// included, stay within half the session window, and a grown window
// shrinks back as its reader consumes while the session is over budget.
// Every byte a stream buffers is within its window, so streams that nobody
// reads hold at most half the session window plus the initial windows of
// the streams opened once the budget was used up: with the defaults, 64
// streams left unread, grown or not, leave at least 4 MiB of the 16 MiB
// session window to the streams being read. And when little session
// credit is left, what readers consume is returned sooner
// (sessionFlow.freed), so that a stream being read never waits for a
// batch.
//
// Sending. We hold the credit the peer granted, for the session and for
// each stream; a DATA frame spends the same amount of both
// (streamFlow.spend), and the peer's WINDOW frames grant more
// (Session.handleWindow), which wakes the writers waiting for it.
//
// Classes. A session with a class window (Config.ClassWindow) keeps a
// second sessionFlow, Session.cflow, for its class streams: their data is
// charged to it instead of the session's credit, their windows grow
// within its budget, and its credit goes back in WINDOW frames of its own
// (stream 0, flagClass). The same policy applies to both; each stream
// draws on one (Stream.pool), so that streams of one class that nobody
// reads hold that class's credit and never the other's.

// frameOverhead is what a DATA frame that carries a payload or ends a
// message costs in credit on top of its payload: the receiver's
// bookkeeping for a buffered chunk. It keeps a flood of tiny frames from
// making the receiver hold far more memory than its windows.
const frameOverhead = 32

// dataCost is the credit a DATA frame consumes.
func dataCost(length uint32, flags uint8) uint32 {
	if length == 0 && flags&flagEOM == 0 {
		return 0
	}
	return length + frameOverhead
}

const (
	// growPeriod: a stream whose reader consumes a quarter of its window
	// faster than this gets a larger window.
	growPeriod = time.Millisecond
	// shrinkPeriod: a stream whose reader takes longer than this for a
	// quarter of its window, while the peer leaves most of its credit
	// unused, gets a smaller one.
	shrinkPeriod = 100 * time.Millisecond
)

// sessionFlow is the credit of a whole session, both ways. used, unacked
// and window, which every frame received and every read touches, from
// the reader and the application's goroutines, come first and share a
// cache line (the first of the Session, see there): spread over two lines,
// they cost the receive path of small messages a quarter more.
type sessionFlow struct {
	// Receiving.
	used         atomic.Int64  // credit the peer spent that we have not returned
	unacked      atomic.Uint32 // credit consumed, not yet returned in a WINDOW
	window       uint32        // Config.SessionWindow
	windows      atomic.Int64  // the receive windows of all streams together
	budget       int64         // what windows may add up to by growing: half the session window
	streamWindow uint32        // Config.StreamWindow: a stream's first window, and the least it shrinks to
	maxWindow    uint32        // the largest a stream's receive window grows to

	// Sending, guarded by sendQueue.mu.
	send int64 // session credit we hold

	class bool // the flow of the session's class (Session.cflow)
}

// init sets the flow of a new session: the receive windows that c
// configures, and the send credit that every peer grants before its
// preface says more.
func (f *sessionFlow) init(c *Config) {
	f.window, f.streamWindow = c.SessionWindow, c.StreamWindow
	f.maxWindow = max(c.StreamWindow, c.SessionWindow/4)
	f.budget = int64(c.SessionWindow) / 2
	f.send = minSessionWindow
}

// initClass sets the flow of a session's class: the same policy as the
// session's within Config.ClassWindow, and no send credit until the
// peer's preface announces its class window.
func (f *sessionFlow) initClass(c *Config) {
	f.window, f.streamWindow = c.ClassWindow, c.StreamWindow
	f.maxWindow = max(c.StreamWindow, c.ClassWindow/4)
	f.budget = int64(c.ClassWindow) / 2
	f.class = true
}

// newStream returns the flow of a new stream, whose initial window is
// charged to the budget; send is the credit the peer grants every stream.
func (f *sessionFlow) newStream(send uint32) streamFlow {
	f.windows.Add(int64(f.streamWindow))
	return streamFlow{send: send, recv: f.streamWindow, window: f.streamWindow}
}

// charge charges a DATA frame that costs cost to the session (or the
// class). It fails if the peer has sent more than the window.
func (f *sessionFlow) charge(cost uint32) error {
	if used := f.used.Add(int64(cost)); used > int64(f.window) {
		if f.class {
			return protoErr("peer exceeded the class window (%d > %d)", used, f.window)
		}
		return protoErr("peer exceeded the session window (%d > %d)", used, f.window)
	}
	return nil
}

// consumed takes back n of the session's credit, consumed or dropped, and
// returns what is to go back to the peer now in a WINDOW, or 0. Credit
// goes back in batches of an eighth of the session window, or of a
// sixty-fourth once the peer holds less than half of its credit, so that
// streams being read do not wait for a batch that unread streams keep
// from filling.
func (f *sessionFlow) freed(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	batch := f.window / 8
	if f.used.Load() >= int64(f.window/2) {
		batch = f.window / 64
	}
	if f.unacked.Add(n) < batch {
		return 0
	}
	inc := f.unacked.Swap(0)
	f.used.Add(-int64(inc))
	return inc
}

// takeBudget takes up to n bytes of window growth from the budget and
// returns how much it took.
func (f *sessionFlow) takeBudget(n uint32) uint32 {
	for {
		cur := f.windows.Load()
		room := f.budget - cur
		if room <= 0 {
			return 0
		}
		take := min(int64(n), room)
		if f.windows.CompareAndSwap(cur, cur+take) {
			return uint32(take)
		}
	}
}

// granted adds the increment of a WINDOW for the session to its send
// credit, and reports whether the credit stays within the protocol's
// bound. sendQueue.mu must be held.
func (f *sessionFlow) grant(inc uint32) bool {
	f.send += int64(inc)
	return f.send <= maxWindow
}

// streamFlow is the credit of one stream, both ways. Its stream's mu
// guards it.
type streamFlow struct {
	updatedAt int64  // unix nanoseconds of the last WINDOW sent
	send      uint32 // credit we hold (at most maxWindow)
	recv      uint32 // credit the peer still holds
	unacked   uint32 // credit consumed, not yet returned in a WINDOW
	window    uint32 // receive window: streamWindow, grown while the stream is fast; 0 once it left the budget
}

// received charges a DATA frame that costs cost to the stream, and reports
// whether the peer had the credit for it.
func (sf *streamFlow) received(cost uint32) bool {
	if cost > sf.recv {
		return false
	}
	sf.recv -= cost
	return true
}

// consumed takes back n of the stream's credit, consumed by its reader, and
// returns what is to go back to the peer now in a WINDOW, or 0: credit
// goes back once a quarter of the window is consumed, resized (resize).
func (sf *streamFlow) consumed(f *sessionFlow, n uint32) uint32 {
	sf.unacked += n
	if sf.unacked < sf.window/4 {
		return 0
	}
	inc := sf.resize(f, time.Now().UnixNano())
	sf.recv += inc
	return inc
}

// resize is called, at now, when the reader has consumed a quarter of the
// window. It resizes the window and returns the credit to grant: what was
// consumed, plus what the window grew by, or minus what it shrank by.
//
// The window doubles, up to maxWindow and within the session's budget,
// when the peer had used more than half of its credit by the time the
// reader consumed the quarter (the window limits the stream: a long or
// fast path), or when that quarter took less than growPeriod (the updates
// themselves cost more than they need to). It halves, down to
// streamWindow, when the session is over budget (streams opened since it
// grew have their initial windows too), or when the quarter took longer
// than shrinkPeriod and the peer left more than half of its credit unused:
// the window is larger than the stream needs, and what it gives back lets
// another grow. A stream that is not read returns no credit and never
// grows.
func (sf *streamFlow) resize(f *sessionFlow, now int64) uint32 {
	inc := sf.unacked
	sf.unacked = 0
	took := time.Duration(now - sf.updatedAt)
	sf.updatedAt = now
	over := f.windows.Load() > f.budget
	switch {
	case sf.window > f.streamWindow &&
		(over || took > shrinkPeriod && sf.recv >= sf.window/2):
		shrink := min(sf.window-max(sf.window/2, f.streamWindow), inc/2)
		sf.window -= shrink
		f.windows.Add(-int64(shrink))
		inc -= shrink
	case !over && sf.window < f.maxWindow && (took < growPeriod || sf.recv < sf.window/2):
		grow := f.takeBudget(min(sf.window, f.maxWindow-sf.window))
		sf.window += grow
		inc += grow
	}
	return inc
}

// leave takes the window out of the session's budget, once: the stream
// buffers nothing more (closed, or over).
func (sf *streamFlow) leave(f *sessionFlow) {
	f.windows.Add(-int64(sf.window))
	sf.window = 0
}

// canSend reports whether the stream and the session hold credit for more
// than an empty frame. sendQueue.mu must be held.
func (sf *streamFlow) canSend(f *sessionFlow) bool {
	return min(int64(sf.send), f.send) > frameOverhead
}

// spend takes the credit of the next DATA frame of a stream, of up to size
// bytes, ending a message if end, from the stream and the session. The
// frame carries n bytes, what the credit allows, and ends the message
// only if it carries all size of them. If the credit does not allow a
// frame, ok is false, and sessionBound tells whether the session's credit,
// rather than the stream's, is what ran out. sendQueue.mu must be held.
func (sf *streamFlow) spend(f *sessionFlow, size int, end bool) (n int, flags uint8, ok, sessionBound bool) {
	if end {
		flags = flagEOM
	}
	cost := int64(dataCost(uint32(size), flags))
	avail := min(int64(sf.send), f.send)
	if cost > avail {
		if avail <= frameOverhead || size == 0 {
			return 0, 0, false, f.send < int64(sf.send)
		}
		size, flags, cost = int(avail-frameOverhead), 0, avail
	}
	sf.send -= uint32(cost)
	f.send -= cost
	return size, flags, true, false
}

// granted adds the increment of a WINDOW for the stream to its send
// credit, and reports whether the credit stays within the protocol's
// bound; if not, it is left as it was.
func (sf *streamFlow) granted(inc uint32) bool {
	if uint64(sf.send)+uint64(inc) > maxWindow {
		return false
	}
	sf.send += inc
	return true
}

// consumedLocked returns the credit of data the application consumed, or
// that was dropped: to the session at once, to the stream (unless the
// peer sends on it no more) in batches of a quarter window, resizing the
// window as streamFlow.resize decides. st.mu must be held.
func (st *Stream) consumedLocked(credit uint32) {
	if credit == 0 {
		return
	}
	f := st.pool()
	session := f.freed(credit)
	var stream uint32
	if st.state&(stRemoteFIN|stRemoved) == 0 {
		stream = st.flow.consumed(f, credit)
	}
	st.sess.sendq.queueWindows(session, st.class, st.id, stream)
}

// pool returns the session-level credit that streams of class draw on:
// the session's, or with flagClass the class's.
func (s *Session) pool(class uint8) *sessionFlow {
	if class != 0 {
		return &s.cflow
	}
	return &s.flow
}

// pool returns the session-level credit the stream draws on.
func (st *Stream) pool() *sessionFlow { return st.sess.pool(st.class) }

// returnCredit returns session (or class) credit of data consumed or
// dropped that no stream is to be credited for.
func (s *Session) returnCredit(n uint32, class uint8) {
	s.sendq.queueWindows(s.pool(class).freed(n), class, 0, 0)
}

// handleWindow takes a WINDOW frame: credit the peer grants for a stream,
// or for the session (id 0; with flagClass, for the class), which wakes
// what waits to send; with flagACK it also says that the peer accepted a
// stream we opened.
func (s *Session) handleWindow(id uint32, flags uint8, inc uint32) error {
	if inc == 0 && flags&flagACK == 0 {
		return protoErr("WINDOW of 0 on stream %d", id)
	}
	if id == 0 {
		class := flags & flagClass
		if class != 0 && s.cfg.ClassWindow == 0 {
			return protoErr("class WINDOW on a session without a class")
		}
		q := &s.sendq
		q.mu.Lock()
		ok := s.pool(class).grant(inc)
		waiters := q.takeWaitersLocked()
		q.mu.Unlock()
		if !ok {
			return protoErr("session window overflow")
		}
		wakeSenders(waiters)
		return nil
	}
	st, err := s.lookup(id)
	if st == nil {
		return err
	}
	st.mu.Lock()
	if flags&flagACK != 0 {
		st.ackedLocked()
	}
	ok := st.flow.granted(inc)
	signal(st.writeCh)
	sp := st.sp
	st.mu.Unlock()
	if !ok {
		return protoErr("window overflow on stream %d", id)
	}
	if sp != nil && inc > 0 {
		sp.pumpTo(st)
	}
	return nil
}
