package mux

import "time"

// The health timer: one timer per session, no goroutine, that sends
// keep-alive pings after silence, declares the peer dead after
// KeepAliveTimeout without a byte from it, and fails the session when a
// connection write stays blocked for WriteTimeout.

func (s *Session) healthPeriod() time.Duration {
	p := s.cfg.WriteTimeout / 4
	if s.cfg.KeepAliveInterval > 0 {
		p = min(p, s.cfg.KeepAliveInterval/2, s.cfg.KeepAliveTimeout/4)
	}
	return max(p, time.Millisecond)
}

func (s *Session) startHealth() {
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
	now := time.Now().UnixNano()
	if ws := s.writeStart.Load(); ws != 0 && time.Duration(now-ws) > s.cfg.WriteTimeout {
		s.fail(ErrWriteTimeout)
		return
	}
	if s.cfg.KeepAliveInterval > 0 {
		silent := time.Duration(now - s.lastRead.Load())
		if silent > s.cfg.KeepAliveTimeout {
			s.fail(ErrKeepAliveTimeout)
			return
		}
		if silent >= s.cfg.KeepAliveInterval && time.Duration(now-s.lastPing.Load()) >= s.cfg.KeepAliveInterval {
			s.lastPing.Store(now)
			s.wmu.Lock()
			s.queueCtrlLocked(appendPing(nil, 0, 0))
			s.wmu.Unlock()
		}
	}
	s.health.Load().Reset(s.healthPeriod())
}
