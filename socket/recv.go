package socket

import (
	"context"
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

// pop takes the next message, waiting for one.
func (s *sock) pop(ctx context.Context) (entry, error) {
	q := &s.rq
	var (
		tm  *time.Timer
		dl  time.Time
		dlt bool
	)
	defer stopTimer(tm)
	q.mu.Lock()
	for q.n == 0 {
		if q.closed {
			q.mu.Unlock()
			return entry{}, ErrClosed
		}
		if !dlt {
			dl, dlt = deadline(&s.recvDeadline, s.o.recvTimeout), true
		}
		if p := s.single.Load(); p != nil && q.direct == nil && p.takeRole() {
			// Read the one pipe from this goroutine.
			q.direct = p
			q.mu.Unlock()
			e, ok, err := p.readDirect(ctx, dl)
			q.mu.Lock()
			q.direct = nil
			p.releaseRole()
			if q.waiters > 0 {
				broadcast(&q.dataCh) // one of them may read now
			}
			if ok || err != nil {
				q.mu.Unlock()
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

// Recv implements Receiver.
func (s *sock) Recv() ([]byte, error) { return s.RecvContext(nil) }

// RecvContext implements Receiver.
func (s *sock) RecvContext(ctx context.Context) ([]byte, error) {
	if s.o.noRecv {
		return nil, ErrInvalidRecvType
	}
	e, err := s.pop(ctx)
	if err != nil {
		return nil, err
	}
	return e.buf[e.h.len:], nil
}

// RecvInto implements Receiver.
func (s *sock) RecvInto(ctx context.Context, buf []byte) ([]byte, error) {
	if s.o.noRecv {
		return buf[:0], ErrInvalidRecvType
	}
	if !s.recycle.Load() {
		s.recycle.Store(true)
	}
	e, err := s.pop(ctx)
	if err != nil {
		return buf[:0], err
	}
	buf = append(buf[:0], e.buf[e.h.len:]...)
	if e.pooled {
		bufpool.Put(e.buf)
	}
	return buf, nil
}

// RecvMsg implements Receiver.
func (s *sock) RecvMsg() (*Message, error) { return s.RecvMsgContext(nil) }

// RecvMsgContext implements Receiver.
func (s *sock) RecvMsgContext(ctx context.Context) (*Message, error) {
	if s.o.noRecv {
		return nil, ErrInvalidRecvType
	}
	e, err := s.pop(ctx)
	if err != nil {
		return nil, err
	}
	m := &Message{Content: e.buf[e.h.len:], TTL: e.h.ttl, recvd: true, from: s}
	e.h.paths(s.proto.Header, e.buf[:e.h.len], e.pipe, m)
	return m, nil
}
