// Package mempipe is an in-memory pipe between two sockets of one process:
// the pipes of the inproc transport and of socket.NewPair. It registers
// no transport.
package mempipe

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/plexusnet/plexus/transport"
)

// QueueLimit is how many bytes of frames one direction holds before Send
// waits for the reader (one batch larger than that is always accepted).
const QueueLimit = 1 << 20

// queue carries frame batches in one direction. The writer appends to buf;
// the reader takes the whole of buf at once.
type queue struct {
	mu      sync.Mutex
	buf     []byte
	pending atomic.Int32 // 1 when buf is not empty
	data    chan struct{}
	space   chan struct{}
	done    chan struct{} // closed when either end closes
}

// Pipe is one end of an in-memory pipe.
type Pipe struct {
	in, out *queue
	peer    transport.Proto
	max     int
	name    string

	local []byte // batch being parsed by Recv
	off   int

	pending []byte // what TrySend could not queue
	intr    chan struct{}

	once *sync.Once
	done chan struct{}
}

// NewPair returns the two ends of an in-memory pipe between a socket
// configured with a and one configured with b. It does not check that the
// protocols pair; Transport.Dial does.
func NewPair(a, b *transport.Config) (*Pipe, *Pipe) {
	done := make(chan struct{})
	q1 := &queue{data: make(chan struct{}, 1), space: make(chan struct{}, 1), done: done}
	q2 := &queue{data: make(chan struct{}, 1), space: make(chan struct{}, 1), done: done}
	once := new(sync.Once)
	pa := &Pipe{in: q2, out: q1, peer: b.Self, max: a.MaxRecv(), name: "a", once: once, done: done, intr: make(chan struct{}, 1)}
	pb := &Pipe{in: q1, out: q2, peer: a.Self, max: b.MaxRecv(), name: "b", once: once, done: done, intr: make(chan struct{}, 1)}
	return pa, pb
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// TrySend implements transport.TrySender: it queues the frames unless
// the peer is behind, in which case Send must finish the job.
func (p *Pipe) TrySend(frames []byte) (bool, error) {
	q := p.out
	q.mu.Lock()
	select {
	case <-q.done:
		q.mu.Unlock()
		return false, transport.ErrClosed
	default:
	}
	if len(p.pending) > 0 || (len(q.buf) > 0 && len(q.buf)+len(frames) > QueueLimit) {
		q.mu.Unlock()
		p.pending = append(p.pending, frames...)
		return false, nil
	}
	q.buf = append(q.buf, frames...)
	q.pending.Store(1)
	q.mu.Unlock()
	signal(q.data)
	return true, nil
}

// Send implements transport.Pipe.
func (p *Pipe) Send(frames ...[]byte) error {
	if len(p.pending) > 0 {
		pend := p.pending
		p.pending = nil
		if err := p.send(pend); err != nil {
			return err
		}
	}
	return p.send(frames...)
}

func (p *Pipe) send(frames ...[]byte) error {
	q := p.out
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	if n == 0 {
		return nil
	}
	q.mu.Lock()
	for len(q.buf) > 0 && len(q.buf)+n > QueueLimit {
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-q.done:
			return transport.ErrClosed
		}
		q.mu.Lock()
	}
	select {
	case <-q.done:
		q.mu.Unlock()
		return transport.ErrClosed
	default:
	}
	for _, f := range frames {
		q.buf = append(q.buf, f...)
	}
	q.pending.Store(1)
	q.mu.Unlock()
	signal(q.data)
	return nil
}

// Recv implements transport.Pipe. After the pipe is closed, frames already
// sent are still delivered, then io.EOF.
func (p *Pipe) Recv() ([]byte, error) {
	for {
		if p.off < len(p.local) {
			payload, rest, ok := transport.NextFrame(p.local[p.off:])
			if !ok {
				return nil, fmt.Errorf("%w: truncated inproc frame", transport.ErrProtocol)
			}
			if len(payload) > p.max {
				return nil, fmt.Errorf("%w: %d bytes, limit %d", transport.ErrMsgTooLarge, len(payload), p.max)
			}
			p.off = len(p.local) - len(rest)
			return payload, nil
		}
		q := p.in
		q.mu.Lock()
		if len(q.buf) > 0 {
			p.local, q.buf = q.buf, p.local[:0]
			p.off = 0
			q.pending.Store(0)
			q.mu.Unlock()
			signal(q.space)
			continue
		}
		q.mu.Unlock()
		select {
		case <-q.data:
		case <-p.intr:
			return nil, transport.ErrInterrupted
		case <-q.done:
			// Drain what was sent before the close.
			q.mu.Lock()
			empty := len(q.buf) == 0
			q.mu.Unlock()
			if empty {
				return nil, io.EOF
			}
		}
	}
}

// Interruptible implements transport.Interrupter.
func (p *Pipe) Interruptible() bool { return true }

// Interrupt implements transport.Interrupter.
func (p *Pipe) Interrupt() { signal(p.intr) }

// Buffered implements transport.Pipe.
func (p *Pipe) Buffered() bool {
	return p.off < len(p.local) || p.in.pending.Load() != 0
}

// Peer implements transport.Pipe.
func (p *Pipe) Peer() transport.Proto { return p.peer }

// LocalAddr implements transport.Pipe.
func (p *Pipe) LocalAddr() string { return "inproc" }

// RemoteAddr implements transport.Pipe.
func (p *Pipe) RemoteAddr() string { return "inproc" }

// Close implements transport.Pipe: it closes both directions.
func (p *Pipe) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}
