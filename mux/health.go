package mux

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/internal/timerref"
)

// The health timer: one timer per session, no goroutine, that sends
// keep-alive pings after silence, declares the peer dead after
// KeepAliveTimeout without a byte from it, and fails the session when a
// connection write stays blocked for WriteTimeout. And pings: the
// application's (Session.Ping) and the keep-alives, whose answers measure
// the round trip.
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

// health is the health timer and what its callback, which never runs
// twice at once (it re-arms itself at its end), has seen.
type health struct {
	timer     atomic.Pointer[time.Timer]
	readSeen  uint64
	readAt    int64 // unix nanoseconds bytesIn was last seen to move
	writeSeen uint64
	writeAt   int64 // unix nanoseconds the write under way was first seen
	pingAt    int64 // unix nanoseconds of the last keep-alive ping
}

func (s *Session) startHealth() {
	s.health.readAt = time.Now().UnixNano()
	t := timerref.AfterFunc(time.Duration(1<<63-1), s.life.timers, (*Session).checkHealth)
	s.health.timer.Store(t)
	s.rearm(t, s.healthPeriod())
}

// rearm arms t, a timer of the session's that runs a closure of it, to
// fire after d, unless the session has ended: end stops the timers it
// finds, and a timer armed once end looked is stopped here, so that no
// timer keeps a closed session alive.
func (s *Session) rearm(t *time.Timer, d time.Duration) {
	t.Reset(d)
	if s.isClosed() {
		t.Stop()
	}
}

func (s *Session) checkHealth() {
	if s.isClosed() {
		return
	}
	h := &s.health
	now := time.Now().UnixNano()
	if ws := s.sendq.writeSeq.Load(); ws%2 == 1 { // a write is under way
		if ws != h.writeSeen {
			h.writeSeen, h.writeAt = ws, now
		} else if time.Duration(now-h.writeAt) > s.cfg.WriteTimeout {
			s.fail(ErrWriteTimeout)
			return
		}
	}
	if rs := s.rd.bytesIn.Load(); rs != h.readSeen {
		h.readSeen, h.readAt = rs, now
	}
	if s.cfg.KeepAliveInterval > 0 {
		silent := time.Duration(now - h.readAt)
		if silent > s.cfg.KeepAliveTimeout {
			s.fail(ErrKeepAliveTimeout)
			return
		}
		if silent >= s.cfg.KeepAliveInterval && time.Duration(now-h.pingAt) >= s.cfg.KeepAliveInterval {
			h.pingAt = now
			s.sendq.queuePing(0, keepAlivePing|uint64(now))
		}
	}
	s.rearm(h.timer.Load(), s.healthPeriod())
}

// keepAlivePing marks the opaque value of a keep-alive ping, whose other
// bits are its send time in unix nanoseconds, so that its answer gives the
// round trip; Ping's values are small sequence numbers.
const keepAlivePing = 1 << 63

// maxPings bounds the Pings under way at once; more wait for a slot, so
// that pings queued on a backed-up connection stay few.
const maxPings = 16

// pings are the application's pings under way, and the last round trip.
type pings struct {
	mu    sync.Mutex
	wait  map[uint64]chan struct{} // by opaque value; made by the first Ping
	seq   uint64
	slots chan struct{} // one per Ping under way (maxPings)
	rtt   atomic.Int64  // the last round trip measured, in nanoseconds
	// answered counts the peer's Pings this side answered, keep-alives
	// not counted: an application's use of the session (see Stats).
	answered atomic.Uint64
}

// Ping sends a ping and waits for the answer; it returns the round trip.
// At most maxPings are under way at once; others wait for a slot. The
// peer answers when it next reads the connection: at once if its reader
// goroutine reads, but up to 10 ms later if a Read of the peer's has just
// returned and nothing else waits on its session (see lead.go), so the
// round trip includes that.
func (s *Session) Ping(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p := &s.pings
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-s.life.done:
		return 0, s.closedErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	ch := make(chan struct{})
	p.mu.Lock()
	if p.wait == nil {
		p.wait = make(map[uint64]chan struct{})
	}
	p.seq++
	id := p.seq
	p.wait[id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.wait, id)
		p.mu.Unlock()
	}()
	start := time.Now()
	s.sendq.queuePing(0, id)
	defer s.rd.doneWaiting(s.rd.needReader())
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case <-ch:
		rtt := time.Since(start)
		p.rtt.Store(int64(rtt))
		return rtt, nil
	case <-s.life.done:
		return 0, s.closedErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// handlePing answers the peer's ping, or takes the answer to ours.
func (s *Session) handlePing(flags uint8, opaque uint64) {
	if flags&flagACK == 0 {
		if opaque&keepAlivePing == 0 {
			s.pings.answered.Add(1)
		}
		s.sendq.queuePing(flagACK, opaque)
		return
	}
	p := &s.pings
	if opaque&keepAlivePing != 0 { // our keep-alive: it carries its send time
		if rtt := time.Now().UnixNano() - int64(opaque&^keepAlivePing); rtt > 0 {
			p.rtt.Store(rtt)
		}
		return
	}
	p.mu.Lock()
	if ch := p.wait[opaque]; ch != nil {
		close(ch)
		delete(p.wait, opaque)
	}
	p.mu.Unlock()
}
