// Package backtrace is what the SP protocols with a backtrace share
// (req0/rep0 and surveyor0/respondent0): the asking side's ids (Asks) and
// the answering side's handler (Replier). The wire format itself, the
// backtrace in front of each message, is package socket's
// (socket.HeaderRequest, socket.HeaderReply).
package backtrace

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/plexusnet/plexus/socket"
)

// Asks are the questions (requests, surveys) an asking socket waits for
// answers to, each with a V: their ids are 32-bit with the high bit set
// (socket.EndOfPath), counting up from a random start, never one still
// open. Its mutex guards it; the methods are called with it held.
type Asks[V any] struct {
	sync.Mutex
	Open   map[uint32]V
	Closed bool // the socket closed: Open is empty and stays so
	last   uint32
}

// Init makes a empty, its ids starting somewhere random.
func (a *Asks[V]) Init() {
	a.Open = make(map[uint32]V)
	var b [4]byte
	_, _ = rand.Read(b[:])
	a.last = binary.BigEndian.Uint32(b[:])
}

// Add opens a question with v and returns its id. Called with a locked.
func (a *Asks[V]) Add(v V) uint32 {
	for {
		a.last++
		id := a.last | socket.EndOfPath
		if _, ok := a.Open[id]; !ok {
			a.Open[id] = v
			return id
		}
	}
}

// Oldest returns the id of the question asked longest ago (ids grow with
// time), or false if none is open. Called with a locked.
func (a *Asks[V]) Oldest() (uint32, bool) {
	var (
		old, oldAge uint32
		found       bool
	)
	for id := range a.Open {
		// Ids issued since id, modulo the 31 bits that count.
		if age := (a.last - id) &^ socket.EndOfPath; !found || age > oldAge {
			old, oldAge, found = id, age, true
		}
	}
	return old, found
}

// Close forgets every question, for good. Called with a locked.
func (a *Asks[V]) Close() {
	a.Closed = true
	clear(a.Open)
}

// ID returns the id of the question an answer in answers: its
// Destination, which at the asking socket is that one word.
func ID(in socket.Incoming) (uint32, bool) {
	var w [2]uint32
	d := in.AppendDestination(w[:0])
	if len(d) != 1 || d[0]&socket.EndOfPath == 0 {
		return 0, false
	}
	return d[0], true
}

// maxInline is the longest backtrace Replier.Send copies without an
// allocation.
const maxInline = 16

// Replier is the handler of the answering sides, rep0 and respondent0: it
// remembers the backtrace of the last question received (its Source path),
// and Send answers along it, once, as NNG's rep and respondent do.
// SendTo(msg.Source, answer) answers any question, from any goroutine, at
// any time: the socket core does that (socket.SendsPath).
type Replier struct {
	None string // completes the socket.ErrBadState of a Send with nothing to answer

	c    socket.Core
	mu   sync.Mutex
	last socket.Path // backtrace of the last question received
	has  bool        // last is waiting for its answer
}

// Init implements socket.Handler.
func (r *Replier) Init(c socket.Core) error {
	r.c = c
	return nil
}

// Send implements socket.SendHook: it answers the last question received.
func (r *Replier) Send(ctx context.Context, content []byte) error {
	var w [maxInline]uint32
	r.mu.Lock()
	if !r.has {
		r.mu.Unlock()
		return fmt.Errorf("%w: %s", socket.ErrBadState, r.None)
	}
	p := append(w[:0], r.last...)
	r.has = false
	r.mu.Unlock()
	return r.c.SendTo(ctx, p, content)
}

// BeforeRecv implements socket.RecvHook: a replier always receives.
func (r *Replier) BeforeRecv(bool) (time.Time, error) { return time.Time{}, nil }

// Received implements socket.RecvHook: in is the question Send answers
// now.
func (r *Replier) Received(in socket.Incoming) bool {
	r.mu.Lock()
	r.last = in.AppendSource(r.last[:0])
	r.has = true
	r.mu.Unlock()
	return true
}
