package mux

// Nested sessions: a session whose connection is a *Stream of another
// session (a mesh circuit's inner session over a link stream) writes
// through the outer stream's own queueing, without a flat copy of each
// batch, and inline: an application's Write on an inner stream, when the
// inner session's writer is idle, hands its frames to the outer stream at
// once (and, when the outer connection is idle too, to the kernel), as a
// Write on a plain session does, instead of waking the inner writer
// goroutine.

// streamWriter is the tryWriter of a session nested in st.
type streamWriter struct{ st *Stream }

// TryWrite writes what it can of bufs without blocking.
func (w streamWriter) TryWrite(bufs [][]byte) (int, error) { return w.st.writeBuffers(bufs, false) }

// writeBuffers writes bufs as Write would their concatenation: frames
// refer to bufs while an inline write is under way, and are copied when
// queued. With wait false it never blocks: it returns what the stream's
// credit and the session's send buffer took at once (nothing if another
// write is under way); with wait, it blocks as Write does, honouring the
// write deadline.
func (st *Stream) writeBuffers(bufs [][]byte, wait bool) (int, error) {
	if wait {
		st.wlock.Lock()
	} else if !st.wlock.TryLock() {
		return 0, nil
	}
	defer st.wlock.Unlock()
	s := st.sess
	written := 0
	i, off := 0, 0 // the next byte: bufs[i][off]
	st.mu.Lock()
	defer st.mu.Unlock()
	for i < len(bufs) {
		if off == len(bufs[i]) {
			i, off = i+1, 0
			continue
		}
		if err := st.writeErrLocked(); err != nil {
			signal(st.writeCh)
			return written, err
		}
		if st.wdl.exceeded() {
			signal(st.writeCh)
			return written, errTimeout
		}
		s.wmu.Lock()
		if s.raw != nil && !s.writing && len(s.segs) == 0 && len(s.resume) == 0 && !s.closing &&
			min(st.sendCredit, s.sendCredit) > frameOverhead {
			b := &s.inline
			s.takeLocked(b)
			for i < len(bufs) {
				n := off
				done, _ := st.queueLocked(b, bufs[i], &n, false)
				written += n - off
				off = n
				if !done {
					break
				}
				i, off = i+1, 0
			}
			s.wmu.Unlock()
			st.mu.Unlock()
			err := s.writeInline(b)
			s.wmu.Lock()
			wake := s.finishLocked(b, err)
			s.wmu.Unlock()
			s.wakeSenders(wake)
			st.mu.Lock()
			if err != nil {
				return written, err
			}
			continue
		}
		n := off
		done, sessionBound := st.queueLocked(nil, bufs[i], &n, false)
		written += n - off
		off = n
		if done {
			s.wmu.Unlock()
			continue
		}
		if !wait {
			s.wmu.Unlock()
			return written, nil
		}
		if sessionBound && !st.sendWait {
			st.sendWait = true
			s.sendWaiters = append(s.sendWaiters, st)
		}
		s.wmu.Unlock()
		st.wait(waitCh(&st.writeCh), st.wdl.wait())
	}
	return written, nil
}
