package muxpeer

import (
	"context"
	"io"
	"net"
	"sync"
)

// Raw is the baseline: every stream is its own loopback TCP connection.
func Raw() Peer {
	return Peer{
		Name:   "raw TCP",
		NoIdle: "an idle TCP connection lives in the kernel, not in the Go heap",
		Pair: func(ln net.Listener, _ Options) (Session, Session, error) {
			return &rawDialer{addr: ln.Addr().String(), set: newConnSet()},
				&rawListener{ln: ln, set: newConnSet()}, nil
		},
	}
}

func newConnSet() *connSet { return &connSet{conns: map[net.Conn]struct{}{}} }

type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	clear(s.conns)
}

type rawConn struct {
	net.Conn
	set *connSet
}

func (c rawConn) Close() error {
	c.set.remove(c.Conn)
	return c.Conn.Close()
}

func (c rawConn) SendMsg(p []byte) error {
	_, err := c.Conn.Write(p)
	return err
}

func (c rawConn) RecvMsg(buf []byte) ([]byte, error) {
	_, err := io.ReadFull(c.Conn, buf)
	return buf, err
}

type rawDialer struct {
	addr string
	set  *connSet
}

func (d *rawDialer) OpenStream(ctx context.Context) (Stream, error) {
	var dd net.Dialer
	c, err := dd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if !d.set.add(c) {
		return nil, net.ErrClosed
	}
	return rawConn{c, d.set}, nil
}

func (d *rawDialer) AcceptStream(context.Context) (Stream, error) { return nil, net.ErrClosed }

func (d *rawDialer) Close() error {
	d.set.closeAll()
	return nil
}

type rawListener struct {
	ln  net.Listener
	set *connSet
}

func (l *rawListener) OpenStream(context.Context) (Stream, error) { return nil, net.ErrClosed }

func (l *rawListener) AcceptStream(context.Context) (Stream, error) {
	c, err := l.ln.Accept()
	if err != nil {
		return nil, err
	}
	if !l.set.add(c) {
		return nil, net.ErrClosed
	}
	return rawConn{c, l.set}, nil
}

func (l *rawListener) Close() error {
	l.set.closeAll()
	return l.ln.Close()
}
