package mesh

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// A circuit joins two hosts that are not neighbours: a chain of link
// streams, one per hop, spliced at each relay, set up along a path the
// source fixes (source routing). It carries an inner mux session (the
// source is its client), wrapped in end-to-end TLS on a secured mesh. One
// circuit serves a pair of hosts in both directions and for every stream,
// so relays hold state per pair of hosts and never per application
// stream. A circuit whose path breaks is reset end to end; the next dial
// builds a new one on the route of the moment.

// circuitTable holds the circuits of which this node is an end.
type circuitTable struct {
	mu       sync.Mutex
	byHost   map[uint64]*circuit // the circuit to use to reach a far host
	building map[uint64]*build   // circuits being set up, by destination
	ends     counts              // circuits that end here, by source (MaxCircuitsPerHost, MaxCircuits)
}

func (t *circuitTable) init() {
	t.byHost = make(map[uint64]*circuit)
	t.building = make(map[uint64]*build)
}

// circuit is one end of a circuit.
type circuit struct {
	host   uint64   // the far end
	path   []uint64 // source first
	sess   *mux.Session
	source bool    // this end set the circuit up
	h      *closer // the session's handle for Close
	known  knownDests
}

// build is a circuit being set up; the dials that need it wait for done.
type build struct {
	done chan struct{}
	c    *circuit
	err  error
}

// circuitTo returns the circuit to host, setting one up if there is none.
// Concurrent dials to one host share one setup.
func (c *core) circuitTo(ctx context.Context, host uint64) (*circuit, error) {
	t := &c.circuits
	t.mu.Lock()
	if ci := t.byHost[host]; ci != nil && ci.sess.Err() == nil {
		t.mu.Unlock()
		return ci, nil
	}
	b := t.building[host]
	if b == nil {
		path := c.path(host)
		switch {
		case path == nil:
			t.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrNoRoute, FormatID(host))
		case len(path)-1 > c.lim.MaxHops:
			t.mu.Unlock()
			return nil, fmt.Errorf("%w: %s is %d hops away (at most %d)", ErrHopLimit, FormatID(host), len(path)-1, c.lim.MaxHops)
		}
		b = &build{done: make(chan struct{})}
		t.building[host] = b
		if !c.spawn(func() { c.runCircuit(host, path, b) }) {
			delete(t.building, host)
			t.mu.Unlock()
			return nil, ErrClosed
		}
	}
	t.mu.Unlock()
	select {
	case <-b.done:
		if b.err != nil {
			return nil, b.err
		}
		return b.c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// path returns the route's path to host, or nil.
func (c *core) path(host uint64) []uint64 {
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	return c.rt.r.path(host)
}

// runCircuit sets up a circuit along path, publishes it, and then serves
// the streams the far host opens on it until it ends.
func (c *core) runCircuit(host uint64, path []uint64, b *build) {
	t := &c.circuits
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.HandshakeTimeout)
	ci, err := c.openCircuit(ctx, path)
	cancel()
	t.mu.Lock()
	delete(t.building, host)
	if err == nil {
		t.byHost[host] = ci
	}
	b.c, b.err = ci, err
	close(b.done)
	t.mu.Unlock()
	if err != nil {
		c.logf(slog.LevelInfo, "mesh: circuit setup failed", "path", formatPath(path), "err", err)
		return
	}
	c.serveCircuit(ci)
}

// serveCircuit serves the streams of a circuit's far end until the circuit
// ends, then forgets it. At the source, a circuit without streams for
// circuitIdle is closed, so that relays do not hold circuits nobody uses.
func (c *core) serveCircuit(ci *circuit) {
	if ci.source {
		stop := closeWhenIdle(ci.sess, c.opts.circuitIdle)
		defer stop()
	}
	c.acceptLoop(ci.sess, ci.host, nil)
	ci.sess.Close()
	c.untrack(ci.h)
	t := &c.circuits
	t.mu.Lock()
	if t.byHost[ci.host] == ci {
		delete(t.byHost, ci.host)
	}
	t.mu.Unlock()
	c.logf(slog.LevelDebug, "mesh: circuit ended", "path", formatPath(ci.path), "err", ci.sess.Err())
}

// closeWhenIdle closes sess once it has had no stream for idle (checked
// every idle/2). The returned function stops watching.
func closeWhenIdle(sess *mux.Session, idle time.Duration) (stop func()) {
	var mu sync.Mutex
	busy := time.Now()
	var t *time.Timer
	t = time.AfterFunc(idle/2, func() {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if sess.NumStreams() > 0 {
			busy = now
		} else if now.Sub(busy) >= idle {
			sess.Close()
			return
		}
		t.Reset(idle / 2)
	})
	return func() {
		mu.Lock()
		t.Stop()
		mu.Unlock()
	}
}

// openCircuit sends a setup along path and, once the destination accepts
// it, starts the inner session (after end-to-end TLS when secured).
func (c *core) openCircuit(ctx context.Context, path []uint64) (*circuit, error) {
	host := path[len(path)-1]
	l := c.links.get(path[1])
	if l == nil {
		return nil, fmt.Errorf("%w: %s: the next hop %s is no longer a neighbour", ErrNoRoute, FormatID(host), FormatID(path[1]))
	}
	st, err := l.sess.OpenStream(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: opening a stream to %s: %v", ErrNoRoute, FormatID(host), FormatID(path[1]), err)
	}
	if _, err := st.Write(appendSetupHeader(nil, setupHeader{hop: 1, path: path})); err != nil {
		st.Reset(mux.CodeCancel)
		return nil, fmt.Errorf("%w: %s: %v", ErrNoRoute, FormatID(host), err)
	}
	var v [2]byte
	err = withContext(ctx, st, func() error {
		_, err := io.ReadFull(st, v[:])
		return err
	})
	if err != nil {
		st.Reset(mux.CodeCancel)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: circuit setup along %s: %v", ErrNoRoute, formatPath(path), ctx.Err())
		}
		return nil, fmt.Errorf("%w: circuit setup along %s broke: %v", ErrNoRoute, formatPath(path), err)
	}
	if code(v[0]) != codeOK {
		st.Close()
		by := uint64(0)
		if int(v[1]) < len(path) {
			by = path[v[1]]
		}
		return nil, &refusal{op: "circuit", by: by, err: code(v[0]).err(), reason: "path " + formatPath(path)}
	}
	var rw net.Conn = st
	if c.ident != nil {
		tc := tls.Client(st, c.ident.tlsConfig(false, host))
		if err := tc.HandshakeContext(ctx); err != nil {
			st.Reset(mux.CodeCancel)
			return nil, tlsError(err)
		}
		rw = tc
	}
	sess, err := mux.Client(rw, c.innerCfg)
	if err != nil {
		st.Reset(mux.CodeCancel)
		return nil, err
	}
	h := c.track(sess)
	if h == nil {
		return nil, ErrClosed
	}
	return &circuit{host: host, path: path, sess: sess, source: true, h: h}, nil
}

// terminate accepts a circuit that ends here: it answers ok, runs the
// server end of the inner session (after end-to-end TLS when secured), and
// serves its streams in a goroutine of its own.
func (c *core) terminate(st *mux.Stream, s setupHeader) {
	src := s.path[0]
	t := &c.circuits
	t.mu.Lock()
	err := t.ends.take(src, c.lim.MaxCircuitsPerHost, c.lim.MaxCircuits, "MaxCircuitsPerHost", "MaxCircuits", c.lim)
	t.mu.Unlock()
	if err != nil {
		c.refuseSetup(st, s, err, s.path[s.hop-1])
		return
	}
	release := func() {
		t.mu.Lock()
		t.ends.put(src)
		t.mu.Unlock()
	}
	if _, err := st.Write([]byte{uint8(codeOK), uint8(s.hop)}); err != nil {
		st.Reset(mux.CodeCancel)
		release()
		return
	}
	var rw net.Conn = st
	if c.ident != nil {
		ctx, cancel := context.WithTimeout(c.ctx, c.lim.HandshakeTimeout)
		tc := tls.Server(st, c.ident.tlsConfig(true, src))
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.logf(slog.LevelWarn, "mesh: circuit refused: end-to-end TLS failed", "path", formatPath(s.path), "err", tlsError(err))
			st.Reset(mux.CodeCancel)
			release()
			return
		}
		rw = tc
	}
	sess, err := mux.Server(rw, c.innerCfg)
	if err != nil {
		st.Reset(mux.CodeCancel)
		release()
		return
	}
	h := c.track(sess)
	if h == nil {
		release()
		return
	}
	ci := &circuit{host: src, path: s.path, sess: sess, h: h}
	t.mu.Lock()
	if cur := t.byHost[src]; cur == nil || cur.sess.Err() != nil {
		t.byHost[src] = ci
	}
	t.mu.Unlock()
	if !c.spawn(func() {
		defer release()
		c.serveCircuit(ci)
	}) {
		sess.Close()
		release()
	}
}
