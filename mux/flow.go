package mux

import "time"

// Receive-side flow control. The peer may send on a stream as much as the
// stream's credit allows and on the session as much as the session's
// credit allows; both come back to it in WINDOW frames as the application
// reads. The session window caps the memory the peer can make us hold.
//
// Stream windows tune themselves (resizeLocked) within a budget: they grow
// only while the windows of all streams together, initial windows
// included, stay within half the session window, and a grown window
// shrinks back as its reader consumes while the session is over budget.
// Every byte a stream buffers is within its window, so streams that nobody
// reads hold at most half the session window plus the initial windows of
// the streams opened once the budget was used up: with the defaults, 64
// streams left unread, grown or not, leave at least 4 MiB of the 16 MiB
// session window to the streams being read. And when little session
// credit is left, what readers consume is returned sooner (releaseRecv),
// so that a stream being read never waits for a batch.

const (
	// growPeriod: a stream whose reader consumes a quarter of its window
	// faster than this gets a larger window.
	growPeriod = time.Millisecond
	// shrinkPeriod: a stream whose reader takes longer than this for a
	// quarter of its window, while the peer leaves most of its credit
	// unused, gets a smaller one.
	shrinkPeriod = 100 * time.Millisecond
)

// resizeLocked is called when the reader of st has consumed a quarter of
// its window. It resizes the window and returns the credit to grant: what
// was consumed, plus what the window grew by, or minus what it shrank by.
//
// The window doubles, up to Session.maxWindow and within the session's
// budget, when the peer had used more than half of its credit by the time
// the reader consumed the quarter (the window limits the stream: a long or
// fast path), or when that quarter took less than growPeriod (the updates
// themselves cost more than they need to). It halves, down to StreamWindow,
// when the session is over budget (streams opened since it grew have their
// initial windows too), or when the quarter took longer than shrinkPeriod
// and the peer left more than half of its credit unused: the window is
// larger than the stream needs, and what it gives back lets another grow.
// A stream that is not read returns no credit and never grows. st.mu must
// be held.
func (st *Stream) resizeLocked() uint32 {
	s := st.sess
	inc := st.unacked
	st.unacked = 0
	now := time.Now().UnixNano()
	took := time.Duration(now - st.updatedAt)
	st.updatedAt = now
	over := s.windows.Load() > s.windowBudget
	switch {
	case st.window > s.cfg.StreamWindow &&
		(over || took > shrinkPeriod && st.recvCredit >= st.window/2):
		shrink := min(st.window-max(st.window/2, s.cfg.StreamWindow), inc/2)
		st.window -= shrink
		s.windows.Add(-int64(shrink))
		inc -= shrink
	case !over && st.window < s.maxWindow && (took < growPeriod || st.recvCredit < st.window/2):
		grow := s.takeBudget(min(st.window, s.maxWindow-st.window))
		st.window += grow
		inc += grow
	}
	return inc
}

// takeBudget takes up to n bytes of window growth from the session's
// budget and returns how much it took.
func (s *Session) takeBudget(n uint32) uint32 {
	for {
		cur := s.windows.Load()
		room := s.windowBudget - cur
		if room <= 0 {
			return 0
		}
		take := min(int64(n), room)
		if s.windows.CompareAndSwap(cur, cur+take) {
			return uint32(take)
		}
	}
}

// releaseRecv returns session credit for data consumed or discarded, in
// batches of an eighth of the session window, or of a sixty-fourth once
// the peer holds less than half of its credit, so that streams being read
// do not wait for a batch that unread streams keep from filling.
func (s *Session) releaseRecv(n uint32) {
	if n == 0 {
		return
	}
	batch := s.cfg.SessionWindow / 8
	if s.recvUsed.Load() >= int64(s.cfg.SessionWindow/2) {
		batch = s.cfg.SessionWindow / 64
	}
	if s.recvUnacked.Add(n) < batch {
		return
	}
	if inc := s.recvUnacked.Swap(0); inc > 0 {
		s.recvUsed.Add(-int64(inc))
		s.queueWindow(0, inc)
	}
}
