package mux

import (
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/plexusnet/plexus/internal/fastio"
)

// Leaders. At most one goroutine reads the connection: the session's
// reader goroutine, or a *leader*, an application goroutine blocked in Read
// or Recv that reads the connection itself for every stream, so that the
// network poller wakes it directly when data arrives. The right to read is
// a fastio.Token, which also runs the grace period that lets a
// request-response caller lead again before the reader goroutine takes
// the connection back.
//
// A leader's stream deadline is the connection's read deadline; Close and
// Reset of its stream, or a new deadline, interrupt it through that
// deadline. Leaders need a connection with SetReadDeadline (every net.Conn);
// on others the reader goroutine does all the reading.

// graceTime is how long the token waits for a leader after data was handed
// over, before the reader goroutine takes it back: the longest that frames
// nobody waits for wait after the last leader went away (a caller that
// waits for a frame without leading ends the grace period: needReader). It was 50 µs; then
// the grace timer fired about every 50 µs while a round trip ran, and each
// firing woke the network poller, which cost about 15 % of the round
// trip's CPU time, and a caller that a busy machine kept from coming back
// within 50 µs lost the lead to the reader goroutine (a hand-off across
// CPUs). 500 µs is within the range socket pipes use for the same role
// (freeWatchMin..freeWatchMax).
const graceTime = 500 * time.Microsecond

// idleGraceTime is the grace period when nobody waits for another's read
// (a Read or Recv while another leads, a writer waiting for credit,
// AcceptStream, OpenStream, Ping: leadOrFollow and needReader count them)
// and the session has no splice. Only frames nobody waits for yet wait
// this long at most: a peer's ping (so the peer's Session.Ping may measure
// up to this much more than the round trip), or a FIN, RESET or GOAWAY
// that only a watcher of Session.Done would see. A session with a pending
// Read on another stream, or a pending AcceptStream, keeps graceTime. With it, a request-response
// caller's grace timer fires about every 10 ms rather than every 500 µs;
// each firing starts a goroutine and often wakes a thread (4,600 firings
// in 100,000 round trips of BenchmarkRoundTrip, nine in ten of them
// while the caller led again).
const idleGraceTime = 10 * time.Millisecond

// deadliner is what a connection needs for leaders.
type deadliner interface {
	SetReadDeadline(time.Time) error
}

var aLongTimeAgo = time.Unix(1, 0)

// readSide is the receive side of a session: the read token and what its
// holder owns, and the memory that received data may keep. fr, leader and
// wokeReader belong to whoever holds the token; the token's lock guards
// connDeadline; the rest is set once or atomic.
type readSide struct {
	token        fastio.Token
	rconn        deadliner // nil: no leaders
	connDeadline time.Time // the read deadline set on the connection
	fr           frameReader
	leader       *Stream       // the stream whose Read leads, if one does
	bytesIn      atomic.Uint64 // bytes read: Stats, and the health timer's sign of life
	framesIn     atomic.Uint64 // frames read
	queueKept    atomic.Int64  // slots the drained receive queues keep beyond idleQueue (Stream.trimQueue)
	queueBudget  int64         // at most this many: the session window's worth of chunks
	splices      atomic.Int32  // splices of the session's streams not yet over (see releaseToken)
	slabs        atomic.Int32  // slabs that hold chunks or are being cut from (see slab.go)
	wokeReader   bool          // the last read handed data to a waiting Read
}

// init readies the receive side of a session on conn; the token's hooks
// run under its lock.
func (r *readSide) init(conn io.Reader, c *Config) {
	r.fr = frameReader{
		r:     conn,
		rv:    fastio.NewReader(conn),
		buf:   make([]byte, readBufSize),
		seq:   &r.bytesIn,
		slabs: &r.slabs,
	}
	r.queueBudget = int64(c.SessionWindow) / int64(unsafe.Sizeof(chunk{}))
	if d, ok := conn.(deadliner); ok {
		r.rconn = d
	}
	r.token.Init(
		func() { r.setConnDeadlineLocked(time.Time{}) },
		func(l any) {
			st := l.(*Stream)
			r.leader = st
			var t time.Time
			if st.rdl != nil {
				t = st.rdl.at // st.mu is held by leadOrFollow's caller
			}
			r.setConnDeadlineLocked(t)
		})
}

// releaseToken gives the token up after a read. A grace period starts if
// the read was a leader's or handed data to a waiting Read.
func (r *readSide) releaseToken(leader bool) {
	grace := time.Duration(0)
	if r.rconn != nil && (leader || r.wokeReader) {
		grace = graceTime
	}
	r.leader = nil
	r.wokeReader = false
	// While no Read follows (waits for another's read) and no splice needs
	// the reader, a longer grace period costs nothing: the timer fires
	// seldom instead of about every graceTime.
	idle := grace
	if r.splices.Load() == 0 {
		idle = idleGraceTime
	}
	r.token.ReleaseIdle(grace, idle)
}

// needReader ends a grace period at once, for a caller about to wait for
// what only a read of the connection brings and that does not lead (a
// writer's credit, an open for AcceptStream, an ack for OpenStream, a
// pong, the data of a Read that handed the lead over): nobody is to lead,
// so the reader goroutine reads now rather than after graceTime. It also
// counts the caller as a follower, so that a leader that releases the
// token while it waits starts the short grace period; it reports whether
// it did, and the caller ends its wait with doneWaiting.
func (r *readSide) needReader() bool {
	if r.rconn == nil {
		return false
	}
	r.token.Wait()
	return true
}

// doneWaiting ends a wait that needReader counted.
func (r *readSide) doneWaiting(counted bool) {
	if counted {
		r.token.Unfollow()
	}
}

// leadOrFollow makes st's reader the leader if the token is idle, and
// reports whether it did. If it did not, and the session has leaders, the
// reader is counted as a follower, which it must end with unfollow once
// it is done waiting. st.mu must be held.
func (r *readSide) leadOrFollow(st *Stream) (led, following bool) {
	if r.rconn == nil {
		return false, false
	}
	led = r.token.Follow(st)
	return led, !led
}

// unfollow ends a follower's wait (leadOrFollow).
func (r *readSide) unfollow() { r.token.Unfollow() }

// leaderPatience is how many reads in a row a leader makes for the waiting
// readers of other streams, with nothing for its own, before it hands the
// lead over.
const leaderPatience = 4

// lead reads the connection until st has something for its reader: data,
// its end, a reset, a passed deadline. If it keeps reading for the waiting
// readers of other streams with nothing for its own (a control stream,
// say, that seldom gets any), it stops after leaderPatience reads and
// reports true: one of those readers should lead next (the token stays
// free for it during the grace period), and st's reader waits to be woken
// rather than lead again at once. So the goroutine that reads the
// connection is, most of the time, one that wants the data.
//
// p, if not nil, is the leading Read's buffer, and st has nothing buffered:
// the payload of st's next DATA frame, if it fits, is read straight into p
// rather than into a chunk that Read then copies (one copy of every byte
// fewer in bulk transfers), and lead returns its length. st.mu must not be
// held.
func (s *Session) lead(st *Stream, p []byte) (direct int, handedOver bool) {
	r := &s.rd
	fr := &r.fr
	if len(p) > 0 {
		fr.lead, fr.leadBuf = st, p
	}
	for served := 0; ; {
		err := s.readOnce(fr)
		if err != nil {
			if !isTimeout(err) {
				s.readFailed(err)
			}
			break // a timeout: st's deadline, or an interrupt
		}
		if fr.leadN > 0 || st.readable() {
			break
		}
		if r.wokeReader {
			if served++; served == leaderPatience {
				handedOver = true
				break
			}
		}
	}
	direct = fr.endLead(st)
	r.releaseToken(true)
	return direct, handedOver
}

// interrupt wakes st's reader if it leads, to see a change of st: closed,
// reset, or a new deadline t.
func (r *readSide) interrupt(st *Stream, t time.Time) {
	if r.rconn != nil {
		r.token.IfLeading(st, func() { r.setConnDeadlineLocked(t) })
	}
}

// setConnDeadlineLocked sets the connection's read deadline. It runs under
// the token's lock, which guards connDeadline.
func (r *readSide) setConnDeadlineLocked(t time.Time) {
	if r.rconn != nil && !t.Equal(r.connDeadline) {
		r.rconn.SetReadDeadline(t)
		r.connDeadline = t
	}
}

// readable reports whether a Read of st would not wait.
func (st *Stream) readable() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.rq.len() > 0 || len(st.partial) > 0 || st.err != nil ||
		st.state&(stRemoteFIN|stClosed) != 0 || st.rdl.exceeded() || st.sess.isClosed()
}
