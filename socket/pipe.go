package socket

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// maxKeptBuf bounds the write buffers a pipe keeps between batches.
const maxKeptBuf = 4 << 20

// maxReadBatch bounds how many messages a reader hands over at once.
const maxReadBatch = 256

// pipe is one connection of a socket, with a reader and a writer
// goroutine.
type pipe struct {
	s      *sock
	id     uint32
	tp     transport.Pipe
	dialer *dialer

	// Guarded by s.sq.mu.
	own       []byte // frames only this pipe may send
	ownN      int
	idle      bool
	idleGen   uint32
	dead      bool
	flush     bool      // the transport holds part of an inline write
	lastWrite time.Time // when the last write ended

	try transport.TrySender // nil if the transport cannot write without waiting

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
	p.try, _ = tp.(transport.TrySender)
	return p
}

// close tears the pipe down once; err says why.
func (p *pipe) close(err error) {
	p.once.Do(func() {
		s := p.s
		s.c.pipesClosed.Add(1)
		s.sq.remove(p)
		p.tp.Close()
		close(p.done)
		switch {
		case errors.Is(err, transport.ErrMsgTooLarge):
			s.c.oversize.Add(1)
		case errors.Is(err, transport.ErrProtocol), errors.Is(err, errMalformed):
			s.c.protocolErrors.Add(1)
		}
		s.logf("socket: pipe closed", "pipe", p.id, "remote", p.tp.RemoteAddr(), "err", err)
		p.hookMu.Lock()
		if p.announced {
			for _, f := range s.o.pipeHooks {
				f(PipeRemoved, p.id)
			}
		}
		p.announced = false
		p.hookMu.Unlock()
	})
}

// announce reports the new pipe to the pipe hook, unless it closed first.
func (p *pipe) announce() {
	if len(p.s.o.pipeHooks) == 0 {
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
		p.lastWrite = time.Now()
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
	}
	q.busy++
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
// the writer goroutine, which batches it.
const inlineGap = 5 * time.Microsecond

// canInline reports whether the sender may write for p now. Called with
// s.sq.mu held, p idle and holding work.
func (p *pipe) canInline() bool {
	return p.try != nil && !p.flush && !(p.ownN > 0 && p.s.sq.sharedN > 0) &&
		time.Since(p.lastWrite) >= inlineGap
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
	p.lastWrite = time.Now()
	q.busy--
	if err != nil {
		q.checkDrained()
		q.mu.Unlock()
		p.close(err)
		return
	}
	p.flush = !done
	if p.flush || p.ownN > 0 || q.sharedN > 0 {
		signal(p.wake) // the writer goroutine finishes the job
	} else {
		q.goIdle(p)
	}
	q.mu.Unlock()
}

// readLoop reads messages, checks their headers and hands them to the
// receive queue in batches.
func (p *pipe) readLoop() {
	s := p.s
	c := &s.c
	f := s.proto.Header
	batch := make([]entry, 0, min(s.o.recvQueueSize, maxReadBatch))
	var nmsg, nbytes, nttl, nfilt uint64
	flush := func() {
		if len(batch) > 0 {
			s.rq.push(batch, p.done)
			clear(batch)
			batch = batch[:0]
		}
		c.msgsRecv.Add(nmsg)
		c.bytesRecv.Add(nbytes)
		if nttl > 0 {
			c.ttlDropped.Add(nttl)
		}
		if nfilt > 0 {
			c.filtered.Add(nfilt)
		}
		nmsg, nbytes, nttl, nfilt = 0, 0, 0, 0
	}
	for {
		payload, err := p.tp.Recv()
		if err != nil {
			flush()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			p.close(err)
			return
		}
		nmsg++
		nbytes += uint64(len(payload))
		h, err := parseHeader(f, payload, s.ttl)
		switch {
		case err == errTTL:
			nttl++
		case err != nil:
			flush()
			p.close(err)
			return
		case s.o.noRecv:
			nfilt++
		case s.o.recvFilter != nil && !s.o.recvFilter(payload[h.len:]):
			nfilt++
		default:
			buf := make([]byte, len(payload))
			copy(buf, payload)
			batch = append(batch, entry{buf: buf, h: h, pipe: p.id})
		}
		if len(batch) == cap(batch) || !p.tp.Buffered() {
			flush()
		}
	}
}
