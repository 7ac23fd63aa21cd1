package mux

import "time"

// Stats are a session's counters since it started.
type Stats struct {
	BytesIn, BytesOut   uint64        // bytes read from and written to the connection
	FramesIn, FramesOut uint64        // frames read, and frames queued for writing
	StreamsOpened       uint64        // streams this side opened
	StreamsAccepted     uint64        // streams the peer opened that this side took (not refused)
	Streams             int           // streams open now, as NumStreams
	ClassStreams        int           // of them, streams of the session's class (see Session.OpenClassStream)
	RTT                 time.Duration // the last round trip a keep-alive or Ping measured; 0 until one did
	PingsAnswered       uint64        // the peer's Pings this side answered (its keep-alives not counted)
}

// Stats returns the session's counters, which each part of the session
// keeps for what it does: the reader, the send queue, the stream table,
// the pings.
func (s *Session) Stats() Stats {
	st := Stats{
		BytesIn:  s.rd.bytesIn.Load(),
		BytesOut: s.sendq.bytesOut.Load(),
		FramesIn: s.rd.framesIn.Load(),
		RTT:      time.Duration(s.pings.rtt.Load()),

		PingsAnswered: s.pings.answered.Load(),
	}
	t := &s.table
	t.mu.Lock()
	st.StreamsOpened, st.StreamsAccepted, st.Streams = t.opened, t.accepted, len(t.streams)
	st.ClassStreams = t.classN
	t.mu.Unlock()
	q := &s.sendq
	q.mu.Lock()
	st.FramesOut = q.framesOut
	q.mu.Unlock()
	return st
}
