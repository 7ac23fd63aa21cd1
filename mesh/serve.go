package mesh

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// Every session a node holds (a link's, a circuit's inner session, the
// self session) runs an accept loop that reads the header of each stream
// the other end opens and hands it on: to a listener, or, on a link, to
// the circuit setup.

// acceptStreams serves the streams a link's peer opens.
func (l *link) acceptStreams() { l.c.acceptLoop(l.sess, l.peer, l) }

// acceptLoop serves the streams opened on sess by host from; l is the
// link when sess is a link's (circuit setups are allowed only there). At
// most MaxPendingStreams headers are read at once; beyond that the loop
// stops accepting, and the peer's opens wait in mux's accept backlog.
func (c *core) acceptLoop(sess *mux.Session, from uint64, l *link) {
	sem := make(chan struct{}, c.lim.MaxPendingStreams)
	for {
		st, err := sess.AcceptStream(c.ctx)
		if err != nil {
			return
		}
		select {
		case sem <- struct{}{}:
		case <-sess.Done():
			st.Reset(mux.CodeCancel)
			return
		}
		if !c.spawn(func() {
			defer func() { <-sem }()
			c.serveStream(st, from, l)
		}) {
			st.Reset(mux.CodeCancel)
			return
		}
	}
}

// serveStream reads the header of a stream and dispatches it.
func (c *core) serveStream(st *mux.Stream, from uint64, l *link) {
	// The header must come within HandshakeTimeout. A timer that resets
	// the stream, rather than a read deadline, leaves nothing behind on a
	// stream that lives on (a relayed circuit keeps only its splice).
	timer := time.AfterFunc(c.lim.HandshakeTimeout, func() { st.Reset(mux.CodeCancel) })
	h, err := readHeader(st, c.lim.MaxHops+1)
	if !timer.Stop() {
		c.logf(slog.LevelWarn, "mesh: stream header not received in time", "from", FormatID(from), "within", c.lim.HandshakeTimeout)
		return // reset
	}
	if err != nil {
		switch {
		case h.kind == kindCircuit && errors.Is(err, ErrHopLimit):
			c.refuseSetup(st, h.setup, err, from) // h.setup.hop is read before the path
		case h.kind == kindConn && errors.Is(err, ErrProtocol):
			st.Write([]byte{uint8(codeProtocol)})
			st.Close()
		default:
			st.Reset(mux.CodeProtocol)
		}
		c.logf(slog.LevelWarn, "mesh: bad stream header", "from", FormatID(from), "err", err)
		return
	}
	switch h.kind {
	case kindConn:
		c.deliver(st, from, h.conn)
	case kindCircuit:
		if l == nil {
			c.refuseSetup(st, h.setup, errNestedCircuit, from)
			return
		}
		c.handleSetup(l, st, h.setup)
	}
}

// selfLink is the session on which a node dials itself: a mux session
// pair over an in-memory pipe, made on first use.
type selfLink struct {
	mu   sync.Mutex
	sess *mux.Session
}

// session returns the self session, making it if need be.
func (s *selfLink) session(c *core) (*mux.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil && s.sess.Err() == nil {
		return s.sess, nil
	}
	a, b := net.Pipe()
	client, err := mux.Client(a, c.innerCfg)
	if err != nil {
		return nil, err
	}
	server, err := mux.Server(b, c.innerCfg)
	if err != nil {
		client.Close()
		return nil, err
	}
	hc, hs := c.track(client), c.track(server)
	if hc == nil || hs == nil {
		client.Close()
		server.Close()
		c.untrack(hc)
		c.untrack(hs)
		return nil, ErrClosed
	}
	if !c.spawn(func() {
		c.acceptLoop(server, c.id, nil)
		server.Close()
		client.Close()
		c.untrack(hs)
		c.untrack(hc)
	}) {
		return nil, ErrClosed
	}
	s.sess = client
	return client, nil
}
