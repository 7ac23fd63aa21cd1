package mesh

import (
	"errors"
	"io"
	"net"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// conn is a connection over the mesh: a mux stream whose addresses are
// mesh addresses. Besides net.Conn it has the stream's CloseWrite (half
// close), Send and Recv (messages). Its errors report a refusal (a reset
// that carries one, see refuseConn) as the refusal, which is
// ErrConnRefused or ErrNoService (and a mux.ErrStreamReset).
type conn struct {
	*mux.Stream
	laddr, raddr Addr
	early        earlyDial // set when dialed without waiting for the verdict
}

// earlyDial is what a connection dialed without waiting for its verdict
// needs to forget its destination when it is refused.
type earlyDial struct {
	known *knownDests // nil: the dial waited for its verdict
	h     wire.ConnHeader
}

// LocalAddr returns this end's mesh address.
func (c *conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the other end's mesh address; on an accepted
// connection its host is the caller's node id (proved by TLS on a secured
// mesh) and its port is 0.
func (c *conn) RemoteAddr() net.Addr { return c.raddr }

// Read reads data. On a connection dialed without waiting, the first Read
// returns the refusal if the destination refused.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Stream.Read(p)
	return n, c.wrap(err)
}

// Recv returns the next message, as Read does.
func (c *conn) Recv() ([]byte, error) {
	b, err := c.Stream.Recv()
	return b, c.wrap(err)
}

// Write writes data. On a connection dialed without waiting, it returns
// the refusal once it has arrived.
func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Stream.Write(p)
	return n, c.wrap(err)
}

// Send sends one message, as Write does.
func (c *conn) Send(p []byte) error { return c.wrap(c.Stream.Send(p)) }

// wrap turns a reset that carries a refusal into that refusal and, on a
// connection dialed without waiting, forgets the refused destination.
func (c *conn) wrap(err error) error {
	if err == nil {
		return nil
	}
	rf := connRefusal(c.raddr.Host, err)
	if rf == nil {
		return err
	}
	if c.early.known != nil {
		c.early.known.drop(c.early.h)
	}
	return rf
}

// connRefusal returns the refusal a connection's reset carries, or nil if
// err is not such a reset.
func connRefusal(host uint64, err error) *refusal {
	se, ok := err.(*mux.StreamError) // how mux returns a reset
	if !ok && err != nil && err != io.EOF {
		se, ok = asStreamError(err)
	}
	if !ok || !se.Remote || se.Code < resetRefused || se.Code > resetRefused+0xffff {
		return nil
	}
	return &refusal{op: "dial", by: host, err: code(se.Code & 0xff).err(), hop: int(se.Code>>8) & 0xff, cause: se}
}

// asStreamError finds the *mux.StreamError in err's chain, as errors.As
// does, without an allocation when err's chain is a plain one.
func asStreamError(err error) (*mux.StreamError, bool) {
	for e := err; e != nil; {
		if se, ok := e.(*mux.StreamError); ok {
			return se, true
		}
		switch x := e.(type) {
		case interface{ As(any) bool }, interface{ Unwrap() []error }:
			var se *mux.StreamError
			return se, errors.As(e, &se)
		case interface{ Unwrap() error }:
			e = x.Unwrap()
		default:
			return nil, false
		}
	}
	return nil, false
}

// refuseConn refuses a connection: a reset whose code carries the
// refusal code, which the dialer reads whether it waits for the verdict or
// has written already.
func refuseConn(st *mux.Stream, v code) {
	st.Reset(resetCode(v, 0))
}
