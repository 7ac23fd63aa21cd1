package socket

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/plexusnet/plexus/internal/bufpool"
)

// entry is a received message waiting for Recv: a private copy of its
// payload (header and content) and what its header said.
type entry struct {
	buf    []byte
	h      parsedHeader
	pipe   uint32
	pooled bool // buf came from bufpool (the socket recycles, see RecvInto)
}

// recvQueue is a ring of received messages. Readers push batches under
// one lock; Recv pops one at a time.
type recvQueue struct {
	mu       sync.Mutex
	ring     []entry
	head, n  int
	waiters  int
	dataCh   chan struct{}
	fullWait int
	spaceCh  chan struct{}
	closed   bool
	direct   *pipe // the pipe a receiver is reading directly, if any
}

func (q *recvQueue) init(size int) { q.ring = make([]entry, size) }

// push appends batch from pipe from, waiting for room while the queue is
// full. It gives up when gone is closed (the pipe is closing) and drops
// everything once the queue is closed. It reports whether receivers were
// waiting for it.
func (q *recvQueue) push(batch []entry, gone <-chan struct{}, from *pipe) (woke bool) {
	q.mu.Lock()
	if q.direct != nil && q.direct != from {
		// A receiver is blocked reading another pipe: have it look here.
		q.direct.intr.Interrupt()
	}
	for len(batch) > 0 {
		if q.closed {
			break
		}
		free := len(q.ring) - q.n
		if free == 0 {
			q.fullWait++
			ch := waitChan(&q.spaceCh)
			q.mu.Unlock()
			select {
			case <-ch:
			case <-gone:
				q.mu.Lock()
				q.fullWait--
				q.mu.Unlock()
				return woke
			}
			q.mu.Lock()
			q.fullWait--
			continue
		}
		k := min(free, len(batch))
		tail := (q.head + q.n) % len(q.ring)
		for i := 0; i < k; i++ {
			q.ring[tail] = batch[i]
			tail++
			if tail == len(q.ring) {
				tail = 0
			}
		}
		q.n += k
		batch = batch[k:]
		if q.waiters > 0 {
			woke = true
			broadcast(&q.dataCh)
		}
	}
	q.mu.Unlock()
	return woke
}

// errHandlerDeadline: the deadline a RecvHook gave passed.
var errHandlerDeadline = errors.New("socket: the handler's receive deadline passed")

// pop takes the next message, waiting for one. A deadline hdl other than
// zero (a RecvHook's) bounds the wait too: when it is what ends the wait,
// pop returns errHandlerDeadline.
// recvDeadline is a receive's own deadline (SetRecvDeadline,
// WithRecvTimeout), worked out when the receive first waits and kept
// across the pops of one receive: messages a handler drops do not restart
// the timeout, so a peer that keeps sending what is dropped cannot hold a
// receive past it.
type recvDeadline struct {
	t   time.Time
	set bool
}

func (s *sock) pop(ctx context.Context, hdl time.Time, rd *recvDeadline) (entry, error) {
	q := &s.rq
	var (
		tm     *time.Timer
		dl     time.Time
		dlt    bool
		byHook bool // dl is hdl
		own    recvDeadline
	)
	if rd == nil {
		rd = &own
	}
	defer func() { putTimer(tm) }()
	q.mu.Lock()
	for q.n == 0 {
		if q.closed {
			q.mu.Unlock()
			return entry{}, ErrClosed
		}
		if !dlt {
			if !rd.set {
				rd.t, rd.set = deadline(&s.recvDeadline, s.o.recvTimeout), true
			}
			dl, dlt = rd.t, true
			if !hdl.IsZero() && (dl.IsZero() || hdl.Before(dl)) {
				dl, byHook = hdl, true
			}
		}
		if p := s.single.Load(); p != nil && q.direct == nil && p.takeRole() {
			// Read the one pipe from this goroutine.
			q.direct = p
			q.mu.Unlock()
			e, ok, err := p.readDirect(ctx, dl)
			q.mu.Lock()
			var derr error
			if ok {
				p.lastWrite.Store(0) // the next send answers (see inlineGap)
				derr = p.drainBuffered(q)
			}
			q.direct = nil
			p.releaseRole()
			if q.waiters > 0 {
				broadcast(&q.dataCh) // one of them may read now
			}
			if ok || err != nil {
				q.mu.Unlock()
				if derr != nil {
					p.closeRead(derr)
				}
				if byHook && err == os.ErrDeadlineExceeded {
					err = errHandlerDeadline
				}
				return e, err
			}
			continue
		}
		q.waiters++
		ch := waitChan(&q.dataCh)
		q.mu.Unlock()
		err := wait(ctx, ch, s.closing, dl, &tm)
		q.mu.Lock()
		q.waiters--
		if err != nil {
			q.mu.Unlock()
			if byHook && err == os.ErrDeadlineExceeded {
				err = errHandlerDeadline
			}
			return entry{}, err
		}
	}
	e := q.ring[q.head]
	q.ring[q.head] = entry{}
	q.head++
	if q.head == len(q.ring) {
		q.head = 0
	}
	q.n--
	// Wake a blocked reader once half the queue is free, so that it
	// moves a batch rather than one message at a time.
	if q.fullWait > 0 && q.n <= len(q.ring)/2 {
		broadcast(&q.spaceCh)
	}
	if q.n > 0 && q.waiters > 0 {
		broadcast(&q.dataCh)
	}
	q.mu.Unlock()
	return e, nil
}

// purge implements Core.Purge.
func (s *sock) purge(keep func(Incoming) bool, limit int) int {
	q := &s.rq
	q.mu.Lock()
	kept, dropped := 0, 0
	size := len(q.ring)
	limit = min(limit, size/2) // leave the readers room
	for i := 0; i < q.n; i++ {
		e := q.ring[(q.head+i)%size]
		if kept < limit && keep(s.incoming(&e)) {
			q.ring[(q.head+kept)%size] = e
			kept++
			continue
		}
		s.release(&e)
		dropped++
	}
	for i := kept; i < q.n; i++ {
		q.ring[(q.head+i)%size] = entry{}
	}
	q.n = kept
	if dropped > 0 && q.fullWait > 0 {
		broadcast(&q.spaceCh)
	}
	q.mu.Unlock()
	s.c.filtered.Add(uint64(dropped))
	return dropped
}

// release gives the buffer of a message nobody will see back.
func (s *sock) release(e *entry) {
	if e.pooled {
		bufpool.Put(e.buf)
	}
	*e = entry{}
}

// close drops what is queued and wakes everybody.
func (q *recvQueue) close() {
	q.mu.Lock()
	q.closed = true
	if q.direct != nil {
		q.direct.intr.Interrupt()
	}
	clear(q.ring)
	q.n = 0
	broadcast(&q.dataCh)
	broadcast(&q.spaceCh)
	q.mu.Unlock()
}

// The receives. Each method of Receiver is here once, for every
// protocol; a handler with a RecvHook takes part in each.

// recv takes the next message for a receive, with the handler's say.
func (s *sock) recv(ctx context.Context) (entry, error) {
	if s.o.noRecv {
		return entry{}, ErrInvalidRecvType
	}
	h := s.hk.recv
	if h == nil {
		return s.pop(ctx, time.Time{}, nil)
	}
	waited := false
	var rd recvDeadline
	for {
		if s.isClosing() {
			return entry{}, ErrClosed
		}
		hdl, err := h.BeforeRecv(waited)
		if err != nil {
			return entry{}, err
		}
		e, err := s.pop(ctx, hdl, &rd)
		waited = true
		if err == errHandlerDeadline {
			continue // the handler says what now
		}
		if err != nil {
			return entry{}, err
		}
		if h.Received(s.incoming(&e)) {
			return e, nil
		}
		s.release(&e)
		s.c.filtered.Add(1)
	}
}

// Recv implements Receiver.
func (s *sock) Recv() ([]byte, error) { return s.RecvContext(nil) }

// RecvContext implements Receiver.
func (s *sock) RecvContext(ctx context.Context) ([]byte, error) {
	e, err := s.recv(ctx)
	if err != nil {
		return nil, err
	}
	return e.buf[e.h.len:], nil
}

// RecvInto implements Receiver.
func (s *sock) RecvInto(ctx context.Context, buf []byte) ([]byte, error) {
	if !s.recycle.Load() && !s.o.noRecv {
		s.recycle.Store(true)
	}
	e, err := s.recv(ctx)
	if err != nil {
		return buf[:0], err
	}
	buf = append(buf[:0], e.buf[e.h.len:]...)
	s.release(&e)
	return buf, nil
}

// RecvMsg implements Receiver.
func (s *sock) RecvMsg() (*Message, error) { return s.RecvMsgContext(nil) }

// RecvMsgContext implements Receiver.
func (s *sock) RecvMsgContext(ctx context.Context) (*Message, error) {
	e, err := s.recv(ctx)
	if err != nil {
		return nil, err
	}
	m := &Message{Content: e.buf[e.h.len:], TTL: e.h.ttl, recvd: true, from: s}
	e.h.paths(s.proto.Header, e.buf[:e.h.len], e.pipe, m)
	return m, nil
}
