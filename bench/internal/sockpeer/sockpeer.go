// Package sockpeer adapts each message-socket implementation (libzmq and NNG
// through cgo, mangos v3, plexus socket) to one interface so that every
// sockbench workload runs the same way for every peer. The send and receive
// loops are part of the interface: Go peers run them in Go, C peers in C
// (one cgo call per loop, not per message), so no peer pays for a language
// boundary on every message.
package sockpeer

import (
	"errors"
	"sync/atomic"
)

// Kind is a socket type of the scalability protocols.
type Kind int

// The socket kinds the workloads use.
const (
	Push Kind = iota
	Pull
	Req
	Rep
	Pub
	Sub
)

func (k Kind) String() string {
	return [...]string{"push", "pull", "req", "rep", "pub", "sub"}[k]
}

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	for k := Push; k <= Sub; k++ {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, errors.New("unknown socket kind " + s)
}

// Loop is how the harness steers a loop: it sets Stop to non-zero to end it,
// and reads the number of messages (or round trips) the loop has completed at Count.
// Only the loop writes Count.
type Loop struct {
	Stop  *atomic.Int32
	Count *uint64
}

func (l Loop) stopped() bool { return l.Stop.Load() != 0 }

// Socket is one socket of a peer.
type Socket interface {
	Listen(url string) error
	Dial(url string) error
	// Subscribe sets a topic prefix on a Sub socket.
	Subscribe(topic []byte) error
	// SendLoop sends msg until stopped.
	SendLoop(msg []byte, l Loop) error
	// RecvLoop receives messages of size bytes until stopped.
	RecvLoop(size int, l Loop) error
	// ReqLoop sends msg and waits for the reply, until stopped; Count counts round trips.
	ReqLoop(msg []byte, l Loop) error
	// RepLoop receives a request of size bytes and sends it back, until stopped.
	RepLoop(size int, l Loop) error
	Close() error
}

// Instance is one use of a peer (for libzmq a context, which inproc needs shared).
type Instance interface {
	Open(k Kind) (Socket, error)
	// Interrupt ends the blocked calls of every socket of the instance, for a peer
	// whose sockets may not be closed while in use (libzmq); others do nothing.
	Interrupt()
	Close() error
}

// Peer is one implementation under test.
type Peer struct {
	Name string
	// Unavailable, when non-empty, says why this peer cannot run here.
	Unavailable string
	// Native is true when the loops run in C, so Go's allocation counters see nothing.
	Native bool
	// CloseAfterLoops is true when a socket must not be closed while a loop still uses it
	// (libzmq sockets are not thread-safe); Instance.Interrupt ends its loops instead.
	CloseAfterLoops bool
	// New returns a fresh instance.
	New func() (Instance, error)
}

// All returns every peer in table order: libzmq first (the baseline), then NNG, mangos, plexus.
func All() []Peer {
	return []Peer{ZMQ(), NNG(), Mangos(), Plexus()}
}

// ErrShortMessage reports a received message of the wrong size.
var ErrShortMessage = errors.New("received a message of the wrong size")

// ErrNotBuilt reports a socket kind that this build of a peer does not have.
var ErrNotBuilt = errors.New("not in this build")

// goSocket runs the loops in Go over plain Send and Recv functions.
type goSocket struct {
	send func([]byte) error
	// recv receives the next message, into buf if the peer can (plexus's
	// RecvInto); the loops hand back what it returned.
	recv      func(buf []byte) ([]byte, error)
	listen    func(string) error
	dial      func(string) error
	subscribe func([]byte) error
	close     func() error
}

func (g *goSocket) Listen(url string) error { return g.listen(url) }
func (g *goSocket) Dial(url string) error   { return g.dial(url) }
func (g *goSocket) Close() error            { return g.close() }

func (g *goSocket) Subscribe(topic []byte) error {
	if g.subscribe == nil {
		return errors.New("not a sub socket")
	}
	return g.subscribe(topic)
}

// end returns nil for an error caused by the harness stopping the loop.
func end(l Loop, err error) error {
	if l.stopped() {
		return nil
	}
	return err
}

func (g *goSocket) SendLoop(msg []byte, l Loop) error {
	var n uint64
	for !l.stopped() {
		if err := g.send(msg); err != nil {
			return end(l, err)
		}
		n++
		atomic.StoreUint64(l.Count, n)
	}
	return nil
}

func (g *goSocket) RecvLoop(size int, l Loop) error {
	var n uint64
	m := make([]byte, 0, size)
	for !l.stopped() {
		var err error
		m, err = g.recv(m)
		if err != nil {
			return end(l, err)
		}
		if len(m) != size {
			return ErrShortMessage
		}
		n++
		atomic.StoreUint64(l.Count, n)
	}
	return nil
}

func (g *goSocket) ReqLoop(msg []byte, l Loop) error {
	var n uint64
	m := make([]byte, 0, len(msg))
	for !l.stopped() {
		if err := g.send(msg); err != nil {
			return end(l, err)
		}
		var err error
		m, err = g.recv(m)
		if err != nil {
			return end(l, err)
		}
		if len(m) != len(msg) {
			return ErrShortMessage
		}
		n++
		atomic.StoreUint64(l.Count, n)
	}
	return nil
}

func (g *goSocket) RepLoop(size int, l Loop) error {
	var n uint64
	m := make([]byte, 0, size)
	for !l.stopped() {
		var err error
		m, err = g.recv(m)
		if err != nil {
			return end(l, err)
		}
		if len(m) != size {
			return ErrShortMessage
		}
		if err := g.send(m); err != nil {
			return end(l, err)
		}
		n++
		atomic.StoreUint64(l.Count, n)
	}
	return nil
}
