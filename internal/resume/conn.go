package resume

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ID identifies a Conn at both ends: 16 random bytes chosen by New.
type ID [16]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Sides of a Conn: the one that made it with New, and the one that joined
// it with NewPeer. A MAC covers its sender's side.
const (
	sideNew  byte = 'N'
	sidePeer byte = 'P'
)

// state is where a Conn is in its life.
type state uint8

const (
	stateActive    state = iota // a path is attached
	stateSuspended              // the path broke: waiting for Resume
	stateDone                   // the peer closed gracefully: Read drains, then io.EOF
	stateFailed                 // no resume in the window (c.err says why)
	stateClosed                 // Close was called
)

// ackEveryMax caps the bytes read between two ACKs: a quarter of Buffer,
// at most this, so that the replay blocks in use stay few, and warm in the
// caches (an ACK is 12 bytes).
const ackEveryMax = 256 << 10

// Stats are a Conn's counters.
type Stats struct {
	BytesSent     uint64 // stream bytes written by the application
	BytesReceived uint64 // stream bytes received from the peer
	ReplayBytes   int    // bytes held for the peer, not yet acknowledged
	ReplayMemory  int    // memory the replay buffer holds (pooled blocks)
	Resumes       uint64 // resumes that succeeded
	Refused       uint64 // resume exchanges refused (ErrResumeRefused)
	Breaks        uint64 // paths that broke under the Conn
}

// Conn is a byte stream that outlives the paths under it; see the package
// documentation. Its methods are safe for concurrent use.
type Conn struct {
	cfg  Config
	id   ID
	side byte

	mu     sync.Mutex
	rcond  sync.Cond // Read waits: data, state, deadline
	wcond  sync.Cond // Write waits: room, state, deadline
	state  state
	err    error // stateFailed: why
	key    []byte
	cur    *path // the attached path (stateActive, or a graceful end under way)
	last   *path // the latest path, for Resume and Close to wait for its goroutines
	hs     map[io.Closer]struct{}
	window *time.Timer // the resume window of the current break
	breakN uint64      // breaks so far; the window timer's epoch

	// Sending: replay holds [acked, written).
	replay  buffer
	written uint64 // bytes the application wrote
	acked   uint64 // bytes the peer acknowledged (read by its application)

	in             receiving // the stream from the peer
	gens           resumeGens
	rdl, wdl       time.Time
	rtimer, wtimer *time.Timer
	closing        bool // Close sends CLOSE after the data
	addrL, addrR   net.Addr
}

// receiving is the receiving half of a Conn: recv holds [consumed,
// received), but for bytes read into a lent buffer. A Read that waits for
// data while recv is empty lends its buffer to whoever reads the path (the
// Read itself when it leads, else the reader goroutine), which reads the
// next payload straight into it: one copy fewer. The Conn's mu guards it.
type receiving struct {
	recv     buffer
	lent     []byte // the buffer of the waiting Read, nil: none
	lentBusy bool   // the path's reader is reading into lent
	lentN    int    // bytes read into lent, for its Read to take
	received uint64 // bytes received
	consumed uint64 // bytes the application read
	ackSent  uint64 // the latest ACK sent (or being sent)
	ackTimer *time.Timer
	ackArmed bool
	ackEvery uint64 // acknowledge at once when this much is unacknowledged
}

// resumeGens are a Conn's resume generations: ours increase with each
// attempt; the peer's must exceed the last one accepted. The Conn's mu
// guards them.
type resumeGens struct {
	genSent  uint64
	peerGen  uint64
	resumes  uint64
	refusals uint64
}

// New makes a Conn over path, a fresh connection to the peer, with a new
// random id. Give the id (Conn.ID) to the peer, which makes its end with
// NewPeer.
func New(path io.ReadWriteCloser, cfg *Config) (*Conn, error) {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	return newConn(path, id, sideNew, cfg)
}

// NewID returns a new random Conn id, for NewWithID.
func NewID() (ID, error) {
	var id ID
	_, err := rand.Read(id[:])
	return id, err
}

// NewWithID is New with an id the caller drew (NewID), for an owner that
// must send the id to the peer, and agree on the Config with it, before
// the Conn exists.
func NewWithID(id ID, path io.ReadWriteCloser, cfg *Config) (*Conn, error) {
	return newConn(path, id, sideNew, cfg)
}

// NewPeer makes the peer's end of the Conn whose id New chose, over path.
func NewPeer(id ID, path io.ReadWriteCloser, cfg *Config) (*Conn, error) {
	return newConn(path, id, sidePeer, cfg)
}

func newConn(rw io.ReadWriteCloser, id ID, side byte, cfg *Config) (*Conn, error) {
	n, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	c := &Conn{cfg: n, id: id, side: side, hs: make(map[io.Closer]struct{})}
	c.rcond.L, c.wcond.L = &c.mu, &c.mu
	c.in.ackEvery = uint64(max(1, min(n.Buffer/4, ackEveryMax)))
	c.mu.Lock()
	c.attach(newPath(rw, nil), 0)
	c.mu.Unlock()
	return c, nil
}

// ID returns the Conn's id.
func (c *Conn) ID() ID { return c.id }

// SetKey sets the secret that authenticates resumes (HMAC-SHA256 key),
// the same at both ends: derived by the owner from a TLS session's
// exported keying material, or a secret exchanged at set-up. Resume fails
// with ErrNoKey until it is set. An empty key unsets it.
func (c *Conn) SetKey(key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.key = nil
	if len(key) > 0 {
		c.key = append([]byte(nil), key...)
	}
}

// Read reads stream bytes, blocking while there are none, the path is
// broken, or a resume is under way. A Read that finds nothing may read the
// path itself (see the package documentation).
func (c *Conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lending := false // c.in.lent is b
	for {
		if lending {
			if c.in.lentBusy { // the reader goroutine writes into b: wait for it, whatever else happens
				c.rcond.Wait()
				continue
			}
			k := c.in.lentN
			c.in.lent, c.in.lentN, lending = nil, 0, false
			if k > 0 {
				c.in.consumed += uint64(k)
				c.readAck()
				return k, nil
			}
		}
		if c.state == stateClosed || c.closing {
			return 0, ErrClosed
		}
		if c.in.recv.n > 0 {
			if len(b) == 0 {
				return 0, nil
			}
			k := c.in.recv.read(b)
			c.in.consumed += uint64(k)
			c.readAck()
			return k, nil
		}
		switch {
		case c.state == stateDone:
			return 0, io.EOF
		case c.state == stateFailed:
			return 0, c.err
		case expired(c.rdl):
			return 0, timeoutError{}
		}
		if c.in.lent == nil && len(b) > 0 {
			c.in.lent, lending = b, true
		}
		p := c.cur
		if p == nil || p.rd == nil || c.state != stateActive {
			c.rcond.Wait()
			continue
		}
		if p.tok.Follow(c) { // nothing to read: read the path ourselves
			c.lead(p)
			continue
		}
		c.rcond.Wait() // another reads the path
		p.tok.Unfollow()
	}
}

// readAck acknowledges what the application read: at once when a quarter
// of Buffer is unacknowledged, else after AckDelay.
func (c *Conn) readAck() {
	if c.in.consumed-c.in.ackSent >= c.in.ackEvery {
		c.sendAck()
		return
	}
	if !c.in.ackArmed {
		c.in.ackArmed = true
		if c.in.ackTimer == nil {
			c.in.ackTimer = time.AfterFunc(c.cfg.AckDelay, c.ackDelayed)
		} else {
			c.in.ackTimer.Reset(c.cfg.AckDelay)
		}
	}
}

func (c *Conn) ackDelayed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in.ackArmed = false
	c.sendAck()
}

// sendAck has the writer send an ACK if one is owed.
func (c *Conn) sendAck() {
	if p := c.cur; p != nil && c.in.consumed > c.in.ackSent {
		p.ack = true
		c.kick(p)
	}
}

// Write writes stream bytes into the replay buffer, blocking while it is
// full or the path is a batch behind, and has them sent (from the calling
// goroutine when the path is free). Bytes written while the path is
// broken are sent after the resume.
func (c *Conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for len(b) > 0 {
		switch {
		case c.state == stateClosed || c.closing:
			return total, ErrClosed
		case c.state == stateDone:
			return total, ErrPeerClosed
		case c.state == stateFailed:
			return total, c.err
		case expired(c.wdl):
			return total, timeoutError{}
		}
		if p := c.cur; p != nil && c.written-p.sendOff >= maxBatch && !p.dead {
			// The path is behind: wait for the writer to take a batch, so
			// that the replay blocks it sends are still in the caches.
			c.wcond.Wait()
			continue
		}
		room := c.cfg.Buffer - c.replay.n
		if room <= 0 {
			if p := c.cur; p != nil { // an ACK makes room: have the path read now
				p.tok.Wait()
				c.wcond.Wait()
				p.tok.Unfollow()
			} else {
				c.wcond.Wait()
			}
			continue
		}
		k := min(room, len(b), maxBatch)
		c.replay.write(b[:k])
		c.written += uint64(k)
		total += k
		b = b[k:]
		if c.cur != nil {
			c.send(c.cur, true)
		}
		if len(b) > 0 { // let the reader and the writer in between pieces
			c.mu.Unlock()
			c.mu.Lock()
		}
	}
	return total, nil
}

// TryWrite writes what it can of bufs at once, without waiting: what fits
// in the replay buffer while the path is less than a batch behind, sent as
// Write sends it. It returns how many bytes went: 0 and no error when none
// could (then Write waits for room). It lets a mux session layered on the
// Conn (the inner session of a circuit) write small batches from its own
// goroutine, as it does on a socket or a stream (see mux's nested writes).
func (c *Conn) TryWrite(bufs [][]byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state == stateClosed || c.closing:
		return 0, ErrClosed
	case c.state == stateDone:
		return 0, ErrPeerClosed
	case c.state == stateFailed:
		return 0, c.err
	case expired(c.wdl):
		return 0, timeoutError{}
	}
	total := 0
	for _, b := range bufs {
		if p := c.cur; p != nil && c.written-p.sendOff >= maxBatch && !p.dead {
			break
		}
		k := min(c.cfg.Buffer-c.replay.n, len(b))
		if k <= 0 {
			break
		}
		c.replay.write(b[:k])
		c.written += uint64(k)
		total += k
		if k < len(b) {
			break
		}
	}
	if total > 0 && c.cur != nil {
		c.send(c.cur, false)
	}
	return total, nil
}

// Close ends the Conn. On an attached path it sends what is left, then a
// CLOSE, and waits (at most KeepAliveTimeout) for the peer's CLOSE, so that
// the peer reads everything and takes the end for an end, not a break. A
// suspended Conn fails. Blocked Read and Write calls return ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.state == stateClosed || c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	p := c.cur
	graceful := c.state == stateActive && p != nil
	c.closing = true
	c.rcond.Broadcast()
	c.wcond.Broadcast()
	if p != nil {
		p.interrupt(c, aLongTimeAgo) // a leading Read returns
	}
	if graceful {
		c.kick(p)
		p.tok.EndGrace() // the peer's CLOSE is read at once
	}
	c.mu.Unlock()
	if graceful {
		t := time.NewTimer(c.cfg.KeepAliveTimeout)
		select {
		case <-p.peerClose:
		case <-p.down:
		case <-t.C:
		}
		t.Stop()
	}
	c.mu.Lock()
	c.state = stateClosed
	c.shutdown()
	last := c.last
	c.mu.Unlock()
	if last != nil {
		last.rw.Close()
		last.wg.Wait()
	}
	c.mu.Lock()
	c.replay.drop()
	c.in.recv.drop()
	c.mu.Unlock()
	return nil
}

// shutdown stops the timers and handshakes, and wakes every waiter, as the
// Conn closes or fails; c.mu is held.
func (c *Conn) shutdown() {
	if c.window != nil {
		c.window.Stop()
	}
	if c.in.ackTimer != nil {
		c.in.ackTimer.Stop()
	}
	for _, t := range []*time.Timer{c.rtimer, c.wtimer} {
		if t != nil {
			t.Stop()
		}
	}
	for h := range c.hs {
		h.Close()
	}
	if p := c.cur; p != nil && c.state != stateClosed {
		p.rw.Close()
	}
	c.rcond.Broadcast()
	c.wcond.Broadcast()
}

// fail ends a suspended Conn with err; c.mu is held.
func (c *Conn) fail(err error) {
	c.state, c.err = stateFailed, err
	c.shutdown()
	c.replay.drop()
}

// Fail ends the Conn now with err, whatever its state, without the
// graceful exchange of Close and without waiting for anything: Read and
// Write return err (use it for a Conn whose set-up failed, or that its
// owner gives up). It does nothing to a Conn that has already failed or
// closed. It may be called from OnBreak.
func (c *Conn) Fail(err error) {
	c.mu.Lock()
	if c.state == stateFailed || c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	if p := c.cur; p != nil {
		p.interrupt(c, aLongTimeAgo)
	}
	c.state, c.err = stateFailed, err
	c.shutdown()
	last := c.last
	c.mu.Unlock()
	// The buffers go once the path's goroutines are gone (one of them may
	// be the caller, from OnBreak, so this does not wait for them).
	go func() {
		if last != nil {
			last.rw.Close()
			last.wg.Wait()
		}
		c.mu.Lock()
		c.replay.drop()
		c.in.recv.drop()
		c.mu.Unlock()
	}()
}

// Break declares the current path broken (a nil err means ErrBroken): the
// path is closed and the Conn suspended until Resume, as when the Conn
// sees a break itself, but OnBreak is not called (the caller knows).
// Nothing happens unless a path is attached.
func (c *Conn) Break(err error) {
	if err == nil {
		err = ErrBroken
	}
	c.mu.Lock()
	p := c.cur
	c.mu.Unlock()
	if p != nil {
		c.breakPath(p, err)
	}
}

// Stats returns the Conn's counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		BytesSent: c.written, BytesReceived: c.in.received,
		ReplayBytes: c.replay.n, ReplayMemory: c.replay.held(),
		Resumes: c.gens.resumes, Refused: c.gens.refusals, Breaks: c.breakN,
	}
}

// Suspended reports whether the Conn's path broke and it waits for a
// Resume.
func (c *Conn) Suspended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateSuspended
}

// Err returns why the Conn failed, or nil.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// addr is the address of a Conn whose path has none.
type addr struct{ id ID }

func (addr) Network() string  { return "resume" }
func (a addr) String() string { return a.id.String() }

// LocalAddr returns the local address of the latest path if it has one,
// else the Conn's id.
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addrL != nil {
		return c.addrL
	}
	return addr{c.id}
}

// RemoteAddr returns the remote address of the latest path if it has
// one, else the Conn's id.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addrR != nil {
		return c.addrR
	}
	return addr{c.id}
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of Read calls, blocked ones included;
// a zero t means none.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	c.rtimer = c.arm(c.rtimer, t, &c.rcond)
	if p := c.cur; p != nil {
		p.interrupt(c, t)
	}
	return nil
}

// SetWriteDeadline sets the deadline of Write calls, blocked ones
// included; a zero t means none.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wdl = t
	c.wtimer = c.arm(c.wtimer, t, &c.wcond)
	return nil
}

// arm (re)arms a deadline's timer, which wakes the waiters of cond.
func (c *Conn) arm(tm *time.Timer, t time.Time, cond *sync.Cond) *time.Timer {
	if tm != nil {
		tm.Stop()
	}
	cond.Broadcast()
	if t.IsZero() || c.state == stateClosed {
		return tm
	}
	d := time.Until(t)
	if tm == nil {
		return time.AfterFunc(d, func() {
			c.mu.Lock()
			cond.Broadcast()
			c.mu.Unlock()
		})
	}
	tm.Reset(d)
	return tm
}

func expired(t time.Time) bool { return !t.IsZero() && !time.Now().Before(t) }

// errorf wraps err with the Conn's id.
func (c *Conn) errorf(format string, args ...any) error {
	return fmt.Errorf("resume %s: "+format, append([]any{c.id.String()[:8]}, args...)...)
}
