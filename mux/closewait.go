package mux

import (
	"time"

	"github.com/plexusnet/plexus/internal/timerref"
)

// The close-wait queue. A stream closed locally stays in the table until
// the peer's FIN, so that data the peer still sends gets a RESET back; a
// peer that never sends its FIN would keep it there for good. So every
// such stream joins a queue, in the order of its Close, and one timer per
// session resets and removes those still waiting after
// Config.StreamCloseTimeout. All waits are equally long, so the queue is
// ordered by deadline and the timer is armed for its head only.

// closeWait is the queue; streamTable.mu guards it.
type closeWait struct {
	q     []closeEntry // q[head:] in the order of their deadlines
	head  int
	live  int // entries whose stream still waits (the others are skipped)
	timer *time.Timer
	armed bool
}

type closeEntry struct {
	st *Stream
	at int64 // unix nanoseconds
}

// closeWaitLocked queues st, which was just closed and waits for the peer's
// FIN. st.mu must be held (so that st cannot be removed meanwhile).
func (s *Session) closeWaitLocked(st *Stream) {
	at := time.Now().Add(s.cfg.StreamCloseTimeout).UnixNano()
	t := &s.table
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.isClosed() {
		return
	}
	cw := &t.cw
	if cw.head > 0 && len(cw.q) > 2*cw.live+64 { // mostly streams that left: compact
		n := 0
		for _, e := range cw.q[cw.head:] {
			if e.st.lingers {
				cw.q[n] = e
				n++
			}
		}
		clear(cw.q[n:])
		cw.q, cw.head = cw.q[:n], 0
	}
	cw.q = append(cw.q, closeEntry{st, at})
	st.lingers = true
	cw.live++
	if !cw.armed {
		cw.armed = true
		d := time.Duration(cw.q[cw.head].at - time.Now().UnixNano())
		if cw.timer == nil {
			cw.timer = timerref.AfterFunc(d, s.life.timers, (*Session).closeWaitExpired)
		} else {
			cw.timer.Reset(d)
		}
	}
}

// closeWaitExpired is the timer: it resets the streams whose wait is over
// and arms itself for the next.
func (s *Session) closeWaitExpired() {
	now := time.Now().UnixNano()
	var expired []*Stream
	t := &s.table
	t.mu.Lock()
	cw := &t.cw
	for cw.head < len(cw.q) && cw.q[cw.head].at <= now {
		if st := cw.q[cw.head].st; st.lingers {
			expired = append(expired, st)
		}
		cw.q[cw.head] = closeEntry{}
		cw.head++
	}
	if cw.head == len(cw.q) {
		cw.q, cw.head = cw.q[:0], 0
	}
	cw.armed = cw.head < len(cw.q) && !s.isClosed()
	if cw.armed {
		cw.timer.Reset(time.Duration(cw.q[cw.head].at - now))
	}
	t.mu.Unlock()
	for _, st := range expired {
		st.mu.Lock()
		if st.state&stRemoved == 0 {
			st.abortLocked(CodeCancel, false)
		}
		st.mu.Unlock()
	}
}

// stop disarms the timer as the session ends (closeWaitLocked and
// closeWaitExpired arm it no more once the session is closed).
// streamTable.mu must be held.
func (cw *closeWait) stop() {
	if cw.timer != nil {
		cw.timer.Stop()
	}
}
