package mux

import "time"

// The health timer: one timer per session, no goroutine, that sends
// keep-alive pings after silence, declares the peer dead after
// KeepAliveTimeout without a byte from it, and fails the session when a
// connection write stays blocked for WriteTimeout.
//
// The hot paths only count: every read that returns data adds to bytesIn,
// every connection write adds to writeSeq when it starts and when it ends
// (odd: a write is under way). The timer, which runs every healthPeriod,
// notes when it last saw each counter move; so a silence or a blocked
// write is detected within one period of its limit, and no read or write
// pays for a clock.

func (s *Session) healthPeriod() time.Duration {
	p := s.cfg.WriteTimeout / 4
	if s.cfg.KeepAliveInterval > 0 {
		p = min(p, s.cfg.KeepAliveInterval/2, s.cfg.KeepAliveTimeout/4)
	}
	return max(p, time.Millisecond)
}

// healthState belongs to the health timer's callback, which never runs
// twice at once (it re-arms itself at its end).
type healthState struct {
	readSeen  uint64
	readAt    int64 // unix nanoseconds bytesIn was last seen to move
	writeSeen uint64
	writeAt   int64 // unix nanoseconds the write under way was first seen
	pingAt    int64 // unix nanoseconds of the last keep-alive ping
}

func (s *Session) startHealth() {
	s.hs.readAt = time.Now().UnixNano()
	t := time.AfterFunc(time.Duration(1<<63-1), s.checkHealth)
	s.health.Store(t)
	t.Reset(s.healthPeriod())
	if s.isClosed() {
		t.Stop()
	}
}

func (s *Session) checkHealth() {
	if s.isClosed() {
		return
	}
	hs := &s.hs
	now := time.Now().UnixNano()
	if ws := s.writeSeq.Load(); ws%2 == 1 { // a write is under way
		if ws != hs.writeSeen {
			hs.writeSeen, hs.writeAt = ws, now
		} else if time.Duration(now-hs.writeAt) > s.cfg.WriteTimeout {
			s.fail(ErrWriteTimeout)
			return
		}
	}
	if rs := s.bytesIn.Load(); rs != hs.readSeen {
		hs.readSeen, hs.readAt = rs, now
	}
	if s.cfg.KeepAliveInterval > 0 {
		silent := time.Duration(now - hs.readAt)
		if silent > s.cfg.KeepAliveTimeout {
			s.fail(ErrKeepAliveTimeout)
			return
		}
		if silent >= s.cfg.KeepAliveInterval && time.Duration(now-hs.pingAt) >= s.cfg.KeepAliveInterval {
			hs.pingAt = now
			s.wmu.Lock()
			s.queueCtrlLocked(appendPing(nil, 0, keepAlivePing|uint64(now)))
			s.wmu.Unlock()
		}
	}
	s.health.Load().Reset(s.healthPeriod())
}
