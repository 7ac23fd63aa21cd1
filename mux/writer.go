package mux

import (
	"net"
	"sync"
)

// The send side. Streams append frames to the session's queues under wmu
// and return; one writer goroutine takes whatever is queued and writes it
// with one system call (a writev of the segments), so the frames of many
// streams share few syscalls. Control frames have their own queue, written
// before any data, and a batch of data is at most maxBatch bytes, so a
// window update, ping or reset never waits behind more than one batch.

const (
	segSize  = 72 << 10  // a data segment: room for a 64 KiB frame and more
	maxBatch = 256 << 10 // data bytes written in one system call, at most
	maxFree  = 4         // written segments kept for reuse
	maxCtrl  = 1 << 20   // queued control bytes: a peer that lets more pile up does not read
)

// appendDataLocked queues a DATA frame. s.wmu must be held.
func (s *Session) appendDataLocked(id uint32, flags uint8, p []byte) {
	need := headerSize + len(p)
	i := s.segmentFor(need)
	s.framesOut++
	seg := appendHeader(s.segs[i], typeData, flags, id, len(p))
	s.segs[i] = append(seg, p...)
}

// segmentFor returns the index of the segment that takes the next need
// bytes of frames, and counts them as buffered. s.wmu must be held.
func (s *Session) segmentFor(need int) int {
	s.sendBuffered += need
	i := len(s.segs) - 1
	if i < 0 || cap(s.segs[i])-len(s.segs[i]) < need {
		s.segs = append(s.segs, s.newSegment(need))
		i++
	}
	return i
}

// takeWaitersLocked returns the streams waiting for session credit or
// buffer room, and forgets them. s.wmu must be held.
func (s *Session) takeWaitersLocked() []*Stream {
	w := s.sendWaiters
	s.sendWaiters = nil
	for _, st := range w {
		st.sendWait = false
	}
	return w
}

// wakeSenders wakes streams taken by takeWaitersLocked, to try again.
// s.wmu must not be held.
func (s *Session) wakeSenders(w []*Stream) {
	for _, st := range w {
		st.mu.Lock()
		signal(st.writeCh)
		sp := st.sp
		st.mu.Unlock()
		if sp != nil {
			sp.pumpTo(st) // a spliced stream: its splice writes
		}
	}
}

func (s *Session) newSegment(need int) []byte {
	for j := len(s.free) - 1; j >= 0; j-- {
		if cap(s.free[j]) >= need {
			b := s.free[j]
			s.free[j] = s.free[len(s.free)-1]
			s.free[len(s.free)-1] = nil
			s.free = s.free[:len(s.free)-1]
			return b[:0]
		}
	}
	if need <= segSize {
		if b, _ := segPool.Get().(*[]byte); b != nil {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, max(segSize, need))
}

// segPool holds the segments of sessions whose writer is idle, so that an
// idle session keeps none (a busy one keeps up to maxFree of its own).
var segPool sync.Pool

// releaseSegmentsLocked gives the session's spare segments to segPool, as
// its writer goes idle. s.wmu must be held.
func (s *Session) releaseSegmentsLocked() {
	for i, b := range s.free {
		if cap(b) == segSize {
			b = b[:0]
			segPool.Put(&b)
		}
		s.free[i] = nil
	}
	s.free = s.free[:0]
}

// queueCtrlLocked queues a control frame. A peer that lets control frames
// pile up without reading them fails the session. s.wmu must be held.
func (s *Session) queueCtrlLocked(frame []byte) {
	if s.closing {
		return
	}
	if len(s.ctrl)+len(frame) > maxCtrl {
		go s.fail(protoErr("peer does not read: %d bytes of control frames queued", len(s.ctrl)))
		return
	}
	s.ctrl = append(s.ctrl, frame...)
	s.framesOut++
	s.kickLocked()
}

// queueWindow queues a WINDOW frame: credit for a stream, or for the session (id 0).
func (s *Session) queueWindow(id, inc uint32) {
	var b [headerSize + 4]byte
	s.wmu.Lock()
	s.queueCtrlLocked(appendUint32Frame(b[:0], typeWindow, 0, id, inc))
	s.wmu.Unlock()
}

// queueFIN queues an empty DATA frame with FIN, after the stream's data.
func (s *Session) queueFIN(id uint32) {
	s.wmu.Lock()
	if !s.closing {
		s.appendDataLocked(id, flagFIN, nil)
		s.kickLocked()
	}
	s.wmu.Unlock()
}

// queueReset queues a RESET. It goes with the control frames, ahead of
// data, unless it must follow data already queued: when afterData is set,
// or when the stream's own SYN may not be written yet.
func (s *Session) queueReset(id uint32, code ErrorCode, afterData bool) {
	var b [headerSize + 4]byte
	frame := appendUint32Frame(b[:0], typeReset, 0, id, uint32(code))
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if afterData || (s.isLocalID(id) && id > s.openFlushed) {
		if !s.closing {
			i := s.segmentFor(len(frame))
			s.segs[i] = append(s.segs[i], frame...)
			s.framesOut++
			s.kickLocked()
		}
		return
	}
	s.queueCtrlLocked(frame)
}

// kickLocked wakes the writer goroutine if it sleeps and no write is under
// way (whoever writes checks the queues again when done). s.wmu must be held.
func (s *Session) kickLocked() {
	if s.writerIdle && !s.writing {
		s.writerIdle = false
		signal(s.wake)
	}
}

// batch is what one connection write sends: control frames, then data.
type batch struct {
	bufs, iov   net.Buffers
	hdr         []byte // headers of frames whose payload the batch refers to
	first       int    // bufs[first] is ctrl (if any); a resumed write comes before
	flat        []byte // the batch in one piece, for connections that cannot gather
	ctrl        []byte
	nsegs       int    // bufs[ctrl?1:0 : +nsegs] are segments the session owns
	data        int    // bytes of the batch counted in Session.sendBuffered
	flushedOpen uint32 // every SYN up to this id is in the batch
}

// takeLocked moves queued frames into b, at most maxBatch bytes of data,
// and marks a write under way. s.wmu must be held.
func (s *Session) takeLocked(b *batch) {
	s.writing = true
	b.bufs, b.ctrl, b.nsegs, b.data, b.flushedOpen = b.bufs[:0], s.ctrl, 0, 0, 0
	if b.hdr == nil {
		b.hdr = make([]byte, 0, 64*headerSize)
	}
	b.hdr = b.hdr[:0]
	if len(s.resume) > 0 { // the middle of a frame: before anything else
		b.bufs = append(b.bufs, s.resume)
		b.data += len(s.resume)
		s.resume = nil
	}
	b.first = len(b.bufs)
	if len(s.ctrl) > 0 {
		b.bufs = append(b.bufs, s.ctrl)
		s.ctrl = s.spare[:0]
		s.spare = nil
	}
	n := 0
	for b.nsegs < len(s.segs) && n < maxBatch {
		b.bufs = append(b.bufs, s.segs[b.nsegs])
		n += len(s.segs[b.nsegs])
		b.nsegs++
	}
	b.data += n
	if b.nsegs == len(s.segs) {
		b.flushedOpen = s.openQueued
	}
	rest := copy(s.segs, s.segs[b.nsegs:])
	clear(s.segs[rest:])
	s.segs = s.segs[:rest]
}

// writeInline sends b from an application goroutine (see Stream.write),
// with one non-blocking system call: what the kernel does not take at once
// is queued, first of all, for the writer goroutine, so a Write never waits
// for a congested connection.
func (s *Session) writeInline(b *batch) error {
	s.writeSeq.Add(1)
	n, err := s.raw.TryWrite(b.bufs)
	s.writeSeq.Add(1)
	s.bytesOut.Add(uint64(n))
	if err != nil {
		s.writeFailed(err)
		return err
	}
	var rest []byte
	for _, p := range b.bufs {
		if n >= len(p) {
			n -= len(p)
			continue
		}
		rest = append(rest, p[n:]...)
		n = 0
	}
	if rest != nil {
		s.wmu.Lock()
		s.resume = rest
		s.sendBuffered += len(rest)
		s.wmu.Unlock()
	}
	return nil
}

// write sends b on the connection; s.wmu must not be held. A failure ends
// the writing (see writeFailed).
func (s *Session) write(b *batch) error {
	if len(b.bufs) == 0 {
		return nil
	}
	s.writeSeq.Add(1)
	var err error
	var n int64
	if s.vectored || len(b.bufs) == 1 {
		b.iov = append(b.iov[:0], b.bufs...) // WriteTo consumes its receiver
		n, err = b.iov.WriteTo(s.conn)
		clear(b.iov[:cap(b.iov)])
	} else {
		// A connection that cannot gather (TLS, a pipe) would turn every
		// buffer into a write of its own: a TLS record, a pipe hand-off.
		b.flat = b.flat[:0]
		for _, p := range b.bufs {
			b.flat = append(b.flat, p...)
		}
		var k int
		k, err = s.conn.Write(b.flat)
		n = int64(k)
		if cap(b.flat) > 4*maxBatch {
			b.flat = nil
		}
	}
	s.writeSeq.Add(1)
	s.bytesOut.Add(uint64(n))
	if err != nil {
		s.writeFailed(err)
	}
	return err
}

// finishLocked recycles b's buffers, ends the write and hands what was
// queued meanwhile to the writer goroutine. It returns the streams to wake
// (with wakeSenders, once s.wmu is released) because the send buffer has
// room again. s.wmu must be held.
func (s *Session) finishLocked(b *batch, err error) (wake []*Stream) {
	s.writing = false
	s.sendBuffered -= b.data
	if len(s.sendWaiters) > 0 && s.sendBuffered <= s.cfg.SendBuffer/2 {
		wake = s.takeWaitersLocked()
	}
	if err != nil {
		s.closing = true
	} else if b.flushedOpen > s.openFlushed {
		s.openFlushed = b.flushedOpen
	}
	first := b.first
	if len(b.ctrl) > 0 {
		first++
		if s.spare == nil && cap(b.ctrl) <= 64<<10 {
			s.spare = b.ctrl[:0]
		}
	}
	for _, seg := range b.bufs[first : first+b.nsegs] {
		if len(s.free) < maxFree && cap(seg) <= 2*segSize {
			s.free = append(s.free, seg[:0])
		}
	}
	clear(b.bufs[:cap(b.bufs)])
	b.ctrl = nil
	if len(s.ctrl) > 0 || len(s.segs) > 0 || len(s.resume) > 0 || s.closing {
		s.kickLocked()
	}
	return wake
}

// writeLoop is the session's writer goroutine.
func (s *Session) writeLoop() {
	defer close(s.writerDone)
	var b batch
	for {
		s.wmu.Lock()
		for s.writing || (len(s.ctrl) == 0 && len(s.segs) == 0 && len(s.resume) == 0) {
			if s.closing && !s.writing {
				s.wmu.Unlock()
				return
			}
			s.writerIdle = true
			s.releaseSegmentsLocked()
			s.wmu.Unlock()
			<-s.wake
			s.wmu.Lock()
		}
		s.takeLocked(&b)
		s.wmu.Unlock()
		err := s.write(&b)
		s.wmu.Lock()
		wake := s.finishLocked(&b, err)
		s.wmu.Unlock()
		s.wakeSenders(wake)
		if err != nil {
			return
		}
	}
}
