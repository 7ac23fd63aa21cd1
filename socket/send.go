package socket

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// sendQueue holds what waits to be written: the frames any pipe may take
// (sends to one peer) and, in each pipe, the frames only it may take
// (SendTo, SendAll). One mutex guards all of it and the pipe set, so a
// writer decides atomically whether it has work or goes idle.
type sendQueue struct {
	s  *sock
	mu sync.Mutex

	pipes  map[uint32]*pipe
	live   []*pipe // in order of arrival
	nextID uint32

	shared   []byte      // frames for any pipe
	sharedN  int         // messages in shared
	tags     []uint32    // with send hooks: the tag of each message in shared
	idle     []idleEntry // writers waiting for work, oldest first, from idleHead on
	idleHead int
	busy     int // writers with a batch in flight

	spaceWait int
	spaceCh   chan struct{}
	drainCh   chan struct{}
	closed    bool
	scratch   []byte
}

// idleEntry is a writer waiting for work; it is stale once the pipe got
// work another way (gen moved on) or died.
type idleEntry struct {
	p   *pipe
	gen uint32
}

func (q *sendQueue) init(s *sock, firstID uint32) {
	q.s = s
	q.pipes = make(map[uint32]*pipe)
	q.nextID = firstID
}

// maxPipeID bounds pipe ids: the high bit must stay clear, and ids are
// never reused, so a socket that has used them all refuses new pipes.
const maxPipeID = EndOfPath - 1

// register adds a pipe, giving it a fresh id.
func (q *sendQueue) register(p *pipe) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.s.o.maxPeers > 0 && len(q.pipes) >= q.s.o.maxPeers {
		return ErrTooManyPeers
	}
	if lp := p.lp; lp != nil && q.s.o.maxLnPeers > 0 && lp.n >= q.s.o.maxLnPeers {
		return fmt.Errorf("%w: the listener has %d (WithMaxPeersPerListener)", ErrTooManyPeers, lp.n)
	}
	if q.nextID >= maxPipeID {
		return fmt.Errorf("%w: pipe ids exhausted", ErrTooManyPeers)
	}
	if p.lp != nil {
		p.lp.n++
	}
	p.id = q.nextID
	q.nextID++
	q.pipes[p.id] = p
	q.live = append(q.live, p)
	q.updateSingle()
	return nil
}

// updateSingle records whether the socket has exactly one pipe that
// receivers may read directly.
func (q *sendQueue) updateSingle() {
	var one *pipe
	if len(q.live) == 1 && q.live[0].intr != nil {
		one = q.live[0]
	}
	if old := q.s.single.Swap(one); old != nil && old != one {
		old.readNow()
	}
}

// remove takes a closing pipe out; what only it could send is dropped.
func (q *sendQueue) remove(p *pipe) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p.dead {
		return
	}
	p.dead = true
	if p.lp != nil {
		p.lp.n--
	}
	delete(q.pipes, p.id)
	if i := slices.Index(q.live, p); i >= 0 {
		q.live = slices.Delete(q.live, i, i+1)
	}
	q.updateSingle()
	if p.ownN > 0 {
		q.s.c.dropped.Add(uint64(p.ownN))
	}
	p.own, p.ownN = nil, 0
	signal(p.wake)
	broadcast(&q.spaceCh)
	q.checkDrained()
}

// goIdle records that p's writer waits for work.
func (q *sendQueue) goIdle(p *pipe) {
	p.idle = true
	p.idleGen++
	if len(q.idle)-q.idleHead > 2*len(q.live)+8 || q.idleHead > 0 && len(q.idle) == cap(q.idle) {
		// Compact: drop stale entries and those already taken, and
		// reuse the array rather than grow it.
		n := 0
		for _, e := range q.idle[q.idleHead:] {
			if e.p.idle && e.gen == e.p.idleGen && !e.p.dead {
				q.idle[n] = e
				n++
			}
		}
		clear(q.idle[n:])
		q.idle, q.idleHead = q.idle[:n], 0
	}
	q.idle = append(q.idle, idleEntry{p, p.idleGen})
	q.checkDrained()
}

// wakeOne hands shared work to the idle writer that has waited longest,
// or writes it for that writer. It releases q.mu.
func (q *sendQueue) wakeOne() {
	for q.idleHead < len(q.idle) {
		e := q.idle[q.idleHead]
		q.idle[q.idleHead] = idleEntry{}
		q.idleHead++
		if q.idleHead == len(q.idle) {
			q.idle, q.idleHead = q.idle[:0], 0 // empty: start again at the front
		}
		if e.p.idle && e.gen == e.p.idleGen && !e.p.dead {
			q.wakePipe(e.p)
			return
		}
	}
	q.mu.Unlock()
}

// wakePipe hands own work to p's writer if it is idle, or writes it for
// the writer. It releases q.mu.
func (q *sendQueue) wakePipe(p *pipe) {
	if p.idle {
		if p.canInline() {
			p.writeInline()
			return
		}
		p.idle = false
		signal(p.wake)
	}
	q.mu.Unlock()
}

// drained reports whether nothing is queued or being written.
func (q *sendQueue) drained() bool {
	if q.sharedN > 0 || q.busy > 0 {
		return false
	}
	for _, p := range q.live {
		if p.ownN > 0 || p.flush { // flush: the transport holds part of an inline write
			return false
		}
	}
	return true
}

func (q *sendQueue) checkDrained() {
	if q.drainCh != nil && q.drained() {
		broadcast(&q.drainCh)
	}
}

// linger stops new sends and waits up to timeout for the queues to be
// written out.
func (q *sendQueue) linger(timeout time.Duration) {
	q.mu.Lock()
	q.closed = true
	broadcast(&q.spaceCh)
	if timeout <= 0 || q.drained() {
		q.mu.Unlock()
		return
	}
	ch := waitChan(&q.drainCh)
	q.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// closeAll closes every pipe.
func (q *sendQueue) closeAll() {
	q.mu.Lock()
	ps := append([]*pipe(nil), q.live...)
	q.mu.Unlock()
	for _, p := range ps {
		p.close(ErrClosed)
	}
}

// target says where one message goes.
type target uint8

const (
	toOne target = iota
	toPipe
	toAll
)

// outMsg is one message to encode: the header paths and TTL, the content.
type outMsg struct {
	src, dst Path
	ttl      uint8
	content  []byte
}

// appendFrame encodes m as one frame at the end of b. On error b is
// returned unchanged.
func (s *sock) appendFrame(b []byte, m *outMsg) ([]byte, error) {
	b, off := transport.BeginFrame(b)
	b, err := appendHeader(b, s.proto.Header, m.ttl, m.src, m.dst)
	if err != nil {
		return b[:off], err
	}
	b = append(b, m.content...)
	transport.EndFrame(b, off)
	return b, nil
}

// peerStall is how long a send to one pipe waits for room in that pipe's
// full queue while the pipe takes nothing from it (it takes its whole
// queue at each write, so its queue stays full only while one write
// lasts, or while its writer waits to run): past it, the pipe is
// lagging (its connection is backed up, its peer does not read) and
// sends to it that find its queue full fail at once with ErrPeerFull,
// until it has written everything queued for it. So a peer that does not
// read can hold up one send for peerStall at most (once each time it
// catches up), while a healthy pipe whose writer is merely behind the
// sender for a moment never loses a message.
const peerStall = 100 * time.Millisecond

// put queues m for tgt (pipe id for toPipe; for toAll, except is a pipe
// to leave out). It waits for room unless the socket is best effort; a
// send to one pipe waits for peerStall at most (see there).
func (s *sock) put(ctx context.Context, tgt target, id, except uint32, m *outMsg) error {
	q := &s.sq
	var (
		tm      *time.Timer
		dl      time.Time
		dlt     bool
		stallAt time.Time // toPipe: when the full pipe counts as lagging
		seen    uint64    // toPipe: the pipe's batches taken when stallAt was set
	)
	defer func() { putTimer(tm) }()
	limit := s.o.sendQueueSize
	q.mu.Lock()
	for {
		if q.closed {
			q.mu.Unlock()
			return ErrClosed
		}
		switch tgt {
		case toOne:
			if q.sharedN < limit {
				b, err := s.appendFrame(q.shared, m)
				q.shared = b
				if err != nil {
					q.mu.Unlock()
					return err
				}
				q.sharedN++
				if len(s.o.sendHooks) > 0 || s.hk.take != nil {
					var tag uint32
					if len(m.src) > 0 {
						tag = m.src[len(m.src)-1]
					}
					q.tags = append(q.tags, tag)
				}
				q.wakeOne()
				return nil
			}
		case toPipe:
			p := q.pipes[id]
			if p == nil {
				q.mu.Unlock()
				s.c.brokenPaths.Add(1)
				return ErrBrokenPath
			}
			if p.ownN < limit {
				b, err := s.appendFrame(p.own, m)
				p.own = b
				if err != nil {
					q.mu.Unlock()
					return err
				}
				p.ownN++
				q.wakePipe(p)
				return nil
			}
			// The pipe's own queue is full. Waiting long for a peer that
			// does not read would hold up this caller's sends to every
			// other peer (a rep server's loop, a switch).
			if !p.lagging && !s.o.sendBestEffort {
				if stallAt.IsZero() || p.batches != seen {
					// First time full, or the pipe took a batch since.
					stallAt, seen = time.Now().Add(peerStall), p.batches
				} else if !time.Now().Before(stallAt) {
					p.lagging = true
				}
			}
			if p.lagging {
				q.mu.Unlock()
				s.c.peerFull.Add(1)
				s.c.dropped.Add(1)
				return ErrPeerFull
			}
		case toAll:
			full := 0
			for _, p := range q.live {
				if p.ownN >= limit && p.id != except {
					full++
				}
			}
			if full == 0 || s.o.sendBestEffort || s.dropSlow {
				b, err := s.appendFrame(q.scratch[:0], m)
				q.scratch = b
				if err != nil {
					q.mu.Unlock()
					return err
				}
				for _, p := range q.live {
					if p.id == except || p.ownN >= limit {
						continue
					}
					p.own = append(p.own, b...)
					p.ownN++
					if p.idle {
						p.idle = false
						signal(p.wake)
					}
				}
				if cap(q.scratch) > 1<<20 {
					q.scratch = nil
				}
				q.mu.Unlock()
				if full > 0 {
					s.c.dropped.Add(uint64(full))
					return ErrMsgDropped
				}
				return nil
			}
		}
		// The queue is full.
		if s.o.sendBestEffort {
			q.mu.Unlock()
			s.c.dropped.Add(1)
			return ErrMsgDropped
		}
		if !dlt {
			dl, dlt = deadline(&s.sendDeadline, s.o.sendTimeout), true
		}
		wdl := dl
		if !stallAt.IsZero() && (wdl.IsZero() || stallAt.Before(wdl)) {
			wdl = stallAt
		}
		q.spaceWait++
		ch := waitChan(&q.spaceCh)
		q.mu.Unlock()
		err := wait(ctx, ch, s.closing, wdl, &tm)
		q.mu.Lock()
		q.spaceWait--
		if err == os.ErrDeadlineExceeded && wdl.Equal(stallAt) && (dl.IsZero() || time.Now().Before(dl)) {
			err = nil // the pipe stalled: look again, it is lagging now
		}
		if err != nil {
			q.mu.Unlock()
			return err
		}
	}
}
