package socket

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/internal/bufpool"
	"github.com/plexusnet/plexus/internal/fastio"
	"github.com/plexusnet/plexus/internal/timerref"
	"github.com/plexusnet/plexus/transport"
)

// maxKeptBuf bounds the write buffers a pipe keeps between batches.
const maxKeptBuf = 4 << 20

// maxReadBatch bounds how many messages a reader hands over at once.
const maxReadBatch = 256

// pipeTimers are the timers of a pipe, and the pipe as they reach it.
type pipeTimers struct {
	// Owned by the holder of the read role: the timer that interrupts a
	// direct read at its deadline (made by the first such read).
	dl *time.Timer
	// self is the pipe as its timers reach it (dl, the idle watch's):
	// close clears it, so that a stopped timer, which the runtime keeps
	// until its original time, holds nothing of the pipe's.
	self *timerref.Ref[pipe]
}

// pipe is one connection of a socket, with a reader and a writer
// goroutine.
type pipe struct {
	s      *sock
	id     uint32
	tp     transport.Pipe
	dialer *dialer
	lp     *listenerPeers // the listener's count, for an accepted pipe
	silent *idleWatch     // WithIdleTimeout, on accepted pipes; nil: off

	// Guarded by s.sq.mu.
	own     []byte // frames only this pipe may send
	ownN    int
	idle    bool
	idleGen uint32
	dead    bool
	flush   bool   // the transport holds part of an inline write
	lagging bool   // sends to the full own queue fail at once (see peerStall)
	batches uint64 // batches taken so far: progress, for peerStall

	try transport.TrySender // nil if the transport cannot write without waiting
	// When the last write ended (mono), for canInline; zero once a
	// receiver has read a message from the pipe since: the next send
	// answers the peer.
	lastWrite atomic.Int64

	// The read role: who calls tp.Recv, a fastio.Token. The reader
	// goroutine holds it until receivers are seen waiting on a socket with
	// this one pipe; then it lets them read directly (they lead), which
	// saves a goroutine switch per message, and takes the role back once
	// they stop: once the token has stayed free for the free watch.
	intr  transport.Interrupter // nil: the pipe cannot be read directly
	token fastio.Token
	watch atomic.Int64  // the free watch, in nanoseconds; set by the reader goroutine
	reads atomic.Uint64 // direct reads so far

	// Owned by the reader goroutine: when it last took the role back.
	lastTake time.Time
	timers   pipeTimers

	wake chan struct{} // capacity 1: work for an idle writer
	done chan struct{} // closed when the pipe closes
	once sync.Once

	// Owned by the writer goroutine.
	a, b []byte
	bufs [2][]byte

	hookMu    sync.Mutex
	announced bool
}

func newPipe(s *sock, tp transport.Pipe, d *dialer) *pipe {
	p := &pipe{
		s:      s,
		tp:     tp,
		dialer: d,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	p.timers.self = timerref.New(p)
	p.try, _ = tp.(transport.TrySender)
	if i, ok := tp.(transport.Interrupter); ok && i.Interruptible() {
		p.intr = i
		p.token.Init(nil, nil)
	}
	return p
}

// close tears the pipe down once; err says why.
func (p *pipe) close(err error) {
	p.once.Do(func() {
		s := p.s
		s.c.pipesClosed.Add(1)
		p.silent.stop()
		p.timers.self.Clear()
		if p.intr != nil {
			p.token.End(nil)
		}
		// The reason is counted before the connection closes: a peer that
		// sees the close and asks for Stats finds it.
		switch {
		case errors.Is(err, transport.ErrMsgTooLarge):
			s.c.oversize.Add(1)
		case errors.Is(err, transport.ErrProtocol), errors.Is(err, errMalformed):
			s.c.protocolErrors.Add(1)
		case err == errIdle:
			s.c.idleTimeouts.Add(1)
		}
		s.sq.remove(p)
		p.tp.Close()
		close(p.done)
		s.logf("socket: pipe closed", "pipe", p.id, "remote", p.tp.RemoteAddr(), "err", err)
		p.hookMu.Lock()
		if p.announced {
			for _, f := range s.o.pipeHooks {
				f(PipeRemoved, p.id)
			}
			if h := s.hk.pipe; h != nil {
				h.PipeRemoved(p.id)
			}
		}
		p.announced = false
		p.hookMu.Unlock()
	})
}

// announce reports the new pipe to the pipe hook, unless it closed first.
func (p *pipe) announce() {
	if len(p.s.o.pipeHooks) == 0 && p.s.hk.pipe == nil {
		return
	}
	p.hookMu.Lock()
	defer p.hookMu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	p.announced = true
	for _, f := range p.s.o.pipeHooks {
		f(PipeAdded, p.id)
	}
	if h := p.s.hk.pipe; h != nil {
		h.PipeAdded(p.id)
	}
}

// writeLoop writes batches: all that waits for this pipe and all that
// waits for any pipe, in one Send, as long as there is some.
func (p *pipe) writeLoop() {
	q := &p.s.sq
	q.mu.Lock()
	for !p.dead {
		if p.ownN == 0 && q.sharedN == 0 && !p.flush {
			q.goIdle(p)
			q.mu.Unlock()
			select {
			case <-p.wake:
			case <-p.done:
			}
			q.mu.Lock()
			continue
		}
		k, n := p.takeBatch()
		p.flush = false
		q.mu.Unlock()

		err := p.tp.Send(p.bufs[:k]...)
		p.wrote(k, n, err)

		q.mu.Lock()
		p.lastWrite.Store(mono())
		p.caughtUp()
		q.busy--
		q.checkDrained()
		if err != nil {
			q.mu.Unlock()
			p.close(err)
			q.mu.Lock()
			break
		}
	}
	q.mu.Unlock()
}

// caughtUp ends the lagging state once a write left nothing queued for
// p: its peer took all it was sent. Called with s.sq.mu held.
func (p *pipe) caughtUp() {
	if p.lagging && p.ownN == 0 && !p.flush {
		p.lagging = false
	}
}

// takeBatch moves what waits for p into p.bufs, returning the number of
// buffers and of messages. Called with s.sq.mu held by the goroutine that
// holds the writer role.
func (p *pipe) takeBatch() (k, n int) {
	q := &p.s.sq
	if p.ownN > 0 {
		p.a, p.own = p.own, p.a[:0]
		p.bufs[k] = p.a
		k++
		n += p.ownN
		p.ownN = 0
	}
	if q.sharedN > 0 {
		p.b, q.shared = q.shared, p.b[:0]
		p.bufs[k] = p.b
		k++
		n += q.sharedN
		q.sharedN = 0
		for _, tag := range q.tags {
			for _, f := range p.s.o.sendHooks {
				f(p.id, tag)
			}
			if h := p.s.hk.take; h != nil {
				h.Taken(p.id, tag)
			}
		}
		q.tags = q.tags[:0]
	}
	q.busy++
	p.batches++
	if q.spaceWait > 0 {
		broadcast(&q.spaceCh)
	}
	return k, n
}

// wrote accounts for a batch written (or not) and releases the buffers.
func (p *pipe) wrote(k, n int, err error) {
	if err == nil && n > 0 {
		c := &p.s.c
		c.msgsSent.Add(uint64(n))
		c.bytesSent.Add(uint64(len(p.bufs[0]) + len(p.bufs[1]) - n*transport.FrameHeaderLen))
	}
	p.bufs = [2][]byte{}
	if cap(p.a) > maxKeptBuf {
		p.a = nil
	}
	if cap(p.b) > maxKeptBuf {
		p.b = nil
	}
}

// inlineGap is how long a pipe's writer must have been idle before a
// sender writes a message itself instead of waking the writer: a request
// after a round trip is written at once, while a stream of sends goes to
// the writer goroutine, which batches it. A message read from the pipe
// by a receiver since the last write ends the wait at once: the next send
// is an answer, however soon it comes (on a busy machine the thread that
// wrote may have been descheduled between its write and its reading of
// the clock, which made that write look recent).
const inlineGap = 5 * time.Microsecond

// canInline reports whether the sender may write for p now. Called with
// s.sq.mu held, p idle and holding work.
func (p *pipe) canInline() bool {
	return p.try != nil && !p.flush && !(p.ownN > 0 && p.s.sq.sharedN > 0) &&
		mono()-p.lastWrite.Load() >= int64(inlineGap)
}

// writeInline writes what waits for the idle pipe p from the sending
// goroutine, without waiting for the connection. Called with s.sq.mu held;
// returns with it released.
func (p *pipe) writeInline() {
	q := &p.s.sq
	p.idle = false
	k, n := p.takeBatch()
	q.mu.Unlock()

	done, err := p.try.TrySend(p.bufs[0])
	p.wrote(k, n, err)

	q.mu.Lock()
	p.lastWrite.Store(mono())
	q.busy--
	if err != nil {
		q.checkDrained()
		q.mu.Unlock()
		p.close(err)
		return
	}
	p.flush = !done
	p.caughtUp()
	if p.flush || p.ownN > 0 || q.sharedN > 0 {
		signal(p.wake) // the writer goroutine finishes the job
	} else {
		q.goIdle(p)
	}
	q.mu.Unlock()
}

// How long the read role stays free for receivers. Once the role has
// stayed free for the pipe's free watch, with nobody reading, the reader
// goroutine reads again itself, so that a peer that leaves is noticed with
// nobody receiving. The free watch starts at freeWatchMin and doubles, up
// to freeWatchMax, each time the reader took the role back too early
// (receivers were waiting again soon after): it adapts to the pace of the
// traffic. It stays short, because while the role is free nobody notices
// the peer leave; traffic slower than that gains little from direct reads.
const (
	freeWatchMin = 250 * time.Microsecond
	freeWatchMax = 2 * time.Millisecond
)

// errIdle is why WithIdleTimeout closes a pipe.
var errIdle = errors.New("socket: the peer sent nothing for the idle timeout")

// idleWatch closes a pipe whose peer sends no message for d
// (WithIdleTimeout). Its timer checks when the last message came and
// re-arms for the rest of d; the readers only store a time, once per
// batch of messages.
type idleWatch struct {
	d    time.Duration
	last atomic.Int64 // unix nanoseconds of the last message (or of the start)
	busy atomic.Bool  // the reader waits for room in the receive queue: not idle

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// start arms the watch of p.
func (w *idleWatch) start(p *pipe) {
	w.heard()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.timer = timerref.AfterFunc(w.d, p.timers.self, w.check)
	}
}

// check closes p if its peer has been silent for d, or re-arms.
func (w *idleWatch) check(p *pipe) {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	quiet := max(time.Duration(time.Now().UnixNano()-w.last.Load()), 0)
	switch {
	case w.busy.Load(): // waiting for the application, not for the peer
		w.timer.Reset(w.d)
		w.mu.Unlock()
		return
	case quiet < w.d:
		w.timer.Reset(w.d - quiet)
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	p.close(errIdle)
}

// stop ends the watch for good. A nil watch does nothing.
func (w *idleWatch) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
}

// heard notes that a message came now.
func (w *idleWatch) heard() { w.last.Store(time.Now().UnixNano()) }

// delivering notes that the reader starts (true) or stops waiting for room
// in the receive queue; the wait does not count as silence.
func (w *idleWatch) delivering(on bool) {
	if w == nil {
		return
	}
	if !on {
		w.heard()
	}
	w.busy.Store(on)
}

// counted adds st to the socket's counters and, if st holds messages,
// notes for the idle timeout that the peer was heard from.
func (p *pipe) counted(st *recvCounts) {
	if p.silent != nil && st.msgs > 0 {
		p.silent.heard()
	}
	st.add(&p.s.c)
}

// recvCounts accumulates receive counters between flushes.
type recvCounts struct{ msgs, bytes, ttl, filt uint64 }

func (st *recvCounts) add(c *counters) {
	if st.msgs > 0 {
		c.msgsRecv.Add(st.msgs)
		c.bytesRecv.Add(st.bytes)
	}
	if st.ttl > 0 {
		c.ttlDropped.Add(st.ttl)
	}
	if st.filt > 0 {
		c.filtered.Add(st.filt)
	}
	*st = recvCounts{}
}

// accept checks a received payload and copies it for the receive queue.
// ok is false for a message dropped (TTL) or discarded (filter, NoRecv);
// an error means the peer broke the rules and the pipe must close.
func (p *pipe) accept(payload []byte, st *recvCounts) (entry, bool, error) {
	s := p.s
	st.msgs++
	st.bytes += uint64(len(payload))
	h, err := parseHeader(s.proto.Header, payload, s.ttl)
	switch {
	case err == errTTL:
		st.ttl++
		return entry{}, false, nil
	case err != nil:
		return entry{}, false, err
	case s.o.noRecv:
		st.filt++
		return entry{}, false, nil
	case s.o.recvFilter != nil && !s.o.recvFilter(payload[h.len:]):
		st.filt++
		return entry{}, false, nil
	case s.hk.filter != nil && !s.hk.filter.Filter(Incoming{Content: payload[h.len:], Pipe: p.id, TTL: h.ttl, f: s.proto.Header, hdr: payload[:h.len], h: h}):
		st.filt++
		return entry{}, false, nil
	}
	var buf []byte
	pooled := s.recycle.Load()
	if pooled {
		buf = bufpool.Get(len(payload))
	} else {
		buf = make([]byte, len(payload))
	}
	copy(buf, payload)
	return entry{buf: buf, h: h, pipe: p.id, pooled: pooled}, true, nil
}

// closeRead closes the pipe after a receive error.
func (p *pipe) closeRead(err error) {
	if errors.Is(err, io.EOF) {
		err = nil
	}
	p.close(err)
}

// readLoop reads messages, checks their headers and hands them to the
// receive queue in batches.
func (p *pipe) readLoop() {
	s := p.s
	batch := make([]entry, 0, min(s.o.recvQueueSize, maxReadBatch))
	var st recvCounts
	flush := func() (woke bool) {
		// Counted before the batch is handed over: a Recv that returns one
		// of its messages finds it in Stats.
		p.counted(&st)
		if len(batch) > 0 {
			p.silent.delivering(true)
			woke = s.rq.push(batch, p.done, p)
			p.silent.delivering(false)
			clear(batch)
			batch = batch[:0]
		}
		return woke
	}
	if p.intr != nil && !p.token.Take(p.done) { // the reader goroutine reads first
		return
	}
	for {
		payload, err := p.tp.Recv()
		if err != nil {
			if errors.Is(err, transport.ErrInterrupted) {
				continue // meant for a receiver that has finished
			}
			flush()
			p.closeRead(err)
			return
		}
		e, ok, err := p.accept(payload, &st)
		if err != nil {
			flush()
			p.close(err)
			return
		}
		if ok {
			batch = append(batch, e)
		}
		if len(batch) == cap(batch) || !p.tp.Buffered() {
			if flush() && p.intr != nil && s.single.Load() == p && !s.isClosing() {
				// Receivers wait for this pipe: let them read it.
				if !p.yieldRole() {
					return
				}
			}
		}
	}
}

// yieldRole lets receivers read the pipe directly and waits until it
// should read again. It reports false once the pipe has closed.
func (p *pipe) yieldRole() bool {
	w := time.Duration(p.watch.Load())
	if w == 0 {
		w = freeWatchMin
	} else if time.Since(p.lastTake) < 2*w {
		w = min(2*w, freeWatchMax)
	}
	p.watch.Store(int64(w))
	p.token.Release(w)
	if !p.token.Take(p.done) {
		return false
	}
	p.lastTake = time.Now()
	return true
}

// takeRole gives the read role to a receiver if it is free.
func (p *pipe) takeRole() bool { return p.token.TryLead(nil) }

// releaseRole ends a direct read. The role stays free for the free watch,
// for the next receiver, unless the reader goroutine should take over now.
func (p *pipe) releaseRole() {
	p.reads.Add(1)
	grace := time.Duration(p.watch.Load())
	if p.s.single.Load() != p || p.s.isClosing() {
		grace = 0
	}
	p.token.Release(grace)
}

// readNow makes the reader goroutine take the read role back at once if
// it is free: the pipe is no longer the socket's only one, or the socket
// is closing.
func (p *pipe) readNow() {
	if p.intr != nil {
		p.token.EndGrace()
	}
}

// interrupt interrupts a direct read (timers.dl).
func (p *pipe) interrupt() { p.intr.Interrupt() }

// readDirect reads the pipe from a receiving goroutine. It returns the
// first message accepted; with
// ok false and no error the caller must look at the queue again: the read
// was interrupted (another pipe queued a message, the socket is closing)
// or the pipe failed.
func (p *pipe) readDirect(ctx context.Context, dl time.Time) (e entry, ok bool, err error) {
	if ctx != nil && ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return entry{}, false, err
		}
		stop := context.AfterFunc(ctx, p.intr.Interrupt)
		defer stop()
	}
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return entry{}, false, os.ErrDeadlineExceeded
		}
		if p.timers.dl == nil {
			p.timers.dl = timerref.AfterFunc(d, p.timers.self, (*pipe).interrupt)
		} else {
			p.timers.dl.Reset(d)
		}
		defer p.timers.dl.Stop()
	}
	var st recvCounts
	defer p.counted(&st)
	for {
		payload, rerr := p.tp.Recv()
		if rerr != nil {
			if !errors.Is(rerr, transport.ErrInterrupted) {
				p.closeRead(rerr)
				return entry{}, false, nil
			}
			if ctx != nil && ctx.Err() != nil {
				return entry{}, false, ctx.Err()
			}
			if !dl.IsZero() && !time.Now().Before(dl) {
				return entry{}, false, os.ErrDeadlineExceeded
			}
			return entry{}, false, nil
		}
		e, ok, aerr := p.accept(payload, &st)
		if aerr != nil {
			p.close(aerr)
			return entry{}, false, nil
		}
		if !ok {
			continue
		}
		// The messages already buffered are left to drainBuffered.
		return e, true, nil
	}
}

// drainBuffered moves the messages the transport already holds whole
// into the receive queue, as far as it has room, without a system call:
// the next receives take them from there instead of each taking the read
// role for one message. Called by a receiver that holds the read role,
// with s.rq.mu held; an error means the pipe must close (the caller does
// it, after releasing s.rq.mu).
func (p *pipe) drainBuffered(q *recvQueue) error {
	var st recvCounts
	defer p.counted(&st) // before the messages can be taken: q.mu is held
	for n := 0; q.n < len(q.ring) && n < maxReadBatch && p.tp.Buffered(); n++ {
		payload, err := p.tp.Recv()
		if errors.Is(err, transport.ErrInterrupted) {
			return nil // meant for a receive that has finished
		}
		if err != nil {
			return err
		}
		e, ok, err := p.accept(payload, &st)
		if err != nil {
			return err
		}
		if ok {
			q.ring[(q.head+q.n)%len(q.ring)] = e
			q.n++
		}
	}
	return nil
}
