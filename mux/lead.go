package mux

import "time"

// The read token. At most one goroutine reads the connection: the
// session's reader goroutine, or a *leader*, an application goroutine
// blocked in Read or Recv that reads the connection itself, so that the
// network poller wakes it directly when data arrives, without the handoff
// from the reader goroutine (which costs a cross-CPU wake-up, more than the
// rest of a round trip through mux).
//
// A goroutine that finds its stream empty leads if the token is idle. When
// the reader goroutine has just handed data to a waiting Read, or a leader
// has its data, the token stays idle for a grace period instead of going
// back to the reader goroutine at once: a request-response peer is back in
// Read by then and leads. When the grace period passes with nobody reading,
// the reader goroutine takes the token again, so frames never wait longer.
//
// A leader's stream deadline is the connection's read deadline; Close and
// Reset of its stream, or a new deadline, interrupt it through that
// deadline. Leaders need a connection with SetReadDeadline (every net.Conn);
// on others the reader goroutine does all the reading.

const (
	rIdle   = iota // nobody reads
	rReader        // the reader goroutine reads
	rLeader        // an application goroutine reads
)

// graceTime is how long the token waits for a leader after data was handed
// over, before the reader goroutine takes it back.
const graceTime = 50 * time.Microsecond

// deadliner is what a connection needs for leaders.
type deadliner interface {
	SetReadDeadline(time.Time) error
}

var aLongTimeAgo = time.Unix(1, 0)

// takeToken waits until the reader goroutine may read: the token is idle
// and no grace period runs (once the session is over, only until the token
// is idle, so that the reader can drain the connection; see readLoop).
func (s *Session) takeToken() {
	s.rmu.Lock()
	for {
		closed := s.isClosed()
		if s.rstate == rIdle && (closed || s.graceUntil == 0 || time.Now().UnixNano() >= s.graceUntil) {
			break
		}
		s.rmu.Unlock()
		if closed {
			<-s.readerWake // a leader gives the token back (end interrupts it)
		} else {
			select {
			case <-s.readerWake:
			case <-s.done:
			}
		}
		s.rmu.Lock()
	}
	s.rstate = rReader
	s.graceUntil = 0
	s.setConnDeadlineLocked(time.Time{})
	s.rmu.Unlock()
}

// releaseToken gives the token up after a read. If the read handed data to
// a waiting Read (or was a leader's), a grace period starts.
func (s *Session) releaseToken() {
	s.rmu.Lock()
	leader := s.rstate == rLeader
	s.rstate = rIdle
	s.leader = nil
	if s.rconn != nil && (leader || s.wokeReader) && !s.isClosed() {
		s.graceUntil = time.Now().UnixNano() + int64(graceTime)
		if !s.graceArmed { // an armed timer re-arms itself for what is left
			s.graceArmed = true
			s.grace.Reset(graceTime)
		}
	} else {
		s.graceUntil = 0
		signal(s.readerWake)
	}
	s.wokeReader = false
	s.rmu.Unlock()
}

// graceOver is the grace timer: nobody came to lead, so the reader
// goroutine reads again.
func (s *Session) graceOver() {
	s.rmu.Lock()
	s.graceArmed = false
	if s.rstate == rIdle && s.graceUntil != 0 {
		if left := s.graceUntil - time.Now().UnixNano(); left > 0 {
			s.graceArmed = true // the grace period was extended
			s.grace.Reset(time.Duration(left))
		} else {
			s.graceUntil = 0
			signal(s.readerWake)
		}
	}
	s.rmu.Unlock()
}

// tryLead makes st's reader the leader if the token is idle. st.mu must be
// held.
func (s *Session) tryLead(st *Stream) bool {
	if s.rconn == nil {
		return false
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.rstate != rIdle {
		return false
	}
	s.rstate = rLeader
	s.leader = st
	var t time.Time
	if st.rdl != nil {
		t = st.rdl.at
	}
	s.setConnDeadlineLocked(t)
	return true
}

// lead reads the connection until st has something for its reader: data,
// its end, a reset, a passed deadline. st.mu must not be held.
func (s *Session) lead(st *Stream) {
	for {
		err := s.readOnce(&s.fr)
		if err != nil {
			if !isTimeout(err) {
				s.readFailed(err)
			}
			break // a timeout: st's deadline, or an interrupt
		}
		if st.readable() {
			break
		}
	}
	s.releaseToken()
}

// interrupt wakes st's reader if it leads, to see a change of st: closed,
// reset, or a new deadline t.
func (s *Session) interrupt(st *Stream, t time.Time) {
	if s.rconn == nil {
		return
	}
	s.rmu.Lock()
	if s.rstate == rLeader && s.leader == st {
		s.setConnDeadlineLocked(t)
	}
	s.rmu.Unlock()
}

// setConnDeadlineLocked sets the connection's read deadline. s.rmu must be held.
func (s *Session) setConnDeadlineLocked(t time.Time) {
	if s.rconn != nil && !t.Equal(s.connDeadline) {
		s.rconn.SetReadDeadline(t)
		s.connDeadline = t
	}
}

// readable reports whether a Read of st would not wait.
func (st *Stream) readable() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.rqHead < len(st.rq) || len(st.partial) > 0 || st.err != nil ||
		st.state&(stRemoteFIN|stClosed) != 0 || st.rdl.exceeded() || st.sess.isClosed()
}
