package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// Dialing a host: a stream on the session that reaches it (the self
// session, a class stream of the link's session to a neighbour, or the
// inner session of the circuit to a far host), opened with a connection
// header.
//
// The first connection to a destination (a port, or a service on a port,
// in an env) on a session waits for the destination's verdict, one round
// trip, so that a closed port or an unknown service fails the Dial fast
// with ErrConnRefused or ErrNoService. Once a destination has accepted a
// connection on a session, later dials to it on that session return at
// once, as a mux open does (0-RTT): their header (wire.KindConnEarly) asks for
// no answer but a refusal, and the caller's data may follow it at once.
// A refusal then (the listener has closed since) surfaces on the
// connection's first Read or Recv, or on a Write or Send once it has
// arrived, as the same error a waiting Dial would return, and the
// destination is forgotten, so the next Dial waits again.

// maxKnownDests bounds the destinations a session remembers as accepting;
// past it, an arbitrary one is forgotten (its next dial waits once more).
const maxKnownDests = 256

// knownDests is the set of destinations that have accepted a connection
// on one session.
type knownDests struct {
	mu sync.RWMutex
	m  map[wire.ConnHeader]struct{}
}

func (k *knownDests) has(h wire.ConnHeader) bool {
	k.mu.RLock()
	_, ok := k.m[h]
	k.mu.RUnlock()
	return ok
}

func (k *knownDests) add(h wire.ConnHeader) {
	if k.has(h) {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[wire.ConnHeader]struct{})
	}
	if len(k.m) >= maxKnownDests {
		for old := range k.m {
			delete(k.m, old)
			break
		}
	}
	k.m[h] = struct{}{}
}

func (k *knownDests) drop(h wire.ConnHeader) {
	k.mu.Lock()
	delete(k.m, h)
	k.mu.Unlock()
}

// dialHost opens a connection to host through the session that reaches
// it. When that session ends under the dial (a circuit closed as idle by
// its far end at that moment, a link replaced), the dial is tried once
// more on a fresh one.
func (c *core) dialHost(ctx context.Context, host uint64, h wire.ConnHeader, raddr Addr) (net.Conn, error) {
	for try := 0; ; try++ {
		to, err := c.sessionTo(ctx, host)
		if err != nil {
			return nil, err
		}
		if to.opens != nil {
			to.opens.Add(1)
		}
		var conn net.Conn
		if to.known.has(h) {
			conn, err = c.openEarly(ctx, to, host, h, raddr)
		} else {
			conn, err = c.openConn(ctx, to, host, h, raddr)
		}
		if err != nil && verdictOf(to.sess) != nil { // a circuit refused as this first dial went out on it
			return nil, verdictOf(to.sess)
		}
		if err != nil && try == 0 && to.sess.Err() != nil && ctx.Err() == nil {
			continue
		}
		return conn, err
	}
}

// connSession is where connections to a host are opened.
type connSession struct {
	sess  *mux.Session
	class bool           // connections are the session's class streams: a link's
	known *knownDests    // destinations known to accept on sess
	opens *atomic.Uint64 // for a circuit, the count of streams opened on it (see closeWhenIdle)
}

// open opens a stream for a connection.
func (to connSession) open(ctx context.Context) (*mux.Stream, error) {
	if to.class {
		return to.sess.OpenClassStream(ctx)
	}
	return to.sess.OpenStream(ctx)
}

// sessionTo returns where to open connections to host.
func (c *core) sessionTo(ctx context.Context, host uint64) (connSession, error) {
	if host == c.id {
		sess, known, err := c.self.session(c)
		return connSession{sess: sess, known: known}, err
	}
	if l := c.links.get(host); l != nil {
		return connSession{sess: l.sess, class: true, known: &l.known}, nil
	}
	ci, err := c.circuitTo(ctx, host)
	if err != nil {
		return connSession{}, err
	}
	return connSession{sess: ci.sess, known: &ci.known, opens: &ci.opens}, nil
}

// openStream opens a stream for a connection on to and sends the
// connection header of kind.
func (c *core) openStream(ctx context.Context, to connSession, host uint64, kind uint8, h wire.ConnHeader) (*mux.Stream, error) {
	st, err := to.open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: opening a stream to %s: %v", ErrNoRoute, FormatID(host), err)
	}
	hdr := wire.AppendConnHeader(make([]byte, 0, 8+len(h.Env)+len(h.Name)), kind, h)
	if ctx.Done() == nil { // nothing bounds the dial: no deadline to set
		_, err = st.Write(hdr)
	} else {
		// The write waits for credit, which a peer that reads nothing on
		// the session may never give: the dial's deadline bounds it.
		err = withContext(ctx, st, func() error {
			_, err := st.Write(hdr)
			return err
		})
	}
	if err != nil {
		st.Reset(mux.CodeCancel)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded): // the stream's deadline, set from ctx's, came first
			return nil, context.DeadlineExceeded
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrNoRoute, FormatID(host), err)
	}
	return st, nil
}

// openConn opens a connection and waits for the verdict, at most
// HandshakeTimeout; an accepted destination becomes known.
func (c *core) openConn(ctx context.Context, to connSession, host uint64, h wire.ConnHeader, raddr Addr) (net.Conn, error) {
	st, err := c.openStream(ctx, to, host, wire.KindConn, h)
	if err != nil {
		return nil, err
	}
	var v [1]byte
	vctx, cancel := context.WithTimeout(ctx, c.lim.HandshakeTimeout)
	err = withContext(vctx, st, func() error {
		_, err := io.ReadFull(st, v[:])
		return err
	})
	cancel()
	if rf := connRefusal(host, err); rf != nil {
		return nil, rf
	}
	if err != nil {
		st.Reset(mux.CodeCancel)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case vctx.Err() != nil:
			return nil, fmt.Errorf("%w: %s did not answer within %v", ErrNoRoute, FormatID(host), c.lim.HandshakeTimeout)
		}
		return nil, fmt.Errorf("%w: %s closed the stream before answering: %v", ErrNoRoute, FormatID(host), err)
	}
	if code(v[0]) != codeOK {
		st.Reset(mux.CodeCancel)
		return nil, &refusal{op: "dial", by: host, err: code(v[0]).err()}
	}
	to.known.add(h)
	return &conn{Stream: st, laddr: Addr{Host: c.id}, raddr: raddr}, nil
}

// openEarly opens a connection to a destination known to accept on to,
// without waiting for a verdict.
func (c *core) openEarly(ctx context.Context, to connSession, host uint64, h wire.ConnHeader, raddr Addr) (net.Conn, error) {
	st, err := c.openStream(ctx, to, host, wire.KindConnEarly, h)
	if err != nil {
		return nil, err
	}
	return &conn{Stream: st, laddr: Addr{Host: c.id}, raddr: raddr, early: earlyDial{known: to.known, h: h}}, nil
}
