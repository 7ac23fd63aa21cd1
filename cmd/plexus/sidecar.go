package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/plexusnet/plexus/mesh"
)

// sidecars runs the --expose and --forward proxies of a node: their
// listeners, and the connections they carry.
type sidecars struct {
	node *mesh.Node
	log  *slog.Logger
	// allowGroups: the --expose listeners admit only callers of these
	// groups (--allow-groups); nil: anyone.
	allowGroups []string
	// ctx ends the proxied connections: cancelled by close, after the
	// drain.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners []net.Listener
	stats     []*sidecarStats // one per sidecar, in the order they started; guarded by mu
	accepts   sync.WaitGroup  // the accept loops
	conns     sync.WaitGroup  // the proxied connections
}

// sidecarStats are the counters of one sidecar, guarded by sidecars.mu.
type sidecarStats struct {
	kind   string // "expose" or "forward"
	spec   string // the flag's value
	listen string // the service name (expose) or TCP address (forward) it accepts on
	open   int    // connections open now
	total  uint64 // connections accepted since it started
	err    error  // the last error proxying a connection
	errAt  time.Time
}

// sidecarInfo describes one sidecar for the status API.
type sidecarInfo struct {
	Kind, Spec, Listen string
	Open               int
	Total              uint64
	Err                error // the last error, nil: none
	ErrTime            time.Time
}

// info describes the sidecars, in the order they started.
func (sc *sidecars) info() []sidecarInfo {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make([]sidecarInfo, len(sc.stats))
	for i, s := range sc.stats {
		out[i] = sidecarInfo{Kind: s.kind, Spec: s.spec, Listen: s.listen, Open: s.open, Total: s.total, Err: s.err, ErrTime: s.errAt}
	}
	return out
}

// failed records err as the last error of s.
func (sc *sidecars) failed(s *sidecarStats, err error) {
	sc.mu.Lock()
	s.err, s.errAt = err, time.Now()
	sc.mu.Unlock()
}

func newSidecars(n *mesh.Node, log *slog.Logger) *sidecars {
	ctx, cancel := context.WithCancel(context.Background())
	return &sidecars{node: n, log: log, ctx: ctx, cancel: cancel}
}

// dialTimeout bounds each dial a sidecar makes for a connection.
const dialTimeout = 10 * time.Second

// expose publishes mesh service e.name, proxied to local TCP e.addr.
func (sc *sidecars) expose(ctx context.Context, e exposeSpec) error {
	var opts []mesh.ListenOption
	if sc.allowGroups != nil {
		opts = append(opts, mesh.AllowGroups(sc.allowGroups...))
	}
	ln, err := sc.node.Listen("", e.name, opts...)
	if err != nil {
		return fmt.Errorf("--expose %s=%s: %w", e.name, e.addr, err)
	}
	log := sc.log.With("expose", e.name, "to", e.addr)
	if sc.allowGroups != nil {
		log = log.With("allow-groups", strings.Join(sc.allowGroups, ","))
	}
	log.Info("sidecar: exposing a local service on the mesh", "addr", ln.Addr().String())
	var d net.Dialer
	st := &sidecarStats{kind: "expose", spec: e.name + "=" + e.addr, listen: e.name}
	sc.serve(ln, st, log, func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", e.addr)
	})
	return nil
}

// forward listens on local TCP f.addr and carries each connection to
// mesh service f.name.
func (sc *sidecars) forward(ctx context.Context, f forwardSpec) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", f.addr)
	if err != nil {
		return fmt.Errorf("--forward %s=%s: %w", f.addr, f.name, err)
	}
	log := sc.log.With("forward", ln.Addr().String(), "to", f.name)
	log.Info("sidecar: forwarding a local port to a mesh service", "addr", ln.Addr().String())
	st := &sidecarStats{kind: "forward", spec: f.addr + "=" + f.name, listen: ln.Addr().String()}
	sc.serve(ln, st, log, func(ctx context.Context) (net.Conn, error) {
		// A connection that comes while the mesh does not know the
		// service yet (the node has just started) waits for it.
		var conn net.Conn
		err := dialWait(ctx, sc.node, f.name, log, func(ctx context.Context) (err error) {
			conn, err = sc.node.DialContext(ctx, "", f.name)
			return err
		})
		return conn, err
	})
	return nil
}

// serve accepts connections on ln until stopAccepting, and proxies each
// to a connection dial makes, counting them in st.
func (sc *sidecars) serve(ln net.Listener, st *sidecarStats, log *slog.Logger, dial func(context.Context) (net.Conn, error)) {
	sc.mu.Lock()
	sc.listeners = append(sc.listeners, ln)
	sc.stats = append(sc.stats, st)
	sc.mu.Unlock()
	sc.accepts.Add(1)
	go func() {
		defer sc.accepts.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					log.Error("sidecar: accept failed, no longer accepting", "err", err)
					sc.failed(st, fmt.Errorf("accept: %w (no longer accepting)", err))
				}
				return
			}
			sc.mu.Lock()
			st.open++
			st.total++
			sc.mu.Unlock()
			sc.conns.Add(1)
			go func() {
				defer sc.conns.Done()
				defer func() {
					sc.mu.Lock()
					st.open--
					sc.mu.Unlock()
				}()
				dctx, cancel := context.WithTimeout(sc.ctx, dialTimeout)
				peer, err := dial(dctx)
				cancel()
				if err != nil {
					log.Warn("sidecar: dial failed, connection closed", "from", c.RemoteAddr().String(), "err", err)
					sc.failed(st, err)
					c.Close()
					return
				}
				log.Debug("sidecar: connection", "from", c.RemoteAddr().String(), "to", peer.RemoteAddr().String())
				proxy(sc.ctx, c, peer)
			}()
		}
	}()
}

// stopAccepting closes the listeners: no new connection is taken, the
// ones open go on.
func (sc *sidecars) stopAccepting() {
	sc.mu.Lock()
	lns := sc.listeners
	sc.listeners = nil
	sc.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	sc.accepts.Wait()
}

// wait waits up to d for the proxied connections to end; it reports
// whether they did.
func (sc *sidecars) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		sc.conns.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		sc.cancel()
		<-done
		return false
	}
}

// close stops everything at once and waits for it.
func (sc *sidecars) close() {
	sc.stopAccepting()
	sc.cancel()
	sc.conns.Wait()
}

// closeWriter is a connection that can be half-closed: *net.TCPConn and
// mesh connections.
type closeWriter interface{ CloseWrite() error }

// proxy copies a to b and b to a until both directions end, then closes
// both. The end of one direction (EOF) is passed on as a half-close, so
// a program that shuts down its sending side still reads the answer; an
// error in either direction, or the end of ctx, closes both at once.
func proxy(ctx context.Context, a, b net.Conn) {
	stop := context.AfterFunc(ctx, func() {
		a.Close()
		b.Close()
	})
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe(a, b)
	}()
	pipe(b, a)
	<-done
	a.Close()
	b.Close()
}

// pipe copies src to dst; at src's EOF it half-closes dst, and on an
// error it closes both.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(closeWriter); ok && cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
	src.Close()
}
