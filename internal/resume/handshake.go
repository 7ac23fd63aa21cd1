package resume

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// Resume resumes a suspended Conn over path, a new connection to the same
// peer, which calls Resume on its end at the same time (the exchange is
// symmetric). It sends HELLO (the id and a fresh nonce), reads the peer's,
// sends RESUME (a generation, the bytes received, and an HMAC-SHA256 under
// the key of SetKey over both, its side and both nonces), reads and checks
// the peer's, then retransmits what the peer has not received and carries
// on over path.
//
// Resume owns path: it closes it on failure. A refused exchange (wrong id,
// bad MAC, stale generation, impossible offset, malformed message) returns
// an error wrapping ErrResumeRefused, is counted (Stats.Refused), and
// leaves the Conn suspended, so that another Resume may follow; several
// may even run at once, the first to succeed wins. ctx bounds the
// exchange. Resume fails with ErrNoKey before SetKey, with ErrNotSuspended
// while a path is attached (call Break first) or when another Resume
// succeeded during this one, and with the Conn's error once it has failed
// or closed.
func (c *Conn) Resume(ctx context.Context, rw io.ReadWriteCloser) error {
	return c.resume(ctx, rw, false)
}

// Accept is the responder's side of a resume, for an end that may not
// have seen the break its peer saw (a circuit's destination, whose old
// path may still look fine): it runs the exchange of Resume with the
// peer (which calls Resume), but reads and checks the peer's RESUME
// before it sends its own, and only then, if the Conn's path is still
// attached, breaks it (OnBreak is not called) and takes the new one. So
// only a peer that holds the key can make it leave a working path; a
// refused exchange leaves the Conn as it was, attached or suspended. The
// exchange costs the responder half a round trip more than Resume.
func (c *Conn) Accept(ctx context.Context, rw io.ReadWriteCloser) error {
	return c.resume(ctx, rw, true)
}

func (c *Conn) resume(ctx context.Context, rw io.ReadWriteCloser, responder bool) error {
	c.mu.Lock()
	err := c.resumable()
	if responder && errors.Is(err, ErrNotSuspended) {
		err = nil // attached: Accept breaks the path once the peer is proved
	}
	if err == nil && c.key == nil {
		err = ErrNoKey
	}
	if err != nil {
		c.mu.Unlock()
		rw.Close()
		return err
	}
	key, resumes := c.key, c.gens.resumes
	c.hs[rw] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.hs, rw)
		c.mu.Unlock()
	}()

	// own returns this end's RESUME: its generation and the bytes it
	// received, final once no path is attached. A responder detaches the
	// path first, once the peer is proved.
	var last *path
	own := func() (*resumeMsg, error) {
		c.mu.Lock()
		p := c.cur
		c.mu.Unlock()
		if p != nil && responder {
			c.breakPath(p, errTakenOver)
			p.wg.Wait()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := c.resumable(); err != nil {
			return nil, err
		}
		c.gens.genSent++
		last = c.last
		return &resumeMsg{id: c.id, gen: c.gens.genSent, received: c.in.received}, nil
	}

	stop := context.AfterFunc(ctx, func() { rw.Close() })
	br := newReader(rw)
	peer, err := c.exchange(rw, br, key, own, responder)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err == nil && last != nil {
		last.wg.Wait() // the old path's goroutines are gone before the new start
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		err = c.resumable()
	}
	if err == nil && c.gens.resumes != resumes {
		// Another resume came first (and the path it attached may have
		// broken since): the offset we sent may be stale.
		err = fmt.Errorf("%w: another resume succeeded during this one", ErrNotSuspended)
	}
	if err == nil {
		err = c.admit(&peer)
	}
	if err != nil {
		rw.Close()
		if c.state == stateFailed || c.state == stateClosed {
			return c.resumable()
		}
		if errors.Is(err, ErrResumeRefused) {
			c.gens.refusals++
		} else if ctx.Err() != nil {
			err = fmt.Errorf("resume: %w", ctx.Err())
		}
		return err
	}
	c.gens.peerGen = peer.gen
	c.gens.resumes++
	c.in.ackSent = 0 // the peer may have missed our latest ACK: send one again
	c.window.Stop()
	c.attach(newPath(rw, br), peer.received)
	return nil
}

// resumable reports why the Conn cannot resume (nil: it can); c.mu is held.
func (c *Conn) resumable() error {
	switch c.state {
	case stateSuspended:
		return nil
	case stateClosed:
		return ErrClosed
	case stateFailed:
		return c.err
	case stateDone:
		return ErrPeerClosed
	}
	return ErrNotSuspended
}

// admit checks a verified RESUME against the Conn's state: a generation
// beyond the last accepted one, and an offset within [what the peer
// acknowledged, what we sent]; c.mu is held.
func (c *Conn) admit(m *resumeMsg) error {
	if m.gen <= c.gens.peerGen {
		return refused(fmt.Errorf("%w: %d, last %d", errStaleGen, m.gen, c.gens.peerGen))
	}
	if m.received < c.acked || m.received > c.written {
		return refused(fmt.Errorf("%w: %d outside [%d, %d]", errBadOffset, m.received, c.acked, c.written))
	}
	return nil
}

// exchange runs the HELLO and RESUME exchange on rw and returns the
// peer's RESUME, its MAC checked; own makes this end's RESUME when it is
// due: after the peer's HELLO, or for a responder after the peer's RESUME
// is checked. Writes go from a goroutine of their own, as both ends write
// before they read (a pipe would deadlock).
func (c *Conn) exchange(rw io.ReadWriteCloser, br *bufio.Reader, key []byte, own func() (*resumeMsg, error), responder bool) (resumeMsg, error) {
	var h hello
	h.id = c.id
	if _, err := rand.Read(h.nonce[:]); err != nil {
		return resumeMsg{}, err
	}
	out := make(chan []byte, 2)
	werr := make(chan error, 1)
	go func() {
		var err error
		for b := range out {
			if err == nil {
				_, err = rw.Write(b)
			}
		}
		werr <- err
	}()
	peer, err := c.exchangeRead(br, key, own, responder, &h, out)
	close(out)
	if err != nil {
		rw.Close()
		<-werr
		return peer, err
	}
	return peer, <-werr
}

func (c *Conn) exchangeRead(br *bufio.Reader, key []byte, own func() (*resumeMsg, error), responder bool, h *hello, out chan<- []byte) (resumeMsg, error) {
	out <- h.marshal()
	b := make([]byte, resumeLen)
	if _, err := io.ReadFull(br, b[:helloLen]); err != nil {
		return resumeMsg{}, err
	}
	ph, err := parseHello(b[:helloLen])
	switch {
	case err != nil:
		return resumeMsg{}, err
	case ph.id != c.id:
		return resumeMsg{}, refused(errWrongID)
	case ph.nonce == h.nonce:
		return resumeMsg{}, refused(errReflected)
	}
	send := func() error {
		m, err := own()
		if err != nil {
			return err
		}
		out <- m.marshal(key, c.side, &h.nonce, &ph.nonce)
		return nil
	}
	if !responder {
		if err := send(); err != nil {
			return resumeMsg{}, err
		}
	}
	if _, err := io.ReadFull(br, b); err != nil {
		return resumeMsg{}, err
	}
	m, err := parseResume(b)
	switch {
	case err != nil:
		return m, err
	case m.id != c.id:
		return m, refused(errWrongID)
	case !m.verify(key, c.peerSide(), &ph.nonce, &h.nonce):
		return m, refused(errBadMAC)
	}
	if responder {
		if err := send(); err != nil {
			return m, err
		}
	}
	return m, nil
}

// peerSide returns the side of the other end.
func (c *Conn) peerSide() byte {
	if c.side == sideNew {
		return sidePeer
	}
	return sideNew
}
