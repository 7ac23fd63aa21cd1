package socket

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// dialer keeps one dialed URL connected.
type dialer struct {
	s   *sock
	raw string
	u   *url.URL
	tr  transport.Transport
	n   int // pipes made so far, guarded by s.mu
}

// Dial implements Connector.
func (s *sock) Dial(url string) error { return s.DialContext(context.Background(), url) }

// DialContext implements Connector.
func (s *sock) DialContext(ctx context.Context, raw string) error {
	if s.isClosing() {
		return ErrClosed
	}
	u, tr, err := transport.Resolve(raw, s.o.transports)
	if err != nil {
		return fmt.Errorf("socket: dial: %w", err)
	}
	// Close ends the attempt at once, whatever ctx says.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.dialCtx, cancel)()
	tp, err := tr.Dial(ctx, u, &s.tcfg)
	if err != nil {
		if s.isClosing() {
			err = ErrClosed
		}
		return fmt.Errorf("socket: dial %s: %w", raw, err)
	}
	d := &dialer{s: s, raw: raw, u: u, tr: tr}
	p, err := s.addPipe(tp, d, nil)
	if err != nil {
		tp.Close()
		return fmt.Errorf("socket: dial %s: %w", raw, err)
	}
	if !s.goroutine(func() { d.run(p) }) {
		p.close(ErrClosed)
		return ErrClosed
	}
	return nil
}

// run redials whenever the pipe is lost, with exponential backoff, until
// the socket stops.
func (d *dialer) run(p *pipe) {
	s := d.s
	backoff := s.o.reconnectMin
	for {
		select {
		case <-p.done:
		case <-s.stopping:
			return
		}
		for {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.stopping:
				t.Stop()
				return
			}
			backoff = min(2*backoff, s.o.reconnectMax)
			tp, err := d.tr.Dial(s.ctx, d.u, &s.tcfg)
			if err != nil {
				s.logf("socket: redial failed", "url", d.raw, "err", err)
				continue
			}
			np, err := s.addPipe(tp, d, nil)
			if err != nil {
				tp.Close()
				if errors.Is(err, ErrClosed) {
					return
				}
				continue
			}
			p = np
			backoff = s.o.reconnectMin
			break
		}
	}
}

// Listen implements Connector.
func (s *sock) Listen(url string) error {
	_, err := s.ListenAddr(url)
	return err
}

// ListenAddr implements Connector.
func (s *sock) ListenAddr(raw string) (string, error) {
	if s.isClosing() {
		return "", ErrClosed
	}
	u, tr, err := transport.Resolve(raw, s.o.transports)
	if err != nil {
		return "", fmt.Errorf("socket: listen: %w", err)
	}
	ln, err := tr.Listen(s.ctx, u, &s.tcfg)
	if err != nil {
		return "", fmt.Errorf("socket: listen %s: %w", raw, err)
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		ln.Close()
		return "", ErrClosed
	}
	s.listeners = append(s.listeners, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.acceptLoop(ln)
	}()
	return ln.Addr(), nil
}

// listenerPeers counts the open pipes of one listener, for
// WithMaxPeersPerListener. Guarded by s.sq.mu.
type listenerPeers struct{ n int }

func (s *sock) acceptLoop(ln transport.Listener) {
	lp := new(listenerPeers)
	for {
		tp, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, transport.ErrClosed) {
				s.logf("socket: listener failed", "addr", ln.Addr(), "err", err)
			}
			return
		}
		if _, err := s.addPipe(tp, nil, lp); err != nil {
			s.logf("socket: refused a peer", "addr", ln.Addr(), "remote", tp.RemoteAddr(), "err", err)
			if errors.Is(err, ErrTooManyPeers) {
				s.c.refused.Add(1) // before the close the peer sees
			}
			tp.Close()
		}
	}
}

// addPipe starts serving a connected pipe: one dialed by d, or one
// accepted by the listener whose pipes lp counts, or (both nil) one of
// NewPair.
func (s *sock) addPipe(tp transport.Pipe, d *dialer, lp *listenerPeers) (*pipe, error) {
	if got := tp.Peer().ID; got != s.proto.Peer.ID {
		return nil, &transport.MismatchError{Want: s.proto.Peer, Got: got}
	}
	p := newPipe(s, tp, d)
	p.lp = lp
	if lp != nil && s.o.idleTimeout > 0 {
		p.silent = &idleWatch{d: s.o.idleTimeout}
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if err := s.sq.register(p); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.wg.Add(2)
	if d != nil {
		if d.n > 0 {
			s.c.reconnects.Add(1)
		}
		d.n++
	}
	s.mu.Unlock()
	s.c.pipesOpened.Add(1)
	s.logf("socket: pipe added", "pipe", p.id, "remote", tp.RemoteAddr())
	if p.silent != nil {
		p.silent.start(p)
	}
	p.announce()
	go func() {
		defer s.wg.Done()
		p.writeLoop()
	}()
	go func() {
		defer s.wg.Done()
		p.readLoop()
	}()
	return p, nil
}
