package mux

import "sync"

// chunkQueue is a stream's queue of received, unread chunks: a ring that
// doubles when full, so that a queue that fills and drains over and over,
// as a stream of small messages does, allocates nothing once it is large
// enough, and never moves its chunks but when it grows. Whether a queue
// that drains keeps its slots is its stream's business (Stream.trimQueue).
type chunkQueue struct {
	buf  []chunk // len(buf) is 0 or a power of two
	head uint32  // index of the first chunk in buf
	n    uint32  // chunks queued
}

// idleQueue is the capacity, in chunks, that a drained receive queue
// always keeps (768 bytes); more is kept within the session's budget.
const idleQueue = 16

func (q *chunkQueue) len() int { return int(q.n) }

// front returns the first chunk; the queue must not be empty.
func (q *chunkQueue) front() *chunk { return &q.buf[q.head] }

// at returns the i-th chunk from the front (i < q.len()).
func (q *chunkQueue) at(i int) *chunk { return &q.buf[(int(q.head)+i)&(len(q.buf)-1)] }

func (q *chunkQueue) push(c chunk) {
	if int(q.n) == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&uint32(len(q.buf)-1)] = c
	q.n++
}

// grow doubles the ring, moving its chunks to the front of the new one. It
// starts at one slot: most streams of a busy session receive little.
func (q *chunkQueue) grow() {
	if len(q.buf) == 0 {
		q.buf, q.head = slotPool.Get().(*[1]chunk)[:], 0
		return
	}
	buf := make([]chunk, 2*len(q.buf))
	k := copy(buf, q.buf[q.head:])
	copy(buf[k:], q.buf[:q.head])
	q.buf, q.head = buf, 0
}

// slotPool holds the one-slot rings that spliced streams give back each
// time they drain (Stream.trimQueue): a relay's stream drains after every
// frame it forwards, and keeps no ring while idle, so without the pool
// every relayed frame would allocate one.
var slotPool = sync.Pool{New: func() any { return new([1]chunk) }}

// release gives an empty queue's one-slot ring back to slotPool and drops
// any other; the queue keeps nothing.
func (q *chunkQueue) release() {
	if q.n == 0 && len(q.buf) == 1 {
		slotPool.Put((*[1]chunk)(q.buf))
	}
	q.buf, q.head = nil, 0
}

// pop removes the first chunk; the queue must not be empty.
func (q *chunkQueue) pop() {
	q.buf[q.head] = chunk{}
	q.head = (q.head + 1) & uint32(len(q.buf)-1)
	if q.n--; q.n == 0 {
		q.head = 0
	}
}
