package resume

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/internal/bufpool"
	"github.com/plexusnet/plexus/internal/fastio"
)

const (
	readBufSize = 4 << 10   // the path's read buffer: headers; payloads go around it
	maxBatch    = 256 << 10 // the most DATA bytes in one path write
	maxHeaders  = 256       // room for the headers of one batch
	recordLen   = 16 << 10  // the largest TLS record's payload: see path.write
)

// TryWriter is a path with a non-blocking write (a mux stream): it writes
// what it takes of bufs at once, maybe nothing, and never waits. Write and
// TryWrite then send small batches (at most inlineNested bytes) from
// their own goroutine with it, as on a socket; a larger batch Write writes
// itself (a stream's write waits only for its credit), and TryWrite hands
// to the writer goroutine.
type TryWriter interface {
	TryWrite(bufs [][]byte) (int, error)
}

// inlineNested is the largest batch sent with a TryWriter's
// non-blocking write.
const inlineNested = 4 << 10

// isSocket reports whether rw gathers net.Buffers into one system call.
func isSocket(rw io.ReadWriteCloser) bool {
	switch rw.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// newReader returns the read buffer of a path.
func newReader(rw io.ReadWriteCloser) *bufio.Reader { return bufio.NewReaderSize(rw, readBufSize) }

// path is one connection under a Conn, with its reader goroutine, its
// writer goroutine (running while there is something to send) and its
// keep-alive timer. Its fields are guarded by the Conn's lock, but for rw,
// rd, down, peerClose and lastRecv, the read token tok, and fr and rdSet,
// which belong to the token's holder (see read.go).
type path struct {
	rw        io.ReadWriteCloser
	rd        deadliner // rw's read deadline, nil: no leaders
	tok       fastio.Token
	fr        frameReader
	rdSet     time.Time // the read deadline set on rw
	vectored  bool      // rw gathers net.Buffers into one system call
	wg        sync.WaitGroup
	down      chan struct{} // closed when the path is broken or ended
	peerClose chan struct{} // closed when the peer's CLOSE answers ours
	lastRecv  atomic.Int64  // unix nanoseconds of the latest frame received

	dead      bool   // broken or ended
	writing   bool   // the writer goroutine runs
	sendOff   uint64 // the next stream offset to send on this path
	ack       bool   // an ACK is owed
	ping      bool   // a PING is owed
	pong      bool   // a PONG is owed
	closeSent bool   // our CLOSE is sent: nothing more goes out
	reply     bool   // the peer closed: answer with CLOSE, then end the path
	ka        *time.Timer
	kaIdle    bool         // KeepAliveBusy: the keep-alive timer rests (nothing to acknowledge)
	lastData  atomic.Int64 // unix nanoseconds of the latest stream bytes received (KeepAliveBusy)

	hdr  []byte         // the headers of the batch being written
	iov  net.Buffers    // the batch
	rest bool           // iov holds the rest of a batch that Write began (see send)
	fw   *fastio.Writer // non-blocking writes on a socket, nil: none
	tls  bool           // rw is a TLS connection (see sendTLS)
	flat []byte         // the batch, flattened for a path that cannot gather (pooled, held during a write only)
}

func newPath(rw io.ReadWriteCloser, br *bufio.Reader) *path {
	p := &path{rw: rw, vectored: isSocket(rw), down: make(chan struct{}), peerClose: make(chan struct{})}
	p.fw = fastio.NewWriter(rw)
	if tw, ok := rw.(TryWriter); ok && p.fw == nil {
		p.fw = fastio.FuncWriter(tw.TryWrite)
	}
	_, p.tls = rw.(*tls.Conn)
	p.initReader(br)
	p.lastRecv.Store(time.Now().UnixNano())
	return p
}

// attach makes p the current path, sending from offset off, and starts its
// reader and keep-alive; c.mu is held.
func (c *Conn) attach(p *path, off uint64) {
	c.cur, c.last, c.state = p, p, stateActive
	p.sendOff = off
	if nc, ok := p.rw.(interface {
		LocalAddr() net.Addr
		RemoteAddr() net.Addr
	}); ok {
		c.addrL, c.addrR = nc.LocalAddr(), nc.RemoteAddr()
	}
	p.wg.Add(1)
	go c.readLoop(p)
	if c.cfg.KeepAliveInterval > 0 {
		p.ka = time.AfterFunc(c.cfg.KeepAliveInterval, func() { c.keepAlive(p) })
	}
	if p.sendOff < c.written || c.in.consumed > c.in.ackSent {
		p.ack = c.in.consumed > c.in.ackSent
		c.kick(p)
	}
}

// kick starts p's writer unless it runs; c.mu is held.
func (c *Conn) kick(p *path) {
	if !p.writing && !p.dead && !p.closeSent && c.state != stateClosed {
		p.writing = true
		p.wg.Add(1)
		go c.writeLoop(p)
	}
}

// breakPath ends p with err: if p is the attached path of an active Conn,
// the Conn is suspended, the resume window starts, and breakPath reports
// true (call OnBreak).
func (c *Conn) breakPath(p *path, err error) bool {
	c.mu.Lock()
	if p.dead {
		c.mu.Unlock()
		return false
	}
	p.dead = true
	close(p.down)
	p.tok.End(nil)
	if p.ka != nil {
		p.ka.Stop()
	}
	notify := false
	if c.cur == p {
		c.cur = nil
		c.wcond.Broadcast() // a Write waiting for the path to catch up
		if c.state == stateActive && !c.closing {
			c.state = stateSuspended
			c.breakN++
			n := c.breakN
			c.window = time.AfterFunc(c.cfg.ResumeWindow, func() { c.expire(n) })
			notify = c.cfg.OnBreak != nil
		}
	}
	c.mu.Unlock()
	p.rw.Close()
	return notify
}

// expire fails the Conn if the break numbered n is still unresumed.
func (c *Conn) expire(n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateSuspended && c.breakN == n {
		c.fail(c.errorf("%w (%v)", ErrResumeTimeout, c.cfg.ResumeWindow))
	}
}

// ended runs as a path goroutine stops with err: a break, unless the path
// had ended.
func (c *Conn) ended(p *path, err error) {
	notify := c.breakPath(p, err)
	p.wg.Done()
	if notify {
		c.cfg.OnBreak(err)
	}
}

// busyKeepAlive wakes p's resting keep-alive timer (KeepAliveBusy) as
// bytes are written: the silence counts from now; c.mu is held.
func (c *Conn) busyKeepAlive(p *path) {
	if p.kaIdle && !p.dead {
		p.kaIdle = false
		p.lastRecv.Store(time.Now().UnixNano())
		p.ka.Reset(c.cfg.KeepAliveInterval)
	}
}

// keepAlive checks p's liveness: a PING after KeepAliveInterval of
// silence, a break after KeepAliveTimeout.
func (c *Conn) keepAlive(p *path) {
	if c.cfg.KeepAliveBusy {
		c.mu.Lock()
		// Busy: bytes sent await their acknowledgement, or bytes came in
		// lately (a reader whose sender's path died must notice too).
		busy := c.written > c.acked || time.Since(time.Unix(0, p.lastData.Load())) < c.cfg.KeepAliveTimeout+2*c.cfg.KeepAliveInterval
		if !busy {
			// Nothing awaits an acknowledgement: silence is no sign of
			// a dead path, and this end sends nothing; the timer rests
			// until a write (busyKeepAlive).
			p.kaIdle = true
		}
		c.mu.Unlock()
		if !busy {
			return
		}
	}
	idle := time.Since(time.Unix(0, p.lastRecv.Load()))
	if idle >= c.cfg.KeepAliveTimeout {
		if c.breakPath(p, c.errorf("%w (%v)", ErrKeepAliveTimeout, c.cfg.KeepAliveTimeout)) {
			c.cfg.OnBreak(ErrKeepAliveTimeout)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.dead {
		return
	}
	if idle >= c.cfg.KeepAliveInterval {
		p.ping = true
		c.kick(p)
	}
	p.ka.Reset(c.cfg.KeepAliveInterval)
}

// writeLoop sends what p owes: control frames, then the stream's unsent
// bytes, straight from the replay buffer, then CLOSE when closing.
func (c *Conn) writeLoop(p *path) {
	for {
		c.mu.Lock()
		end := false
		if p.rest { // what Write's non-blocking write left
			p.rest = false
		} else {
			var n int
			if n, end = c.batch(p); n == 0 {
				p.writing = false
				c.mu.Unlock()
				p.wg.Done()
				return
			}
		}
		c.mu.Unlock()
		if err := p.write(); err != nil {
			c.ended(p, err)
			return
		}
		if end { // our answer to the peer's CLOSE is out: the path is done
			c.breakPath(p, nil)
			p.wg.Done()
			return
		}
	}
}

// send sends what p owes from the calling goroutine (Write's), if no
// writer runs and p is a socket: one non-blocking write, which takes it
// all unless the socket is full, so that a message on a free path goes
// out without waking a goroutine. What is left, or everything on other
// paths, goes to the writer goroutine. c.mu is held, and released during
// the write.
func (c *Conn) send(p *path, mayBlock bool) {
	c.busyKeepAlive(p)
	if (p.fw == nil && !p.tls) || p.writing || p.dead || p.closeSent || p.reply || c.closing || c.state != stateActive {
		c.kick(p)
		return
	}
	inFlight := p.sendOff - c.acked
	if n, _ := c.batch(p); n == 0 { // (neither closing nor replying: no end)
		return
	}
	p.writing = true
	if p.fw == nil {
		c.sendTLS(p, inFlight)
		return
	}
	if p.fw.Nested() && iovLen(p.iov) > inlineNested {
		if !mayBlock { // TryWrite never waits: the writer goroutine writes it
			c.handOff(p)
			return
		}
		// A stream's write waits for nothing but the stream's credit:
		// Write writes the batch itself, as a writer goroutine would.
		c.writeHere(p)
		return
	}
	p.wg.Add(1) // as sendTLS
	c.mu.Unlock()
	k, err := p.fw.TryWrite(p.iov)
	c.mu.Lock()
	left := consume(p.iov, k)
	if err != nil || len(left) > 0 {
		// The writer goroutine writes the rest, and meets the error, if
		// any, itself: it takes over this write's count in p.wg (a Done
		// then an Add could meet a Wait between them).
		p.iov, p.rest = left, true
		go c.writeLoop(p)
		return
	}
	p.wg.Done()
	clear(p.iov)
	p.writing = false
	if c.owes(p) {
		c.kick(p) // more came meanwhile
	}
}

// TLS connections have no non-blocking write, but a small write does not
// block while the bytes the peer has not acknowledged (an upper bound of
// those in the two ends' socket buffers) are few: well within the least
// buffer space a TCP connection has by default (tcp_wmem's 16 KiB at the
// sender, and more at the receiver).
const (
	inlineTLS       = 4 << 10  // the largest batch Write sends itself on TLS
	inlineTLSFlight = 16 << 10 // ... while at most this much is unacknowledged
)

// sendTLS writes the batch in p.iov from the calling goroutine if it is
// small and the path is not backed up (see inlineTLS), else has the
// writer goroutine write it; as send.
func (c *Conn) sendTLS(p *path, inFlight uint64) {
	size := 0
	for _, b := range p.iov {
		size += len(b)
	}
	if size > inlineTLS || inFlight > inlineTLSFlight {
		c.handOff(p)
		return
	}
	c.writeHere(p)
}

// handOff has the writer goroutine write the batch in p.iov; c.mu is
// held.
func (c *Conn) handOff(p *path) {
	p.rest = true
	p.wg.Add(1)
	go c.writeLoop(p)
}

// writeHere writes the batch in p.iov from the calling goroutine, which
// counts as one of p's goroutines meanwhile (Close and Resume wait for
// them); c.mu is held, and released during the write.
func (c *Conn) writeHere(p *path) {
	p.wg.Add(1)
	c.mu.Unlock()
	err := p.write()
	c.mu.Lock()
	if err != nil {
		go c.ended(p, err) // (without c.mu, which Write holds); it takes over the count
		return
	}
	p.writing = false
	p.wg.Done()
	if c.owes(p) {
		c.kick(p) // more came meanwhile
	}
}

// owes reports whether p has something to send; c.mu is held.
func (c *Conn) owes(p *path) bool {
	return p.sendOff < c.written || p.ping || p.pong || p.reply || c.closing ||
		(p.ack && c.in.consumed > c.in.ackSent)
}

// iovLen returns the bytes in v.
func iovLen(v net.Buffers) int {
	n := 0
	for _, b := range v {
		n += len(b)
	}
	return n
}

// consume returns v without its first n bytes.
func consume(v net.Buffers, n int) net.Buffers {
	for len(v) > 0 && n >= len(v[0]) {
		n -= len(v[0])
		v[0] = nil
		v = v[1:]
	}
	if len(v) > 0 {
		v[0] = v[0][n:]
	}
	return v
}

// batch gathers p's next write into p.iov and returns its number of
// buffers, and whether it ends the path; c.mu is held.
func (c *Conn) batch(p *path) (int, bool) {
	p.iov = p.iov[:0]
	if p.dead || p.closeSent {
		return 0, false
	}
	if p.hdr == nil {
		p.hdr = make([]byte, 0, maxHeaders)
	}
	h := p.hdr[:0]
	frame := func(t frameType, n int, v uint64, payload bool) {
		s := len(h)
		h = h[:s+headerLen]
		putHeader(h[s:], t, n)
		if payload {
			h = binary.BigEndian.AppendUint64(h, v)
		}
		p.iov = append(p.iov, h[s:len(h):len(h)])
	}
	if p.reply {
		frame(frameClose, 8, p.sendOff, true)
		p.closeSent = true
		return len(p.iov), true
	}
	if p.pong {
		frame(framePong, 0, 0, false)
		p.pong = false
	}
	if p.ping {
		frame(framePing, 0, 0, false)
		p.ping = false
	}
	// An ACK owed goes out now, and one not yet owed (AckDelay) too when
	// data goes out anyway: it costs 12 bytes of the same write.
	if (p.ack || p.sendOff < c.written) && c.in.consumed > c.in.ackSent {
		frame(frameAck, 8, c.in.consumed, true)
		c.in.ackSent = c.in.consumed
	}
	p.ack = false
	// On a path that cannot gather, the headers count in the batch too, so
	// that a full batch is whole TLS records (see write).
	sent := 0
	if !p.vectored {
		sent = len(h)
	}
	first := sent
	for sent+headerLen < maxBatch && p.sendOff < c.written {
		off := int(p.sendOff - c.acked)
		n := min(c.replay.contiguous(off), maxPayload, maxBatch-sent) // a frame is one slice
		if !p.vectored {
			n = min(n, maxBatch-sent-headerLen)
			sent += headerLen
		}
		frame(frameData, n, 0, false)
		p.iov = c.replay.slices(p.iov, off, n)
		p.sendOff += uint64(n)
		sent += n
	}
	if r := sent % recordLen; !p.vectored && sent >= recordLen && r > 0 {
		// Whole records: the last frame leaves its last r bytes to the next
		// batch (which then has more, if Write is quick), unless that is all
		// of it.
		last := len(p.iov) - 1
		if n := len(p.iov[last]); n > r && len(p.iov[last-1]) == headerLen {
			p.iov[last] = p.iov[last][:n-r]
			putHeader(p.iov[last-1], frameData, n-r)
			p.sendOff -= uint64(r)
		}
	}
	if sent > first {
		c.wcond.Broadcast() // a Write waiting for the path to catch up
	}
	if c.closing && p.sendOff == c.written {
		frame(frameClose, 8, p.sendOff, true)
		p.closeSent = true
	}
	return len(p.iov), false
}

// write writes the batch in p.iov: one gathering write on a socket. A
// path that cannot gather (TLS, a pipe) makes a record (or a hand-off) of
// each write: there the batch goes out in writes that are whole TLS
// records of recordLen (the largest), but for the last, so that a header
// costs no record of its own; the bytes of a record that starts in one
// buffer and ends in another are copied into p.flat (at most a record's
// worth for each large payload), the rest is written from the replay
// buffer as it is.
func (p *path) write() error {
	defer clear(p.iov)
	if p.vectored || len(p.iov) == 1 {
		_, err := p.iov.WriteTo(p.rw)
		return err
	}
	p.flat = bufpool.Get(recordLen)[:0]
	defer func() { // an idle path holds no flat buffer
		bufpool.Put(p.flat)
		p.flat = nil
	}()
	for _, b := range p.iov {
		if len(p.flat) > 0 {
			k := min(len(b), recordLen-len(p.flat))
			p.flat = append(p.flat, b[:k]...)
			b = b[k:]
			if len(p.flat) == recordLen {
				if _, err := p.rw.Write(p.flat); err != nil {
					return err
				}
				p.flat = p.flat[:0]
			}
		}
		if k := len(b) - len(b)%recordLen; k > 0 { // p.flat is empty
			if _, err := p.rw.Write(b[:k]); err != nil {
				return err
			}
			b = b[k:]
		}
		p.flat = append(p.flat, b...)
	}
	if len(p.flat) > 0 {
		_, err := p.rw.Write(p.flat)
		return err
	}
	return nil
}

// gotAck applies the peer's acknowledgement of v bytes.
func (c *Conn) gotAck(p *path, v uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != p {
		return nil
	}
	if v < c.acked || v > p.sendOff {
		return fmt.Errorf("%w: ACK %d outside [%d, %d]", ErrProtocol, v, c.acked, p.sendOff)
	}
	c.replay.discard(int(v - c.acked))
	c.acked = v
	c.wcond.Broadcast()
	return nil
}

// gotClose handles the peer's CLOSE, sent after v bytes: the answer to
// ours, or the peer's own end, which we answer.
func (c *Conn) gotClose(p *path, v uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.in.received {
		return fmt.Errorf("%w: CLOSE after %d bytes, %d received", ErrProtocol, v, c.in.received)
	}
	if c.closing {
		close(p.peerClose)
		return errEnd
	}
	if c.cur == p && c.state == stateActive {
		c.state = stateDone
		p.reply = true
		c.replay.drop()
		c.rcond.Broadcast()
		c.wcond.Broadcast()
		c.kick(p) // (a running writer sends the answer after its batch)
	}
	return errEnd
}
