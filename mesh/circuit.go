package mesh

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/internal/resume"
	"github.com/plexusnet/plexus/internal/timerref"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// A circuit joins two hosts that are not neighbours: a chain of link
// streams, one per hop, spliced at each relay, set up along a path the
// source fixes (source routing). It carries an inner mux session (the
// source is its client), wrapped in end-to-end TLS on a secured mesh. One
// circuit serves a pair of hosts in both directions and for every stream,
// so relays hold state per pair of hosts and never per application
// stream. A circuit whose path breaks is reset end to end, and the next
// dial builds a new one on the route of the moment; unless it is
// resumable (resumecircuit.go), when its source finds a new path and both
// ends carry on.

// circuitTable holds the circuits of which this node is an end.
type circuitTable struct {
	mu       sync.Mutex
	byHost   map[uint64]*circuit   // the circuit to use to reach a far host
	all      map[*circuit]struct{} // every circuit being served (ReloadTLS, Circuits)
	building map[uint64]*build     // circuits being set up, by destination
	ends     counts                // circuits that end here, by source (MaxCircuitsPerHost, MaxCircuits)
	res      circuitResumes        // resumable circuits (resumecircuit.go)
}

func (t *circuitTable) init() {
	t.byHost = make(map[uint64]*circuit)
	t.all = make(map[*circuit]struct{})
	t.building = make(map[uint64]*build)
	t.res.byID = make(map[resumeKey]*circuit)
}

// circuit is one end of a circuit.
type circuit struct {
	host   uint64 // the far end
	pathMu sync.Mutex
	path   []uint64 // source first; replaced (never changed) when a resume moves the circuit (currentPath)
	sess   *mux.Session
	source bool    // this end set the circuit up
	h      *closer // the session's handle for Close
	known  knownDests
	opens  atomic.Uint64 // streams opened on sess, either way, and Pings on it (see closeWhenIdle)
	checks atomic.Uint64 // idleness checks of sess done (closeWhenIdle): tests wait on it
	cert   peerCert      // what the far host's certificate proved in end-to-end TLS, when secured
	since  time.Time     // when it was set up

	// A resumable circuit's (nil rc: not resumable).
	rc       *resume.Conn  // under end-to-end TLS
	resuming atomic.Bool   // the source looks for a new path (resumeLoop)
	resumes  atomic.Uint64 // resumes that succeeded
}

// currentPath returns ci's path: the one it was set up on, or the one its
// latest resume took.
func (ci *circuit) currentPath() []uint64 {
	ci.pathMu.Lock()
	defer ci.pathMu.Unlock()
	return ci.path
}

func (ci *circuit) setPath(p []uint64) {
	ci.pathMu.Lock()
	ci.path = p
	ci.pathMu.Unlock()
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
		if c.path(host) == nil {
			t.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrNoRoute, FormatID(host))
		}
		b = &build{done: make(chan struct{})}
		t.building[host] = b
		if !c.spawn(func() { c.runCircuit(host, b) }) {
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
	return c.rt.r.Path(host)
}

// runCircuit sets up a circuit to host, publishes it, and then serves
// the streams the far host opens on it until it ends.
func (c *core) runCircuit(host uint64, b *build) {
	t := &c.circuits
	ci, err := c.setupCircuit(host) // counted as opened there (see openCircuit)
	t.mu.Lock()
	delete(t.building, host)
	if err == nil {
		t.byHost[host] = ci
	}
	b.c, b.err = ci, err
	close(b.done)
	t.mu.Unlock()
	if err != nil {
		return
	}
	c.considerDirect(host, false)
	c.serveCircuit(ci)
}

// maxSetupAttempts bounds the paths a circuit setup tries.
const maxSetupAttempts = 3

// setupCircuit sets up a circuit to host: along the best path, and when
// that fails (a refusal, a reset, or no answer within SetupTimeout; the
// last attempt has what is left of HandshakeTimeout), along the best path
// that avoids every relay of the failed attempts, up to maxSetupAttempts
// paths within HandshakeTimeout. Every relay of a failed path is avoided
// by later setups too (see avoidTable): which of them failed cannot be
// known. Only a refusal that the far host made inside end-to-end TLS,
// which no relay can forge, is not tried again. (Anything else may be a
// relay's doing, bytes dropped after the TLS handshake included, so it
// blames the path's relays: a hostile destination can make this node
// prefer other relays for a while, never cut it off, since a path through
// avoided relays is still taken when there is no other.)
func (c *core) setupCircuit(host uint64) (*circuit, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.HandshakeTimeout)
	defer cancel()
	var tried [][]uint64
	var err error
	for len(tried) < maxSetupAttempts {
		path := c.nextPath(host, tried, time.Now())
		switch {
		case path == nil && err != nil:
			return nil, err // no path avoids the relays that failed
		case path == nil && c.path(host) != nil:
			p := c.path(host)
			return nil, fmt.Errorf("%w: %s is %d hops away (at most %d)", ErrHopLimit, FormatID(host), len(p)-1, c.lim.MaxHops)
		case path == nil:
			return nil, fmt.Errorf("%w: %s", ErrNoRoute, FormatID(host))
		}
		timeout := c.lim.SetupTimeout
		if len(tried) == maxSetupAttempts-1 {
			timeout = c.lim.HandshakeTimeout // the last attempt: all that is left
		}
		actx, acancel := context.WithTimeout(ctx, timeout)
		var ci *circuit
		ci, err = c.openCircuit(actx, path)
		acancel()
		if err == nil {
			c.avoid.succeeded(relaysOf(path))
			return ci, nil
		}
		c.stats.setupsFailed.Add(1)
		c.logf(slog.LevelInfo, "mesh: circuit setup failed", "path", wire.FormatPath(path), "err", err)
		var rf *refusal
		if errors.As(err, &rf) && rf.proved || ctx.Err() != nil || c.isClosed() {
			return nil, err
		}
		c.avoid.failed(relaysOf(path), time.Now())
		tried = append(tried, path)
	}
	return nil, err
}

// nextPath returns the path for the next attempt of a setup to host after
// the failed ones, tried: the best path within the hop limit whose relays
// are none of theirs, nor avoided now; or, when only relays avoided now
// would allow one, the best path that avoids those of the failed attempts
// only. Nil when there is none.
func (c *core) nextPath(host uint64, tried [][]uint64, now time.Time) []uint64 {
	failed := make(map[uint64]bool)
	for _, p := range tried {
		for _, id := range relaysOf(p) {
			failed[id] = true
		}
	}
	avoided := c.avoid.snapshot(now)
	within := func(p []uint64) []uint64 {
		if len(p)-1 > c.lim.MaxHops {
			return nil
		}
		return p
	}
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	if len(failed) == 0 && len(avoided) == 0 {
		return within(c.rt.r.Path(host))
	}
	if p := within(c.rt.r.PathAvoiding(host, func(id uint64) bool { return failed[id] || avoided[id] })); p != nil {
		return p
	}
	if len(avoided) == 0 {
		return nil
	}
	return within(c.rt.r.PathAvoiding(host, func(id uint64) bool { return failed[id] }))
}

// serveCircuit serves the streams of a circuit's far end until the circuit
// ends, then forgets it. A circuit without streams for circuitIdle is
// closed by its source, and for twice that by its destination (the source
// normally closes it first), so that relays do not hold circuits nobody
// uses, whatever the source does.
func (c *core) serveCircuit(ci *circuit) {
	idle := c.opts.circuitIdle
	if !ci.source {
		idle *= 2
	}
	stop := closeWhenIdle(ci.sess, &ci.opens, &ci.checks, idle)
	defer stop()
	t := &c.circuits
	t.mu.Lock()
	t.all[ci] = struct{}{}
	t.mu.Unlock()
	if err := c.revokedPath(ci.currentPath()); err != nil { // a list installed during the setup (see installRevocation)
		c.logf(slog.LevelWarn, "mesh: circuit closed", "path", wire.FormatPath(ci.currentPath()), "err", err)
		ci.sess.Close()
	}
	if !ci.cert.notAfter.IsZero() {
		// A circuit lasts no longer than the far host's certificate.
		// The timer, stopped, stays in the runtime's heap until notAfter:
		// clearing ref keeps it from holding the circuit and the node.
		expire, ref := timerref.Func(time.Until(ci.cert.notAfter), func() {
			c.logf(slog.LevelWarn, "mesh: circuit closed: the far host's certificate expired", "host", c.who(ci.host), "notAfter", ci.cert.notAfter)
			ci.sess.Close()
		})
		defer func() {
			expire.Stop()
			ref.Clear()
		}()
	}
	c.acceptLoop(ci.sess, ci.host, ci.cert.grants, nil, &ci.opens)
	ci.sess.Close()
	c.untrack(ci.h)
	if ci.rc != nil {
		ci.rc.Fail(ErrClosed) // a suspended circuit's Conn ends with it
	}
	t.mu.Lock()
	delete(t.all, ci)
	if t.byHost[ci.host] == ci {
		delete(t.byHost, ci.host)
	}
	if ci.rc != nil {
		if k := (resumeKey{ci.host, ci.rc.ID()}); t.res.byID[k] == ci {
			delete(t.res.byID, k)
		}
	}
	t.mu.Unlock()
	if c.log != nil {
		c.logf(slog.LevelDebug, "mesh: circuit ended", "path", wire.FormatPath(ci.currentPath()), "err", ci.sess.Err())
	}
}

// closeWhenIdle closes sess once it has had no stream for idle (checked
// every idle/2): none open at a check, and none opened since the last one
// (opens counts the streams opened on sess, so that short streams between
// two checks count), nor a ping of the peer's answered (Node.Ping: pings
// are use); checks counts the checks done. The returned function stops
// watching.
func closeWhenIdle(sess *mux.Session, opens, checks *atomic.Uint64, idle time.Duration) (stop func()) {
	var mu sync.Mutex
	busy := time.Now()
	used := func() uint64 { return opens.Load() + sess.Stats().PingsAnswered }
	seen := used()
	var t *time.Timer
	var ref *timerref.Ref[func()] // cleared by stop: a stopped timer holds nothing of sess
	t, ref = timerref.Func(idle/2, func() {
		mu.Lock()
		defer mu.Unlock()
		defer checks.Add(1)
		now := time.Now()
		if n := used(); sess.NumStreams() > 0 || n != seen {
			busy, seen = now, n
		} else if now.Sub(busy) >= idle {
			sess.Close()
			return
		}
		t.Reset(idle / 2)
	})
	return func() {
		mu.Lock()
		t.Stop()
		ref.Clear()
		mu.Unlock()
	}
}

// openCircuit sends a setup along path and, once the destination accepts
// it, starts the inner session (after end-to-end TLS when secured).
//
// On a secured mesh the TLS ClientHello follows the setup at once, without
// waiting for the destination's answer, which the handshake reads first
// (see setupAnswer): the setup and the handshake's first round trip
// overlap. Nothing but the ClientHello is sent before the destination is
// proved; a relay that refuses the setup discards it with the stream.
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
	var pre *circuitPreface
	if c.resumableTo(host) {
		p, err := c.newCircuitPreface(c.circuitWindow(), c.ident != nil)
		if err != nil {
			st.Reset(mux.CodeCancel)
			return nil, err
		}
		pre = &p
	}
	ans := &setupAnswer{Stream: st, path: path}
	err = withContext(ctx, st, func() error {
		b := wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 1, Path: path})
		if pre != nil {
			b = pre.appendTo(b)
		}
		if _, err := st.Write(b); err != nil {
			return err
		}
		if c.ident != nil {
			return nil // the handshake reads the answer
		}
		_, err := ans.Read(nil)
		return err
	})
	if err != nil {
		return nil, c.setupFailed(ctx, ans, err)
	}
	var rw, under net.Conn = st, ans // the inner session's connection, and end-to-end TLS's
	var rc *resume.Conn
	var ref *circuitRef
	if pre != nil {
		ref = &circuitRef{c: c}
		if rc, err = resume.NewWithID(pre.id, newStreamPath(ans, st), c.circuitResumeCfg(pre.window, ref)); err != nil {
			st.Reset(mux.CodeCancel)
			return nil, err
		}
		ref.setConn(rc)
		if c.ident == nil {
			rc.SetKey(pre.secret[:])
		}
		rw, under = rc, rc
	}
	abort := func() {
		st.Reset(mux.CodeCancel)
		if rc != nil {
			rc.Fail(ErrClosed)
		}
	}
	var pc peerCert
	if c.ident != nil {
		tc, err := c.ident.handshake(ctx, under, false, host, &pc, nil)
		if err != nil && !ans.ok {
			if rc != nil {
				rc.Fail(err)
			}
			return nil, c.setupFailed(ctx, ans, err) // the setup itself failed
		}
		if err != nil {
			abort()
			var rf *refusal
			if errors.As(err, &rf) { // refused by a reset during the handshake
				rf.reason = "path " + wire.FormatPath(path)
				if rf.hop > 0 && rf.hop < len(path) {
					rf.by = path[rf.hop]
				}
			}
			return nil, err
		}
		if rc != nil {
			key, err := circuitKey(tc, pre)
			if err != nil {
				abort()
				return nil, err
			}
			rc.SetKey(key)
		}
		// The destination counts the circuit against its limits once TLS
		// has proved us, and says so inside TLS: the inner session reads
		// that verdict first (see verdictConn), so that the circuit's first
		// connection goes out with our last handshake flight rather than a
		// round trip later.
		v := c.awaitVerdict(ctx, tc, abort, path)
		if pre != nil {
			v.confirm = pre.confirmation()
		}
		rw = v
	}
	sess, err := mux.Client(rw, c.circuitMuxCfg(rc != nil))
	if err != nil {
		abort()
		return nil, err
	}
	h := c.track(sess)
	if h == nil {
		return nil, ErrClosed
	}
	if c.ident == nil { // else once the verdict is in (see verdictConn)
		c.stats.opened.Add(1) // before the dialers waiting for it go on
	}
	ci := &circuit{host: host, path: path, sess: sess, source: true, h: h, cert: pc, since: time.Now(), rc: rc}
	if ref != nil {
		ref.setCircuit(ci)
	}
	return ci, nil
}

// verdictConn is the end-to-end TLS connection of a circuit at its
// source: its first Read reads the destination's verdict on the circuit,
// the first byte inside TLS, and fails with the refusal if it is not ok,
// which ends the inner session with it (see verdictOf); then it reads the
// inner session's bytes. Only the session's reader calls Read.
type verdictConn struct {
	*tls.Conn
	ok      bool   // the verdict was ok
	err     error  // why the verdict was not ok, once known
	confirm []byte // a resumable circuit's: the confirmation of its preface that follows an ok verdict
	c       *core
	path    []uint64
	wait    time.Duration         // how long the verdict may take
	timer   *time.Timer           // resets st after wait
	ref     *timerref.Ref[func()] // what timer calls
}

// awaitVerdict returns tc, the end-to-end TLS connection of a circuit set
// up along path, as a verdictConn whose wait for the verdict is bounded by
// what is left of ctx; past it, abort ends the circuit's stream.
func (c *core) awaitVerdict(ctx context.Context, tc *tls.Conn, abort func(), path []uint64) *verdictConn {
	v := &verdictConn{Conn: tc, c: c, path: path, wait: c.lim.HandshakeTimeout}
	if dl, ok := ctx.Deadline(); ok {
		v.wait = time.Until(dl)
	}
	v.timer, v.ref = timerref.Func(v.wait, abort)
	return v
}

// Read reads the verdict first, then data.
func (v *verdictConn) Read(p []byte) (int, error) {
	if !v.ok {
		if v.err != nil {
			return 0, v.err
		}
		var b [1]byte
		n, err := v.Conn.Read(b[:])
		if n == 0 && err == nil || n == 0 && isTimeout(err) {
			return 0, err // a reader's deadline (see mux's leading reads), not the verdict's: it comes later
		}
		v.timer.Stop()
		v.ref.Clear()
		switch {
		case err != nil:
			v.err = v.failed(err)
			return 0, v.err
		case code(b[0]) != codeOK:
			v.c.stats.setupsFailed.Add(1)
			v.err = &refusal{op: "circuit", by: v.path[len(v.path)-1], err: code(b[0]).err(), reason: "path " + wire.FormatPath(v.path), proved: true}
			return 0, v.err
		}
		if v.confirm != nil {
			got := make([]byte, len(v.confirm))
			if _, err := io.ReadFull(v.Conn, got); err != nil || !bytes.Equal(got, v.confirm) {
				// A relay altered the preface (outside TLS): the circuit
				// could not resume; it fails as a failed setup, and later
				// ones avoid the path's relays.
				v.c.stats.setupsFailed.Add(1)
				v.c.avoid.failed(relaysOf(v.path), time.Now())
				v.err = fmt.Errorf("%w (path %s)", errPrefaceAltered, wire.FormatPath(v.path))
				return 0, v.err
			}
		}
		v.ok = true
		v.c.stats.opened.Add(1) // before the first dial on the circuit reads its own verdict
		if len(p) == 0 {
			return 0, nil
		}
	}
	return v.Conn.Read(p)
}

// failed returns the error of a circuit whose verdict did not come: a
// refusal (a reset that carries one), no answer in time, or the stream
// broken. Unless this end closed the circuit, later setups avoid the
// path's relays, as setupCircuit does for a setup that fails.
func (v *verdictConn) failed(err error) error {
	if rf := connRefusal(0, err); rf != nil {
		rf.op, rf.reason = "circuit", "path "+wire.FormatPath(v.path)
		return rf
	}
	c := v.c
	if c.isClosed() || errors.Is(err, net.ErrClosed) && !errors.Is(err, mux.ErrStreamReset) {
		return err // closed here
	}
	c.stats.setupsFailed.Add(1)
	c.avoid.failed(relaysOf(v.path), time.Now())
	if errors.Is(err, mux.ErrStreamReset) || errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: circuit setup along %s: no verdict within %v: %v", ErrNoRoute, wire.FormatPath(v.path), v.wait, err)
	}
	return tlsError(err)
}

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// verdictOf returns the refusal that ended a circuit's inner session, sess,
// at its source before its verdict came (see verdictConn), or nil.
func verdictOf(sess *mux.Session) *refusal {
	var rf *refusal
	if err := sess.Err(); err != nil && errors.As(err, &rf) && rf.op == "circuit" {
		return rf
	}
	return nil
}

// setupAnswer is the stream of a circuit setup at its source: its first
// Read reads the destination's two-byte answer (a code and the hop that
// wrote it) before anything that follows on the stream, and fails with
// the refusal if the answer is not ok.
type setupAnswer struct {
	*mux.Stream
	path []uint64
	ok   bool  // the answer was ok
	err  error // why the answer was not read, or the refusal it carried
}

// Read reads the answer first, then data.
func (a *setupAnswer) Read(p []byte) (int, error) {
	if !a.ok {
		if a.err != nil {
			return 0, a.err
		}
		var v [2]byte
		if _, err := io.ReadFull(a.Stream, v[:]); err != nil {
			a.err = err
			return 0, err
		}
		if code(v[0]) != codeOK { // a refusal written, as nodes before resets did
			by := uint64(0)
			if int(v[1]) < len(a.path) {
				by = a.path[v[1]]
			}
			a.err = &refusal{op: "circuit", by: by, err: code(v[0]).err(), reason: "path " + wire.FormatPath(a.path)}
			return 0, a.err
		}
		a.ok = true
		if len(p) == 0 {
			return 0, nil
		}
	}
	return a.Stream.Read(p)
}

// setupFailed resets the stream of a setup that failed before its answer
// was read, or was refused, with err (the write's, the read's or the
// handshake's error), and returns the setup's error.
func (c *core) setupFailed(ctx context.Context, a *setupAnswer, err error) error {
	a.Reset(mux.CodeCancel)
	if a.err != nil {
		err = a.err
	}
	var rf *refusal
	if errors.As(err, &rf) && rf.op == "circuit" && rf.reason != "" { // written by the destination or a relay
		return rf
	}
	if rf := connRefusal(0, err); rf != nil { // refused by a reset (see refuseSetup)
		rf.op, rf.reason = "circuit", "path "+wire.FormatPath(a.path)
		if rf.hop > 0 && rf.hop < len(a.path) {
			rf.by = a.path[rf.hop]
		}
		return rf
	}
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: circuit setup along %s: no answer within %v", ErrNoRoute, wire.FormatPath(a.path), c.lim.SetupTimeout)
	}
	return fmt.Errorf("%w: circuit setup along %s broke: %v", ErrNoRoute, wire.FormatPath(a.path), err)
}

// refusedLinger is how long a circuit refused inside end-to-end TLS waits
// for its source to read the verdict and end the stream.
const refusedLinger = time.Second

// drainRefused reads and drops what comes on the stream of a circuit
// refused inside end-to-end TLS until the source ends it, and resets it if
// that takes longer than refusedLinger.
func (c *core) drainRefused(st *mux.Stream) {
	st.SetReadDeadline(time.Now().Add(refusedLinger))
	if _, err := io.Copy(io.Discard, st); err == nil {
		st.Close() // both sides are done
		return
	}
	st.Reset(mux.CodeCancel)
}

// terminate accepts a circuit that ends here: it answers ok, runs the
// server end of the inner session (after end-to-end TLS when secured), and
// serves its streams in a goroutine of its own.
//
// The circuit counts against MaxCircuitsPerHost and MaxCircuits for its
// source, path[0], only once the source is proved: on a secured mesh,
// after the end-to-end TLS handshake (which must end within
// PreAuthTimeout), whose verdict is then sent inside TLS; otherwise a
// neighbour could charge another node's allowance with setups it never
// completes. A circuit from a neighbour (a path of two) is proved by the
// link already. On an unsecured mesh nothing proves a source, and the
// circuit counts at once.
func (c *core) terminate(st *mux.Stream, s wire.SetupHeader) {
	src := s.Path[0]
	t := &c.circuits
	take := func() error {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.ends.take(src, c.lim.MaxCircuitsPerHost, c.lim.MaxCircuits, "MaxCircuitsPerHost", "MaxCircuits", c.lim)
	}
	release := func() {
		t.mu.Lock()
		t.ends.put(src)
		t.mu.Unlock()
	}
	if c.ident == nil {
		if err := take(); err != nil {
			if c.opts.resume && c.resumeAtLimit(st, s) {
				return // a resume, which counts as the circuit it resumes
			}
			c.refuseSetup(st, s, err, s.Path[s.Hop-1])
			return
		}
	}
	st.SetWriteDeadline(time.Now().Add(c.lim.HandshakeTimeout))
	_, err := st.Write([]byte{uint8(codeOK), uint8(s.Hop)})
	st.SetWriteDeadline(time.Time{})
	if err != nil {
		st.Reset(mux.CodeCancel)
		if c.ident == nil {
			release()
		}
		return
	}
	var rw net.Conn = st
	var rc *resume.Conn
	var ref *circuitRef
	var took *circuitPreface // a resumable circuit's
	if c.opts.resume {
		// A resumable circuit's source sends a preface (resumecircuit.go)
		// before its TLS or its inner session; anything else is neither.
		var magic [len(circuitMagic)]byte
		st.SetReadDeadline(time.Now().Add(min(c.lim.PreAuthTimeout, c.lim.HandshakeTimeout)))
		_, err := io.ReadFull(st, magic[:])
		st.SetReadDeadline(time.Time{})
		switch {
		case err != nil:
			st.Reset(mux.CodeCancel)
			if c.ident == nil {
				release()
			}
			return
		case string(magic[:]) != circuitMagic:
			rw = &prefixStream{Stream: st, pre: magic[:]}
		default:
			pre, err := readCircuitPreface(st, c.maxCircuitWindow())
			if err != nil || pre.kind == prefaceResume {
				if c.ident == nil {
					release() // a resume counts as the circuit it resumes
				}
				if err != nil {
					c.refuseSetup(st, s, err, s.Path[s.Hop-1])
				} else {
					c.acceptCircuitResume(st, s, pre.id)
				}
				return
			}
			ref = &circuitRef{c: c}
			took = &pre
			if rc, err = resume.NewPeer(pre.id, newStreamPath(st, st), c.circuitResumeCfg(pre.window, ref)); err != nil {
				st.Reset(mux.CodeCancel)
				if c.ident == nil {
					release()
				}
				return
			}
			ref.setConn(rc)
			if c.ident == nil {
				rc.SetKey(pre.secret[:])
			}
			rw = rc
		}
	}
	abort := func() {
		st.Reset(mux.CodeCancel)
		if rc != nil {
			rc.Fail(ErrClosed)
		}
	}
	var pc peerCert
	if c.ident != nil {
		ctx, cancel := context.WithTimeout(c.ctx, min(c.lim.PreAuthTimeout, c.lim.HandshakeTimeout))
		tc, err := c.ident.handshake(ctx, rw, true, src, &pc, nil)
		cancel()
		if err != nil {
			c.logf(slog.LevelWarn, "mesh: circuit refused: end-to-end TLS failed", "path", wire.FormatPath(s.Path), "err", err)
			abort()
			return
		}
		if rc != nil {
			key, err := circuitKey(tc, took)
			if err != nil {
				abort()
				return
			}
			rc.SetKey(key)
		}
		// path[0] is proved: now it may count, and the verdict on it goes
		// inside TLS.
		if c.hooks.beforeVerdict != nil {
			c.hooks.beforeVerdict()
		}
		lerr := take()
		tc.SetWriteDeadline(time.Now().Add(c.lim.HandshakeTimeout))
		verdict := []byte{uint8(codeOf(lerr))}
		if took != nil && lerr == nil { // the preface as taken, for the source to check
			verdict = append(verdict, took.confirmation()...)
		}
		_, err = tc.Write(verdict)
		tc.SetWriteDeadline(time.Time{})
		if lerr != nil {
			c.countRefusal(lerr)
			c.logf(slog.LevelInfo, "mesh: circuit refused", "path", wire.FormatPath(s.Path), "err", lerr)
			// The verdict must reach the source, which ends the stream once
			// it has read it; one that does not is reset after
			// refusedLinger. Only our side is closed, and what the source
			// sent after its handshake before it read the verdict (its
			// first connection, see verdictConn) is read and dropped
			// meanwhile: closed for reading, the stream would be reset by
			// that data, and a reset can overtake the verdict. This setup's
			// pending slot (see pend) bounds the wait.
			tc.CloseWrite()
			if rc != nil { // read through the resume layer, its one reader
				tc.SetReadDeadline(time.Now().Add(refusedLinger))
				io.Copy(io.Discard, tc)
				abort()
				return
			}
			c.drainRefused(st)
			return
		}
		if err != nil {
			abort()
			release()
			return
		}
		rw = tc
	}
	sess, err := mux.Server(rw, c.circuitMuxCfg(rc != nil))
	if err != nil {
		abort()
		release()
		return
	}
	h := c.track(sess)
	if h == nil {
		release()
		return
	}
	ci := &circuit{host: src, path: s.Path, sess: sess, h: h, cert: pc, since: time.Now(), rc: rc}
	t.mu.Lock()
	if rc != nil {
		k := resumeKey{src, rc.ID()}
		if t.res.byID[k] != nil {
			// Another circuit of src has this id: a copy (ids go in the
			// clear), never honestly drawn twice. The first one keeps it.
			t.mu.Unlock()
			c.logf(slog.LevelWarn, "mesh: circuit refused: its resume id is another circuit's", "path", wire.FormatPath(s.Path))
			rc.Fail(ErrClosed)
			sess.Close()
			c.untrack(h)
			release()
			return
		}
		t.res.byID[k] = ci
	}
	if cur := t.byHost[src]; cur == nil || cur.sess.Err() != nil {
		t.byHost[src] = ci
	}
	t.mu.Unlock()
	c.stats.accepted.Add(1)
	if ref != nil {
		ref.setCircuit(ci)
	}
	if !c.spawn(func() {
		defer release()
		c.serveCircuit(ci)
	}) {
		sess.Close()
		release()
		return
	}
	c.considerDirect(src, false)
}
