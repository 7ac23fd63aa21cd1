package mesh

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/plexusnet/plexus/internal/bufpool"
	"github.com/plexusnet/plexus/internal/resume"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// Resumable circuits (docs/mesh.md, Resumable circuits; docs/protocol.md,
// The circuit preface). When both ends run WithResume (the far host's
// record says so, flag bit 3), a circuit's end-to-end TLS session, and so
// its inner session, runs on a resume.Conn, itself on the circuit's
// stream. The source sends a preface right after the setup header: {new,
// the id, the replay bound, on an insecure mesh a random secret}. When the
// path breaks (a relay dies, a link on the way goes down), the source
// sets up a new circuit along a path that avoids the old one's relays,
// whose preface is {resume, the id}; the destination hands it to the
// suspended circuit and both ends run the resume exchange on it, its MAC
// keyed from the end-to-end TLS session's exported keying material (or
// the secret): the inner session carries on, no byte lost. The same move
// takes a relayed circuit onto a direct link when one comes up. Replay
// state lives at the two ends, bounded by the inner session's window;
// relays hold none.

// The circuit preface: the fields of a link's preface (preface), under
// a magic and a version of its own.
const (
	circuitMagic    = "PXCR"
	circuitVersion  = 1
	circuitHeadLen  = prefaceHeadLen
	circuitNewLen   = prefaceNewLen
	circuitKeyLabel = "EXPORTER-plexus-circuit-resume"
)

// How often the source of a broken circuit tries a new path: at once,
// then after resumeRetryMin, doubling up to resumeRetryMax, until the
// resume window is over.
const (
	resumeRetryMin = 50 * time.Millisecond
	resumeRetryMax = time.Second
)

// errMovedDirect is why a relayed circuit's path is broken on purpose:
// it moves onto a direct link.
var errMovedDirect = errors.New("mesh: circuit moves onto a direct link")

// circuitPreface is what the source of a resumable circuit sends after the
// setup header: a link's preface, encoded as a circuit's.
type circuitPreface = preface

// appendTo appends p as a circuit's preface.
func (p *preface) appendTo(b []byte) []byte { return p.encode(b, circuitMagic, circuitVersion) }

// readCircuitPreface reads a circuit preface whose magic (4 bytes) is
// read; maxWindow bounds the replay window a new circuit may ask for.
func readCircuitPreface(r io.Reader, maxWindow uint32) (circuitPreface, error) {
	return decodePreface(r, "circuit preface", circuitVersion, maxWindow)
}

// circuitWindow is the replay bound of a resumable circuit that this
// node sets up, and the most it accepts: what the inner session may have
// in flight (its session window, and its class window), with room for
// the frames and TLS records around it.
func (c *core) circuitWindow() uint32 {
	w := uint64(c.innerCfg.SessionWindow) + uint64(c.innerCfg.ClassWindow)
	w += w / 4
	return uint32(min(max(w, minResumeBuffer), maxResumeBuffer))
}

// maxCircuitWindow is the largest replay bound this node takes from the
// source of a resumable circuit: four times its own (both ends hold the
// source's; a source whose inner sessions have larger windows is not
// refused, and no source makes this node hold more than that per circuit).
func (c *core) maxCircuitWindow() uint32 {
	return uint32(min(4*uint64(c.circuitWindow()), maxResumeBuffer))
}

// resumableTo reports whether a circuit to host is to be resumable: this
// node runs WithResume, and host's record says it does too.
func (c *core) resumableTo(host uint64) bool {
	if !c.opts.resume {
		return false
	}
	c.rt.mu.Lock()
	raw := c.rt.r.Held(host)
	c.rt.mu.Unlock()
	if raw == nil {
		return false
	}
	rec, err := linkstate.DecodeRecord(raw, c.lim.MaxServices)
	return err == nil && rec.Resume
}

// resumeKey identifies a resumable circuit that ends here: its source (as
// end-to-end TLS proved it, on a secured mesh) and its id. A circuit's id
// travels in the clear: keyed by the source too, and never replaced by a
// later circuit with the same id, it cannot be taken over by another
// node's circuit that copies it.
type resumeKey struct {
	host uint64
	id   resume.ID
}

// circuitResumes is what a node holds for resumable circuits.
type circuitResumes struct {
	byID    map[resumeKey]*circuit // resumable circuits that end here, for a resume to find (guarded by circuitTable.mu)
	cfgOnce sync.Once
	mux     *mux.Config // the inner sessions' config on a resumable circuit
}

// circuitMuxCfg returns the inner session's config of a circuit: on a
// resumable one, the session's keep-alive and write timeouts outlast the
// resume window, so that a suspended circuit's session waits for the
// resume rather than ending, and one past its window fails with
// ErrResumeTimeout.
func (c *core) circuitMuxCfg(resumable bool) *mux.Config {
	if !resumable {
		return c.innerCfg
	}
	r := &c.circuits.res
	r.cfgOnce.Do(func() {
		cfg := *c.innerCfg
		// Longer than the resume layer takes to fail a suspended circuit
		// (its break, seen up to a keep-alive interval after the timeout,
		// plus the window), as for a resumable link (resumeMuxCfg).
		outlast := c.opts.resumeWin + c.opts.kaTimeout + 2*c.opts.kaEvery + 10*time.Second
		cfg.KeepAliveTimeout = max(cfg.KeepAliveTimeout, outlast) // (0, mux's default, is less)
		cfg.WriteTimeout = max(cfg.WriteTimeout, outlast)
		r.mux = &cfg
	})
	return r.mux
}

// circuitRef routes a resume.Conn's breaks to its circuit, once there is
// one; a break before that fails the Conn, and so the setup.
type circuitRef struct {
	mu    sync.Mutex
	c     *core
	rc    *resume.Conn
	ci    *circuit
	early error // a break before rc was set
}

// broke is the Conn's OnBreak: the circuit's, or, before there is one,
// the end of the set-up.
func (r *circuitRef) broke(err error) {
	r.mu.Lock()
	rc, ci := r.rc, r.ci
	if rc == nil {
		r.early = err
	}
	r.mu.Unlock()
	switch {
	case ci != nil:
		r.c.circuitBroke(ci, err)
	case rc != nil:
		rc.Fail(err)
	}
}

// setConn sets the ref's Conn; it fails it if it broke already.
func (r *circuitRef) setConn(rc *resume.Conn) {
	r.mu.Lock()
	r.rc = rc
	early := r.early
	r.mu.Unlock()
	if early != nil {
		rc.Fail(early)
	}
}

// setCircuit routes the breaks to ci from now on.
func (r *circuitRef) setCircuit(ci *circuit) {
	r.mu.Lock()
	r.ci = ci
	r.mu.Unlock()
}

// circuitResumeCfg returns the resume.Config of a circuit with the
// replay bound window. A link that goes down resets the circuit streams
// on it, and a suspended link breaks the circuits of this node on it
// (linkSuspended); a relay further on that dies or freezes with its links
// suspended is found by the circuit's own keep-alive, which runs only
// while bytes wait for acknowledgement, so that an idle circuit costs its
// relays nothing.
func (c *core) circuitResumeCfg(window uint32, ref *circuitRef) *resume.Config {
	return &resume.Config{
		Buffer:            int(window),
		KeepAliveInterval: c.opts.kaEvery,
		KeepAliveTimeout:  c.opts.kaTimeout,
		KeepAliveBusy:     true,
		ResumeWindow:      c.opts.resumeWin,
		OnBreak:           ref.broke,
	}
}

// newCircuitPreface returns the preface of a new resumable circuit.
func (c *core) newCircuitPreface(window uint32, secured bool) (circuitPreface, error) {
	p := circuitPreface{kind: prefaceNew, window: window}
	newID := resume.NewID
	if c.hooks.circuitID != nil {
		newID = c.hooks.circuitID
	}
	id, err := newID()
	if err != nil {
		return p, err
	}
	p.id = id
	if !secured {
		if _, err := rand.Read(p.secret[:]); err != nil {
			return p, err
		}
	}
	return p, nil
}

// circuitKey derives a secured circuit's resume key from its end-to-end
// TLS session, bound to the preface as this end saw it (its id and
// window): a relay that altered the preface leaves the two ends with
// different keys (and the destination's confirmation, see
// confirmPreface, tells the source at once).
func circuitKey(tc *tls.Conn, p *circuitPreface) ([]byte, error) {
	cs := tc.ConnectionState()
	return cs.ExportKeyingMaterial(circuitKeyLabel, p.confirmation(), resumeKeyLen)
}

// confirmLen is the size of a preface's confirmation.
const confirmLen = 4 + 16

// confirmation returns what the destination of a secured resumable
// circuit sends after its verdict, inside end-to-end TLS: the window and
// the id it took from the preface, which the source checks against its
// own (a relay may have altered the preface, which travels before TLS).
func (p *circuitPreface) confirmation() []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, confirmLen), p.window)
	return append(b, p.id[:]...)
}

// errPrefaceAltered: the destination of a secured resumable circuit took
// another preface than the source sent.
var errPrefaceAltered = fmt.Errorf("%w: the circuit preface was altered on the way", ErrProtocol)

// circuitBroke handles the break of a resumable circuit's path: it is
// counted, and the source looks for a new path; the destination waits for
// it (its resume.Conn fails once the resume window is over, and the inner
// session with it).
func (c *core) circuitBroke(ci *circuit, err error) {
	c.stats.circuitBreaks.Add(1)
	c.logf(slog.LevelInfo, "mesh: circuit path broke", "host", c.who(ci.host), "path", wire.FormatPath(ci.currentPath()), "source", ci.source, "err", err)
	if ci.source {
		c.resumeCircuit(ci, nil)
	}
}

// resumeCircuit starts, unless it runs, the search for a new path of ci,
// a resumable circuit that this node set up and whose path is broken:
// prefer, if not nil, is the path to try first (a direct link).
func (c *core) resumeCircuit(ci *circuit, prefer []uint64) {
	if !ci.resuming.CompareAndSwap(false, true) {
		return
	}
	if !c.spawn(func() {
		for {
			c.resumeLoop(ci, prefer)
			resumed := time.Now()
			ci.resuming.Store(false)
			// A break of the new path that came before the flag was
			// cleared found the loop running, and was left to it.
			if c.isClosed() || ci.sess.Err() != nil || ci.rc.Err() != nil || !ci.rc.Suspended() ||
				!ci.resuming.CompareAndSwap(false, true) {
				return
			}
			prefer = nil
			// A path that breaks at once again (a relay that takes the
			// resume and drops it) is not tried in a tight loop.
			t := time.NewTimer(resumeRetryMax - time.Since(resumed))
			select {
			case <-t.C:
			case <-ci.sess.Done():
			case <-c.ctx.Done():
			}
			t.Stop()
		}
	}) {
		ci.resuming.Store(false)
	}
}

// resumeLoop sets up new circuits to ci's far host, resume prefaces, until
// one resumes ci, the far host says it no longer has ci, or ci ends (its
// resume window over, or closed). Paths avoid the broken path's relays
// (and the relays that failed setups, as setupCircuit's do) while there
// is another; a path through them is taken when there is none.
func (c *core) resumeLoop(ci *circuit, prefer []uint64) {
	old := ci.currentPath()
	start := time.Now()
	if prefer == nil {
		if r := relaysOf(old); len(r) > 0 {
			c.avoid.failed(r, start)
		}
	}
	var tried [][]uint64
	if prefer == nil { // a move leaves a working path: it may be taken again
		tried = append(tried, old)
	}
	wait := resumeRetryMin
	for {
		if ci.sess.Err() != nil || ci.rc.Err() != nil || c.isClosed() || !ci.rc.Suspended() {
			return
		}
		path := prefer
		prefer = nil
		if path == nil {
			now := time.Now()
			if path = c.nextPath(ci.host, tried, now); path == nil {
				path = c.nextPath(ci.host, nil, now)
			}
		}
		if path != nil {
			ctx, cancel := context.WithTimeout(c.ctx, c.lim.SetupTimeout)
			err := c.resumeAlong(ctx, ci, path)
			cancel()
			switch {
			case err == nil:
				c.stats.circuitResumes.Add(1)
				ci.resumes.Add(1)
				c.avoid.succeeded(relaysOf(path))
				c.logf(slog.LevelInfo, "mesh: circuit resumed", "host", c.who(ci.host), "old", wire.FormatPath(old), "path", wire.FormatPath(path), "after", time.Since(start).Round(time.Millisecond))
				return
			case errors.Is(err, ErrCircuitLost) && len(path) == 2:
				// Said by the host itself, over the link to it: final.
				// (Through relays it may be a relay's forgery, which would
				// kill the circuit: that path fails like any other, and the
				// window bounds the tries.)
				c.logf(slog.LevelWarn, "mesh: circuit lost", "host", c.who(ci.host), "err", err)
				ci.rc.Fail(fmt.Errorf("%w: %s", ErrCircuitLost, FormatID(ci.host)))
				return
			default:
				c.logf(slog.LevelDebug, "mesh: circuit resume failed", "host", c.who(ci.host), "path", wire.FormatPath(path), "err", err)
				if r := relaysOf(path); len(r) > 0 {
					c.avoid.failed(r, time.Now())
				}
				if len(tried) > maxSetupAttempts {
					tried = tried[:0]
				}
				tried = append(tried, path)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ci.sess.Done():
		case <-c.ctx.Done():
		}
		t.Stop()
		wait = min(2*wait, resumeRetryMax)
	}
}

// pathErr records the first read error of a resume's path, so that a
// refusal (a reset carrying a code) is known after the exchange failed.
type pathErr struct {
	*setupAnswer
	mu  sync.Mutex
	err error
}

func (p *pathErr) Read(b []byte) (int, error) {
	n, err := p.setupAnswer.Read(b)
	if err != nil {
		p.mu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
	}
	return n, err
}

func (p *pathErr) readErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// resumeAlong sets up a circuit along path whose preface resumes ci, and
// runs the resume exchange on it.
func (c *core) resumeAlong(ctx context.Context, ci *circuit, path []uint64) error {
	l := c.links.get(path[1])
	if l == nil {
		return fmt.Errorf("%w: the next hop %s is no longer a neighbour", ErrNoRoute, FormatID(path[1]))
	}
	st, err := l.sess.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("%w: opening a stream to %s: %v", ErrNoRoute, FormatID(path[1]), err)
	}
	pre := circuitPreface{kind: prefaceResume, id: ci.rc.ID()}
	b := pre.appendTo(wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 1, Path: path}))
	if err := withContext(ctx, st, func() error { _, err := st.Write(b); return err }); err != nil {
		st.Reset(mux.CodeCancel)
		return err
	}
	p := &pathErr{setupAnswer: &setupAnswer{Stream: st, path: path}}
	if err := ci.rc.Resume(ctx, newStreamPath(p, st)); err != nil {
		if rf := connRefusal(0, p.readErr()); rf != nil {
			rf.op, rf.reason = "circuit resume", "path "+wire.FormatPath(path)
			if rf.hop > 0 && rf.hop < len(path) {
				rf.by = path[rf.hop]
			}
			return rf
		}
		if rerr := p.setupAnswer.err; rerr != nil {
			return rerr
		}
		return err
	}
	ci.setPath(path)
	return nil
}

// acceptCircuitResume hands st, the stream of a circuit setup s whose
// preface resumes the circuit id, to that circuit, suspended here: both
// ends run the resume exchange on it. The setup's answer (ok) is sent;
// a refusal is a reset.
func (c *core) acceptCircuitResume(st *mux.Stream, s wire.SetupHeader, id resume.ID) {
	t := &c.circuits
	t.mu.Lock()
	ci := t.res.byID[resumeKey{s.Path[0], id}]
	t.mu.Unlock()
	if ci == nil || ci.rc.Err() != nil {
		c.refuseSetup(st, s, fmt.Errorf("%w: no circuit %s from %s here", ErrCircuitLost, id, FormatID(s.Path[0])), s.Path[s.Hop-1])
		return
	}
	// The source may have seen a break that this end has not (a relay
	// further on died, or froze, with the link to this node up): Accept
	// leaves the old path only once the source is proved.
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.SetupTimeout)
	err := ci.rc.Accept(ctx, newStreamPath(st, st))
	cancel()
	if err != nil {
		if errors.Is(err, resume.ErrResumeRefused) {
			c.stats.circuitResumesRefused.Add(1)
			c.logf(slog.LevelWarn, "mesh: circuit resume refused", "host", c.who(ci.host), "path", wire.FormatPath(s.Path), "err", err)
		}
		return
	}
	old := ci.currentPath()
	ci.setPath(s.Path)
	ci.resumes.Add(1)
	c.stats.circuitResumes.Add(1)
	c.logf(slog.LevelInfo, "mesh: circuit resumed", "host", c.who(ci.host), "old", wire.FormatPath(old), "path", wire.FormatPath(s.Path))
}

// errLinkSuspended is why a circuit's path is broken when the link it
// starts on is suspended.
var errLinkSuspended = errors.New("mesh: the circuit's link is suspended")

// linkSuspended breaks the path of every resumable circuit that this node
// set up on its link to peer, which is suspended (its connection broke):
// the link may come back, but the circuit looks for another path now
// rather than waiting for it (a relay that died leaves its links
// suspended for the whole resume window).
func (c *core) linkSuspended(peer uint64) {
	t := &c.circuits
	var on []*circuit
	t.mu.Lock()
	for ci := range t.all {
		if ci.source && ci.rc != nil {
			if p := ci.currentPath(); p[1] == peer {
				on = append(on, ci)
			}
		}
	}
	t.mu.Unlock()
	for _, ci := range on {
		if ci.rc.Suspended() {
			continue
		}
		ci.rc.Break(errLinkSuspended)
		c.circuitBroke(ci, errLinkSuspended)
	}
}

// resumeAtLimit handles, on an insecure mesh, a setup that a circuit limit
// refused, if it is a resume (which must not count as a new circuit: the
// one it resumes counts): it looks for the preface, which a resumable
// source sends with the setup, for a short while (a plain source sends
// nothing before the answer), and reports whether it handled a resume.
func (c *core) resumeAtLimit(st *mux.Stream, s wire.SetupHeader) bool {
	st.SetReadDeadline(time.Now().Add(resumeAtLimitWait))
	var magic [len(circuitMagic)]byte
	_, err := io.ReadFull(st, magic[:])
	var pre circuitPreface
	if err == nil && string(magic[:]) == circuitMagic {
		pre, err = readCircuitPreface(st, c.maxCircuitWindow())
	}
	st.SetReadDeadline(time.Time{})
	if err != nil || string(magic[:]) != circuitMagic || pre.kind != prefaceResume {
		return false
	}
	st.SetWriteDeadline(time.Now().Add(c.lim.HandshakeTimeout))
	_, err = st.Write([]byte{uint8(codeOK), uint8(s.Hop)})
	st.SetWriteDeadline(time.Time{})
	if err != nil {
		st.Reset(mux.CodeCancel)
		return true
	}
	c.acceptCircuitResume(st, s, pre.id)
	return true
}

// resumeAtLimitWait bounds how long resumeAtLimit waits for a preface.
const resumeAtLimitWait = 250 * time.Millisecond

// moveDirect moves the circuit this node set up to peer, a new neighbour,
// onto the link to it, if it is resumable and relayed: its path is broken
// on purpose and resumed along the link, and the relays are released.
func (c *core) moveDirect(peer uint64) {
	t := &c.circuits
	t.mu.Lock()
	ci := t.byHost[peer]
	t.mu.Unlock()
	if ci == nil || !ci.source || ci.rc == nil || len(ci.currentPath()) <= 2 || ci.sess.Err() != nil {
		return
	}
	if ci.resuming.Load() {
		return // already looking for a path: it will find the link
	}
	ci.rc.Break(errMovedDirect)
	c.logf(slog.LevelInfo, "mesh: circuit moves onto the direct link", "host", c.who(peer), "path", wire.FormatPath(ci.currentPath()))
	c.resumeCircuit(ci, []uint64{c.id, peer})
}

// streamPath is the path of a resumable circuit: its stream (read through
// Conn, maybe a wrapper that reads the setup's answer first), reset when
// the resume.Conn closes it, so that a broken path's writes stop and its
// relays are released at once. Its TryWrite lets the resume.Conn send
// small writes from the writer's goroutine (resume.TryWriter).
type streamPath struct {
	net.Conn
	st *mux.Stream
}

func newStreamPath(conn net.Conn, st *mux.Stream) streamPath {
	return streamPath{Conn: conn, st: st}
}

func (p streamPath) Close() error {
	p.st.Reset(mux.CodeCancel)
	return nil
}

// TryWrite writes what the stream takes of bufs at once, in one piece.
func (p streamPath) TryWrite(bufs [][]byte) (int, error) {
	if len(bufs) == 1 {
		return p.st.TryWrite(bufs[0])
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	f := bufpool.Get(n)[:0] // (small: the resume.Conn writes at most a few KiB itself)
	for _, b := range bufs {
		f = append(f, b...)
	}
	k, err := p.st.TryWrite(f)
	bufpool.Put(f)
	return k, err
}

// prefixStream is a circuit's stream whose first bytes, read to look for
// a circuit preface, were not one: Read returns them first.
type prefixStream struct {
	*mux.Stream
	pre []byte
}

func (p *prefixStream) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Stream.Read(b)
}
