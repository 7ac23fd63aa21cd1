package resume

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/plexusnet/plexus/internal/fastio"
)

// The read side of a path. At most one goroutine reads a path at a time:
// the holder of its read token (fastio.Token), which is either the path's
// reader goroutine or a leader, a Read that found nothing to read and
// reads the path itself, so that the network poller wakes the goroutine
// that wants the data, and the payload of a DATA frame goes straight into
// that Read's buffer (one copy of every byte fewer than through the
// receive buffer, and no hand-off between goroutines). After data was
// delivered, the token stays free for a grace period, in which the next
// Read leads again and the reader goroutine does not read; once it is
// over, the reader goroutine reads again, so that ACK, PING and CLOSE
// frames and the data nobody waits for yet are seen while no Read runs.
//
// A leader is interrupted through the path's read deadline (set to the
// Conn's read deadline while it leads, to the past by Close): leaders
// need a path with SetReadDeadline (every net.Conn); on others the reader
// goroutine does all the reading.

// graceTime is how long the token waits for a Read to lead after data was
// delivered while another Read or a Write waits for a read of the path;
// idleGraceTime when none does (the values of the mux sessions, which use
// the same token: see mux/lead.go).
const (
	graceTime     = 500 * time.Microsecond
	idleGraceTime = 10 * time.Millisecond
)

// peekLen is what a read of a payload's rest also takes of what follows,
// on a socket (one scatter read): the next frame's header, or a whole ACK.
const peekLen = headerLen + 8

// deadliner is what a path needs for leaders.
type deadliner interface {
	SetReadDeadline(time.Time) error
}

var aLongTimeAgo = time.Unix(1, 0)

// frameReader is the state of a path's frame parsing; it belongs to the
// holder of the path's read token.
type frameReader struct {
	rv         *fastio.Reader // scatter reads on a socket, nil: none
	buf        []byte         // bytes read, not yet handled: [start, end)
	start, end int
	left       int  // bytes of the current DATA payload still to read (0: a header is next)
	closed     bool // a CLOSE was read: nothing more is read
}

// initReader readies p's read side; br, if not nil, holds bytes read
// past the resume exchange.
func (p *path) initReader(br *bufio.Reader) {
	p.fr.buf = make([]byte, readBufSize)
	if br != nil {
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			p.fr.end = copy(p.fr.buf, b) // the two buffers have the same size
		}
	}
	p.fr.rv = fastio.NewReader(p.rw)
	if d, ok := p.rw.(deadliner); ok {
		p.rd = d
	}
	p.tok.Init(func() { p.setDeadlineLocked(time.Time{}) }, func(l any) {
		p.wg.Add(1) // a leader counts as one of the path's goroutines
		p.setDeadlineLocked(l.(*Conn).rdl)
	})
}

// setDeadlineLocked sets the path's read deadline; the token's lock is held.
func (p *path) setDeadlineLocked(t time.Time) {
	if p.rd != nil && !t.Equal(p.rdSet) {
		p.rd.SetReadDeadline(t)
		p.rdSet = t
	}
}

// interrupt makes p's leader, if any, look at the Conn again: a new read
// deadline t, or Close (a time in the past).
func (p *path) interrupt(c *Conn, t time.Time) {
	if p.rd != nil {
		p.tok.IfLeading(c, func() { p.setDeadlineLocked(t) })
	}
}

// release gives p's read token up after a read: with a grace period if it
// delivered data (a Read will be back for more).
func (p *path) release(data bool) {
	if data && p.rd != nil {
		p.tok.ReleaseIdle(graceTime, idleGraceTime)
		return
	}
	p.tok.Release(0)
}

// readLoop is p's reader goroutine: it reads p while no Read leads, until
// the path breaks or ends.
func (c *Conn) readLoop(p *path) {
	for p.tok.Take(p.down) {
		if p.fr.closed {
			p.tok.Release(0)
			break
		}
		data, err := c.step(p)
		switch {
		case err == errEnd:
			p.tok.End(nil)
			p.tok.Release(0)
		case err != nil:
			p.tok.Release(0)
			c.ended(p, err)
			return
		default:
			p.release(data)
		}
	}
	p.wg.Done() // a CLOSE: the Close that sent ours, or our writer's answer, ends the path
}

// lead reads p for a Read that found nothing to read, until there is
// something for it (data, a change of state, its deadline) or p fails;
// c.mu is held, and the Read holds p's token, which lead gives back.
func (c *Conn) lead(p *path) {
	data := false
	var err error
	for {
		c.mu.Unlock()
		var d bool
		d, err = c.step(p)
		data = data || d
		c.mu.Lock()
		if err != nil || c.in.lentN > 0 || c.in.recv.n > 0 || c.cur != p || c.closing ||
			c.state != stateActive || expired(c.rdl) {
			break
		}
	}
	if err == errEnd {
		p.tok.End(nil)
		err, data = nil, false
	}
	if err == nil || isTimeout(err) { // a timeout: the Read's deadline, or Close
		p.release(data)
		p.wg.Done()
		return
	}
	c.mu.Unlock()
	p.tok.Release(0)
	notify := c.breakPath(p, err)
	p.wg.Done()
	if notify {
		c.cfg.OnBreak(err)
	}
	c.mu.Lock()
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// errEnd stops the reading of a path at a CLOSE: no break.
var errEnd = errors.New("resume: end")

// step makes one read of p (at most one system call) and handles what it
// brings, and reports whether stream bytes were delivered; the token is
// held, c.mu is not.
func (c *Conn) step(p *path) (bool, error) {
	fr := &p.fr
	if fr.closed {
		return false, errEnd
	}
	if fr.left > 0 && fr.start == fr.end {
		return c.readPayload(p)
	}
	if fr.start == fr.end {
		fr.start, fr.end = 0, 0
	} else if fr.start > 0 {
		fr.end = copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start = 0
	}
	limit := len(fr.buf)
	if !p.vectored && fr.end < peekLen && c.bulkReader() {
		// A read of a TLS connection or a pipe copies what it gets: for a
		// Read with a large buffer waiting, take the next frame's header,
		// and leave its payload for a read straight into that buffer.
		limit = peekLen
	}
	n, err := p.rw.Read(fr.buf[fr.end:limit])
	data := false
	if n > 0 {
		fr.end += n
		p.lastRecv.Store(time.Now().UnixNano())
		var perr error
		if data, perr = c.process(p); perr != nil {
			return data, perr
		}
	}
	if err == nil && n == 0 {
		return data, io.ErrNoProgress
	}
	return data, err
}

// readPayload reads the rest of the current DATA payload, straight into
// the buffer of a waiting Read if there is one, else into the receive
// buffer; on a socket, the same system call takes what follows (peekLen
// bytes) into the path's buffer.
func (c *Conn) readPayload(p *path) (bool, error) {
	fr := &p.fr
	c.mu.Lock()
	dst, direct := c.lendable(), true
	if len(dst) == 0 {
		dst, direct = c.in.recv.reserve(fr.left), false
	} else {
		dst = dst[:min(len(dst), fr.left)]
		c.in.lentBusy = true
	}
	c.mu.Unlock()
	var n int
	var err error
	if fr.rv != nil && len(dst) == fr.left {
		n, err = fr.rv.ReadTwo(dst, fr.buf[:peekLen])
	} else {
		n, err = p.rw.Read(dst)
	}
	k := min(n, len(dst))
	c.mu.Lock()
	ok := c.accepts(p)
	if direct {
		c.in.lentBusy = false
		if ok {
			c.in.lentN += k
		}
	} else {
		c.in.recv.commit(k)
		if !ok { // the path was replaced or the Conn closed: drop the bytes
			c.in.recv.n -= k
			c.in.recv.release()
		}
	}
	if ok {
		c.in.received += uint64(k)
		c.gotData(p)
	}
	c.rcond.Broadcast()
	c.mu.Unlock()
	fr.left -= k
	if n > 0 {
		p.lastRecv.Store(time.Now().UnixNano())
	}
	data := k > 0
	if n > k {
		fr.start, fr.end = 0, n-k
		d, perr := c.process(p)
		data = data || d
		if perr != nil {
			return data, perr
		}
	}
	if err == nil && n == 0 {
		return data, io.ErrNoProgress
	}
	return data, err
}

// bulkLen is the room in a waiting Read's buffer from which a path that
// cannot scatter (TLS, a pipe) reads a DATA header on its own, so that
// the payload then goes straight into the buffer.
const bulkLen = 16 << 10

// bulkReader reports whether a Read waits with at least bulkLen bytes of
// room.
func (c *Conn) bulkReader() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lendable()) >= bulkLen
}

// gotData notes stream bytes received on p, for the keep-alive of
// KeepAliveBusy: it runs for a keep-alive timeout after them; c.mu is
// held.
func (c *Conn) gotData(p *path) {
	if c.cfg.KeepAliveBusy {
		p.lastData.Store(time.Now().UnixNano())
		c.busyKeepAlive(p)
	}
}

// accepts reports whether stream bytes read from p belong to the stream;
// c.mu is held.
func (c *Conn) accepts(p *path) bool {
	return c.state != stateClosed && (p == c.cur || c.state == stateDone)
}

// lendable returns the room left in the buffer of a waiting Read, if
// bytes may go there (nothing is before them in the receive buffer);
// c.mu is held.
func (c *Conn) lendable() []byte {
	if c.in.lent == nil || c.in.lentBusy || c.in.recv.n > 0 {
		return nil
	}
	return c.in.lent[c.in.lentN:]
}

// take stores stream bytes read from p: into the buffer of a waiting
// Read, the rest into the receive buffer; c.mu is held.
func (c *Conn) take(p *path, b []byte) {
	if !c.accepts(p) {
		return
	}
	c.in.received += uint64(len(b))
	c.gotData(p)
	if dst := c.lendable(); len(dst) > 0 {
		k := copy(dst, b)
		c.in.lentN += k
		b = b[k:]
	}
	c.in.recv.write(b)
	c.rcond.Broadcast()
}

// process handles the complete frames and payload bytes in p's buffer,
// and reports whether stream bytes were delivered.
func (c *Conn) process(p *path) (bool, error) {
	fr := &p.fr
	data := false
	for fr.start < fr.end {
		if fr.left > 0 {
			k := min(fr.left, fr.end-fr.start)
			c.mu.Lock()
			c.take(p, fr.buf[fr.start:fr.start+k])
			c.mu.Unlock()
			fr.start += k
			fr.left -= k
			data = true
			continue
		}
		b := fr.buf[fr.start:fr.end]
		if len(b) < headerLen {
			break
		}
		t, n, err := parseHeader(b)
		if err != nil {
			return data, err
		}
		if t == frameData {
			if err := c.bound(n); err != nil {
				return data, err
			}
			fr.start += headerLen
			fr.left = n
			continue
		}
		if len(b) < headerLen+n {
			break
		}
		fr.start += headerLen + n
		if err := c.control(p, t, b[headerLen:headerLen+n]); err != nil {
			if err == errEnd {
				fr.closed = true
				fr.start, fr.end = 0, 0
			}
			return data, err
		}
	}
	return data, nil
}

// bound checks that a DATA payload of n bytes stays within what the peer
// may send: Buffer beyond what the application read.
func (c *Conn) bound(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if over := c.in.received + uint64(n) - c.in.consumed; over > uint64(c.cfg.Buffer) {
		return fmt.Errorf("%w: %d bytes beyond the receive bound %d", ErrProtocol, over-uint64(c.cfg.Buffer), c.cfg.Buffer)
	}
	return nil
}

// control handles a frame other than DATA, with its payload b.
func (c *Conn) control(p *path, t frameType, b []byte) error {
	switch t {
	case frameAck:
		return c.gotAck(p, binary.BigEndian.Uint64(b))
	case framePing:
		c.mu.Lock()
		p.pong = true
		c.kick(p)
		c.mu.Unlock()
	case frameClose:
		return c.gotClose(p, binary.BigEndian.Uint64(b))
	}
	return nil
}
