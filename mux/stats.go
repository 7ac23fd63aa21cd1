package mux

import (
	"sync/atomic"
	"time"
)

// Stats are a session's counters since it started.
type Stats struct {
	BytesIn, BytesOut   uint64        // bytes read from and written to the connection
	FramesIn, FramesOut uint64        // frames read, and frames queued for writing
	StreamsOpened       uint64        // streams this side opened
	StreamsAccepted     uint64        // streams the peer opened that this side took (not refused)
	Streams             int           // streams open now, as NumStreams
	RTT                 time.Duration // the last round trip a keep-alive or Ping measured; 0 until one did
}

// keepAlivePing marks the opaque value of a keep-alive ping, whose other
// bits are its send time in unix nanoseconds, so that its answer gives the
// round trip; Ping's values are small sequence numbers.
const keepAlivePing = 1 << 63

// counters are the session's side of Stats.
type counters struct {
	bytesIn   atomic.Uint64 // also the health timer's sign of life
	bytesOut  atomic.Uint64
	framesIn  atomic.Uint64
	rtt       atomic.Int64
	framesOut uint64 // guarded by Session.wmu
	opened    uint64 // guarded by Session.mu
	accepted  uint64 // guarded by Session.mu
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	st := Stats{
		BytesIn:  s.bytesIn.Load(),
		BytesOut: s.bytesOut.Load(),
		FramesIn: s.framesIn.Load(),
		RTT:      time.Duration(s.rtt.Load()),
	}
	s.mu.Lock()
	st.StreamsOpened, st.StreamsAccepted, st.Streams = s.opened, s.accepted, len(s.streams)
	s.mu.Unlock()
	s.wmu.Lock()
	st.FramesOut = s.framesOut
	s.wmu.Unlock()
	return st
}
