package mux

import (
	"errors"
	"sync/atomic"
	"unsafe"
)

// Splicing: a relay joins two streams, usually of two sessions, so that
// what arrives on one is sent on the other, both ways, with no goroutine
// and no buffer of its own. The forwarding (pump) runs in whatever
// goroutine learns that it can make progress: the reader of the source's
// session when data, a FIN or a RESET arrives (for data and FINs, once
// per read, after the read's frames: pumpSplices); the reader or writer
// of the destination's session when credit or room in its send buffer
// comes back. A pump that forwards a small message to an idle connection
// writes it itself, so that a relayed request wakes no writer goroutine
// (sendQueue.relayData, Session.flushOwed).
// Each stream's own flow control carries the backpressure hop by hop: data
// waits in the source stream's receive buffer, within its window, until the
// destination can take it, and the source's peer gets credit back only as
// it is forwarded. So a slow reader at the far end slows its own circuit
// only.

// ErrSpliced: Splice was given a stream that is already spliced, closed or
// reset, or the same stream twice.
var ErrSpliced = errors.New("mux: stream cannot be spliced")

// splice is two streams joined by Splice. Both directions are pumped under
// both streams' locks, always taken in the order a, b (by address), so the
// two directions never race and never deadlock.
type splice struct {
	a, b  *Stream
	ended [2]atomic.Bool   // a→b, b→a: the direction is over
	moved [2]atomic.Uint64 // a→b, b→a: bytes forwarded
	left  atomic.Int32     // directions not over yet
	err   error            // the first error a direction ended on; set under both locks
	end   SpliceEnder      // told when both directions are over; may be nil
}

// A Splicing holds the state of one splice. Its zero value is ready for
// Join. A caller that keeps a record of its own per splice (a relay keeps
// one per circuit) embeds a Splicing in it, so that the two are one
// allocation, and learns of the end through SpliceEnder, with no closure.
type Splicing struct{ sp splice }

// SpliceEnder is told, once, that a splice is over (see Splice's done).
type SpliceEnder interface {
	SpliceEnded(err error)
}

// funcEnder is a done func of Splice as a SpliceEnder.
type funcEnder func(error)

func (f funcEnder) SpliceEnded(err error) { f(err) }

// pump is a splice to pump after a read, and the stream that got data.
type pump struct {
	sp  *splice
	src *Stream
}

// pumpSplices forwards what the streams of fr.pumps got in a read.
// The writes the pumps owe are done once all have forwarded, so that a
// read's frames for one link go out in one write.
func (fr *frameReader) pumpSplices() {
	for _, p := range fr.pumps {
		p.sp.forward(p.src)
	}
	for i, p := range fr.pumps {
		p.sp.other(p.src).sess.flushOwed()
		fr.pumps[i] = pump{}
	}
	fr.pumps = fr.pumps[:0]
}

// Splice joins a and b: from now on the bytes that arrive on a are sent on
// b and the other way round (message boundaries kept), inside the two
// sessions' own reader and writer goroutines, with each stream's flow
// control carrying the backpressure; a FIN on one becomes a FIN on the
// other, and a reset of either, or the end of either session, resets both.
// What a or b had received and nobody read is forwarded first. done, which
// may be nil, is called once, in no particular goroutine, when both
// directions are over: with nil after a FIN each way, or with the first
// error. After Splice the caller must not Read, Recv, Write, Send or Close
// a or b; Reset is allowed and ends both.
func Splice(a, b *Stream, done func(error)) error {
	var end SpliceEnder
	if done != nil {
		end = funcEnder(done)
	}
	return new(Splicing).Join(a, b, end)
}

// Join splices a and b as Splice does, keeping the splice's state in j,
// and calls end.SpliceEnded, if end is not nil, where Splice would call
// done. j must not have been joined before, and stays in use as long as
// a or b refers to it (for SplicedBytes): for good, in practice.
func (j *Splicing) Join(a, b *Stream, end SpliceEnder) error {
	if a == nil || b == nil || a == b || j.sp.a != nil {
		return ErrSpliced
	}
	if uintptr(unsafe.Pointer(b)) < uintptr(unsafe.Pointer(a)) {
		a, b = b, a // the lock order
	}
	sp := &j.sp
	sp.a, sp.b, sp.end = a, b, end
	sp.left.Store(2)
	sp.lock()
	ok := a.sp == nil && b.sp == nil && a.state&(stClosed|stLocalFIN) == 0 &&
		b.state&(stClosed|stLocalFIN) == 0 && a.err == nil && b.err == nil
	if ok {
		a.sp, b.sp = sp, sp
		for _, st := range [2]*Stream{a, b} {
			if st.rq.len() == 0 {
				st.trimQueue() // drained: a spliced stream keeps no queue
			}
		}
		a.sess.rd.splices.Add(1) // their readers keep short grace periods (lead.go)
		b.sess.rd.splices.Add(1)
	}
	sp.unlock()
	if !ok {
		return ErrSpliced
	}
	sp.pump(a)
	sp.pump(b)
	return nil
}

// SplicedBytes returns the bytes that the splice st is part of has
// forwarded: from st to the stream spliced to it (what arrived on st),
// and from that stream to st. Both are 0 if st was never spliced; after
// the splice ended they stay as they were. It is safe to call at any
// time, from any goroutine.
func (st *Stream) SplicedBytes() (from, to uint64) {
	st.mu.Lock()
	sp := st.sp
	st.mu.Unlock()
	if sp == nil {
		return 0, 0
	}
	i := sp.dir(st)
	return sp.moved[i].Load(), sp.moved[1-i].Load()
}

// Bytes returns the bytes that j's splice has forwarded, both ways; 0
// before Join.
func (j *Splicing) Bytes() uint64 {
	return j.sp.moved[0].Load() + j.sp.moved[1].Load()
}

func (sp *splice) lock() {
	sp.a.mu.Lock()
	sp.b.mu.Lock()
}

func (sp *splice) unlock() {
	sp.b.mu.Unlock()
	sp.a.mu.Unlock()
}

// other returns the stream spliced to st.
func (sp *splice) other(st *Stream) *Stream {
	if st == sp.a {
		return sp.b
	}
	return sp.a
}

// dir is the index of the direction whose source is src.
func (sp *splice) dir(src *Stream) int {
	if src == sp.a {
		return 0
	}
	return 1
}

// pump forwards what it can from src to the stream spliced to it, and
// writes it if it owes the write (Session.flushOwed). It must be called
// with no stream or session lock held.
func (sp *splice) pump(src *Stream) {
	sp.forward(src)
	sp.other(src).sess.flushOwed()
}

// forward is pump but for the write it may owe: its caller then calls
// flushOwed of the destination's session.
func (sp *splice) forward(src *Stream) {
	i := sp.dir(src)
	if sp.ended[i].Load() {
		return
	}
	sp.lock()
	over, failed := sp.forwardLocked(src, sp.other(src))
	sp.unlock()
	switch {
	case failed:
		sp.finish(0)
		sp.finish(1)
	case over:
		sp.finish(i)
	}
}

// pumpTo pumps the direction whose destination is dst, which has credit or
// room again, or has failed.
func (sp *splice) pumpTo(dst *Stream) { sp.pump(sp.other(dst)) }

// finish marks direction i over, once, and calls done when both are.
func (sp *splice) finish(i int) {
	if sp.ended[i].CompareAndSwap(false, true) && sp.left.Add(-1) == 0 {
		sp.a.sess.rd.splices.Add(-1)
		sp.b.sess.rd.splices.Add(-1)
		if sp.end != nil {
			sp.end.SpliceEnded(sp.err)
		}
	}
}

// forwardLocked moves src's received data to dst while dst takes it, and
// passes on src's FIN once all is forwarded; the credit of what went on,
// or was dropped, goes back to src's peer. It reports whether this
// direction is over, and whether both are because a stream was reset or a
// session failed (then both streams are reset). Both locks must be held.
func (sp *splice) forwardLocked(src, dst *Stream) (over, failed bool) {
	if sp.failedLocked(src, dst) {
		return true, true
	}
	if dst.sess.isClosed() || dst.sess.life.werr.Load() != nil {
		// dst's session ended after dst got its peer's FIN (else
		// failedLocked reset both): its peer is gone, having sent all it
		// had, and what src gets has nowhere to go. Drop it, as a closed
		// socket would, while the other direction delivers the rest.
		src.consumedLocked(src.discardLocked())
		return src.state&stRemoteFIN != 0, false
	}
	credit, all := sp.moveLocked(src, dst)
	src.consumedLocked(credit) // the credit goes back as the data goes on
	if !all || src.state&stRemoteFIN == 0 {
		return false, false // dst pumps again when it has room
	}
	if dst.state&stLocalFIN == 0 { // all forwarded, and the peer is done
		dst.state |= stLocalFIN
		dst.sess.sendq.queueFIN(dst.id, dst.class)
		dst.removeIfDoneLocked()
	}
	return true, false
}

// moveLocked relays src's received data on dst, as much as dst takes, and
// returns the credit of what went, and whether all did. Both locks must be
// held.
func (sp *splice) moveLocked(src, dst *Stream) (credit uint32, all bool) {
	moved := &sp.moved[sp.dir(src)]
	if len(src.partial) > 0 { // what a Recv before Splice had assembled
		n, _ := dst.relayLocked(src.partial, false)
		moved.Add(uint64(n))
		src.partial = src.partial[n:]
		if len(src.partial) > 0 {
			return 0, false
		}
		src.partial = nil
	}
	for src.rq.len() > 0 {
		c := src.rq.front()
		n, all := dst.relayLocked(c.b[c.off:], c.eom)
		moved.Add(uint64(n))
		c.off += n
		if !all {
			return credit, false
		}
		credit += c.cost
		c.release()
		src.popChunk()
	}
	return credit, true
}

// failedLocked resets both streams if either was reset, or if its session
// ended or can no longer write before the stream got its peer's FIN (what
// its peer sent is then incomplete), and reports whether it did. A
// session that ends after its stream's FIN fails nothing: the data goes on
// to the other stream, and the other way is dropped (see forwardLocked).
func (sp *splice) failedLocked(src, dst *Stream) bool {
	var cause error
	code := CodeCancel
	for _, st := range [2]*Stream{src, dst} {
		switch {
		case st.err != nil:
			cause = st.err
			var se *StreamError
			if errors.As(st.err, &se) {
				code = se.Code
			}
		case st.state&stRemoteFIN != 0:
			// All st will ever get is here: if its session has ended
			// since, what it got still goes on (see forwardLocked).
		case st.sess.isClosed():
			cause = st.sess.closedErr()
		case st.sess.life.werr.Load() != nil:
			cause = &sessionError{cause: *st.sess.life.werr.Load()}
		}
		if cause != nil {
			break
		}
	}
	if cause == nil {
		return false
	}
	if sp.err == nil {
		sp.err = cause
	}
	src.abortLocked(code, false)
	dst.abortLocked(code, false)
	return true
}

// relayLocked queues what it can of p on st, a spliced stream, as stream
// data that ends a message if eom: as much as st's credit and its session's
// send buffer take. It returns how much it queued and whether all of p
// went, with its EOM; if not, st waits for credit or room, and its splice
// is pumped again when it comes (wakeSenders). st.mu must be held.
func (st *Stream) relayLocked(p []byte, eom bool) (n int, all bool) {
	all = st.sess.sendq.relayData(st, p, &n, eom)
	return n, all
}
