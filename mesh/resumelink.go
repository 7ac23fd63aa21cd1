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

	"github.com/plexusnet/plexus/internal/pending"
	"github.com/plexusnet/plexus/internal/resume"
	"github.com/plexusnet/plexus/mux"
)

// Resumable links (docs/mesh.md, Resumable links; docs/protocol.md, The
// resume preface). A link made by Join and accepted by Serve runs its mux
// session on a resume.Conn, itself on the link's connection (TLS, or TCP
// on an insecure mesh). Right after TLS, before the session starts, the
// dialer sends a preface: {new, the resume id, the link's window, on an
// insecure mesh a random secret} for a new link, {resume, id} to resume a
// suspended one; the acceptor answers with one status byte, followed for
// a new link it takes by the window it took (the least of the dialer's
// and its own: takeWindow), which both ends use. A secured
// dialer offers the resumable protocol through ALPN (alpnResume before
// alpnPlain), so that a node that does not speak it picks alpnPlain and
// the link is a plain one, as before; an insecure acceptor tells a
// preface from a plain session by its magic, and an insecure dialer whose
// preface is not answered redials without one.

// ALPN protocols of a link.
const (
	alpnPlain  = "plexus-mesh/1" // a plain link: the session straight on TLS
	alpnResume = "plexus-mesh/2" // the resume preface, then the session on a resume.Conn
)

// The preface.
const (
	prefaceMagic     = "PXLR"
	prefaceVersion   = 2 // 2: a new link's answer carries the window taken
	prefaceNew       = 'N'
	prefaceResume    = 'R'
	prefaceHeadLen   = 4 + 1 + 1 + 16 // magic, version, kind, id
	prefaceNewLen    = prefaceHeadLen + 4 + secretLen
	answerNewLen     = 1 + 4 // a new link's answer: status, the window taken
	secretLen        = 32
	resumeKeyLen     = 32
	resumeKeyLabel   = "EXPORTER-plexus-link-resume"
	statusOK         = 0 // a new link is taken; a resume may start
	statusUnknown    = 1 // no suspended link with that id (restarted, the window is over)
	statusRefused    = 2 // another node, too many attempts, a link still up on an insecure mesh
	minResumeBuffer  = 256 << 10
	maxResumeBuffer  = 1 << 30
	resumeTriesLimit = 30          // resume attempts per source address ...
	resumeTriesEvery = time.Minute // ... in this long
	maxResumeSources = 4096        // sources tracked; cleared when full
)

// Errors of a link resume.
var (
	// errResumeUnknown: the acceptor has no suspended link with the id; the
	// dialer falls back to a new link.
	errResumeUnknown = errors.New("mesh: link resume: the peer has no suspended link with this id (it restarted, or the resume window is over)")
	// errResumeRefused: the acceptor refused the resume.
	errResumeRefused = fmt.Errorf("%w: link resume refused", ErrNotAuthorized)
	// errNoPreface: an insecure acceptor did not answer the preface: a
	// node that does not speak it. The dialer redials without one.
	errNoPreface = errors.New("the peer did not answer the resume preface")
)

// ErrResumeTimeout: a link whose connection broke was not resumed within
// the resume window (WithResumeWindow); the link and the streams and
// circuits on it failed with an error wrapping it.
var ErrResumeTimeout = resume.ErrResumeTimeout

// preface is the message a link's dialer sends right after TLS.
type preface struct {
	kind   byte
	id     resume.ID
	window uint32          // new: the dialer's replay bound, the most the acceptor may take
	secret [secretLen]byte // new, insecure: the resume key
}

func (p *preface) marshal() []byte {
	return p.encode(make([]byte, 0, prefaceNewLen), prefaceMagic, prefaceVersion)
}

// encode appends p, under magic and version: a link's preface, or a
// circuit's (circuitPreface), which has the same fields.
func (p *preface) encode(b []byte, magic string, version byte) []byte {
	b = append(b, magic...)
	b = append(b, version, p.kind)
	b = append(b, p.id[:]...)
	if p.kind == prefaceNew {
		b = binary.BigEndian.AppendUint32(b, p.window)
		b = append(b, p.secret[:]...)
	}
	return b
}

// readPreface reads a preface whose magic (the first 4 bytes) is read.
func readPreface(r io.Reader) (preface, error) {
	return decodePreface(r, "link resume preface", prefaceVersion, maxResumeBuffer)
}

// decodePreface reads a preface (what: a link's or a circuit's) whose
// magic is read, of version, with a window of at most maxWindow.
func decodePreface(r io.Reader, what string, version byte, maxWindow uint32) (preface, error) {
	var p preface
	var b [prefaceNewLen]byte
	if _, err := io.ReadFull(r, b[4:prefaceHeadLen]); err != nil {
		return p, fmt.Errorf("%w: %s: %w", ErrProtocol, what, err)
	}
	if b[4] != version {
		return p, fmt.Errorf("%w: %s version %d (want %d)", ErrVersion, what, b[4], version)
	}
	p.kind = b[5]
	copy(p.id[:], b[6:prefaceHeadLen])
	switch p.kind {
	case prefaceResume:
		return p, nil
	case prefaceNew:
	default:
		return p, fmt.Errorf("%w: %s kind %#x", ErrProtocol, what, p.kind)
	}
	if _, err := io.ReadFull(r, b[prefaceHeadLen:]); err != nil {
		return p, fmt.Errorf("%w: %s: %w", ErrProtocol, what, err)
	}
	p.window = binary.BigEndian.Uint32(b[prefaceHeadLen:])
	copy(p.secret[:], b[prefaceHeadLen+4:])
	if p.window < minResumeBuffer || p.window > maxWindow {
		return p, fmt.Errorf("%w: %s window %d outside [%d, %d]", ErrProtocol, what, p.window, minResumeBuffer, maxWindow)
	}
	return p, nil
}

// linkWindow is this node's replay bound for a resumable link: the
// link's receive window, its session window plus the window of the
// connections (its class streams): what the peer may have in flight. A
// dialer announces it; an acceptor takes at most it (takeWindow).
func (c *core) linkWindow() uint32 {
	w := uint64(c.linkCfg.SessionWindow) + uint64(c.linkCfg.ClassWindow)
	return uint32(min(max(w, minResumeBuffer), maxResumeBuffer))
}

// takeWindow is the replay bound an acceptor takes for a new link whose
// dialer announced announced, own being its own linkWindow: the least of
// the two, so that a dialer cannot make it hold more replay bytes per
// link than its own bound (the dialer announces up to maxResumeBuffer).
func takeWindow(announced, own uint32) uint32 {
	return max(min(announced, own), minResumeBuffer)
}

// appendAnswer appends the acceptor's answer to a preface of kind: the
// status byte, followed for a new link taken (statusOK) by the window
// taken, big-endian.
func appendAnswer(b []byte, kind, st byte, window uint32) []byte {
	b = append(b, st)
	if kind == prefaceNew && st == statusOK {
		b = binary.BigEndian.AppendUint32(b, window)
	}
	return b
}

// readAnswer reads the acceptor's answer to a preface of kind: its status
// and, for a new link taken (statusOK), the window taken, which must lie
// within [minResumeBuffer, announced] (the window the dialer announced).
// A new link's answer that does not come is errNoPreface (an insecure
// node that does not speak the preface); any other error is ErrProtocol.
func readAnswer(r io.Reader, kind byte, announced uint32) (st byte, window uint32, err error) {
	var b [answerNewLen]byte
	if _, err := io.ReadFull(r, b[:1]); err != nil {
		if kind == prefaceNew {
			return 0, 0, fmt.Errorf("%w: %w: %w (%v)", ErrProtocol, errHungUp, errNoPreface, err)
		}
		return 0, 0, fmt.Errorf("%w: link resume answer: %w", ErrProtocol, err)
	}
	st = b[0]
	if kind != prefaceNew || st != statusOK {
		return st, 0, nil
	}
	if _, err := io.ReadFull(r, b[1:]); err != nil {
		return st, 0, fmt.Errorf("%w: link resume answer: the window: %w", ErrProtocol, err)
	}
	window = binary.BigEndian.Uint32(b[1:])
	if window < minResumeBuffer || window > announced {
		return st, 0, fmt.Errorf("%w: link resume answer: window %d outside [%d, %d]", ErrProtocol, window, minResumeBuffer, announced)
	}
	return st, window, nil
}

// resumeCfg returns the resume.Config of a link with the replay bound
// window; the link's break goes to *lp once it is set.
func (c *core) resumeCfg(window uint32, lp *linkRef) *resume.Config {
	return &resume.Config{
		Buffer:            int(window),
		KeepAliveInterval: c.opts.kaEvery,
		KeepAliveTimeout:  c.opts.kaTimeout,
		ResumeWindow:      c.opts.resumeWin,
		OnBreak: func(err error) {
			if l := lp.get(); l != nil {
				l.broken(err)
			}
		},
	}
}

// linkRef is the link of a resume.Conn, set once the link exists.
type linkRef struct {
	mu sync.Mutex
	l  *link
}

func (r *linkRef) get() *link {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.l
}

func (r *linkRef) set(l *link) {
	r.mu.Lock()
	r.l = l
	r.mu.Unlock()
}

// resumeMuxCfg returns the mux configuration of a resumable link: the
// resume layer's keep-alive detects a dead path; the session's own still
// pings (its round trip is the link's RTT), but its timeout exceeds the
// longest the resume layer takes to fail a suspended link (the break,
// seen up to a keep-alive interval after the keep-alive timeout, plus the
// window; the session's last byte may be a ping interval older than the
// path's), so that it never ends a suspended session: a link past its
// window fails with ErrResumeTimeout. A write may block for as long (a
// full replay buffer while suspended).
func (c *core) resumeMuxCfg() *mux.Config {
	c.res.cfgOnce.Do(func() {
		cfg := *c.linkCfg
		cfg.KeepAliveTimeout = c.opts.resumeWin + c.opts.kaTimeout + 2*c.opts.kaEvery + 10*time.Second
		cfg.WriteTimeout = max(cfg.WriteTimeout, c.opts.resumeWin+c.opts.kaTimeout+10*time.Second)
		c.res.mux = &cfg
	})
	return c.res.mux
}

// exportKey derives a secured link's resume key from its first TLS
// connection.
func exportKey(tc *tls.Conn, id resume.ID) ([]byte, error) {
	cs := tc.ConnectionState()
	return cs.ExportKeyingMaterial(resumeKeyLabel, id[:], resumeKeyLen)
}

// prefixConn replays the bytes read to look for a preface before the rest
// of the connection: a plain session from a node that sent none.
type prefixConn struct {
	io.ReadWriteCloser
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.ReadWriteCloser.Read(b)
}

// within runs f, closing conn if ctx ends first, and returns f's error or
// the context's.
func within(ctx context.Context, conn io.Closer, f func() error) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err := f()
	if !stop() {
		if err == nil {
			err = ctx.Err()
		}
		return fmt.Errorf("%w (%v)", err, context.Cause(ctx))
	}
	return err
}

// dialResumable starts a new resumable link as its dialer on rw (TLS, or
// the connection): it sends the new preface and reads the answer, and
// returns the resume.Conn for the session, made once the answer says the
// window both ends use.
func (c *core) dialResumable(ctx context.Context, rw io.ReadWriteCloser, lp *linkRef) (*resume.Conn, error) {
	p := preface{kind: prefaceNew, window: c.linkWindow()}
	if _, err := rand.Read(p.id[:]); err != nil {
		return nil, err
	}
	var key []byte
	var err error
	if tc, ok := rw.(*tls.Conn); ok {
		key, err = exportKey(tc, p.id)
	} else {
		_, err = rand.Read(p.secret[:])
		key = p.secret[:]
	}
	if err != nil {
		return nil, err
	}
	var window uint32
	err = within(ctx, rw, func() error {
		if _, err := rw.Write(p.marshal()); err != nil {
			return err
		}
		st, w, err := readAnswer(rw, prefaceNew, p.window)
		if err != nil {
			return err
		}
		if st != statusOK { // not an answer: the start of a plain session's refusal
			return fmt.Errorf("%w: %w (status %d)", ErrProtocol, errNoPreface, st)
		}
		window = w
		return nil
	})
	if err != nil {
		return nil, err
	}
	rc, err := resume.NewWithID(p.id, rw, c.resumeCfg(window, lp))
	if err != nil {
		return nil, err
	}
	rc.SetKey(key)
	return rc, nil
}

// acceptResumable reads the preface of an accepted link whose dialer
// speaks the resumable protocol, on rw (TLS, or the connection with its
// magic read). A new link gets its resume.Conn; a resume is handed to
// the suspended link (resumed reports true: rw is the link's now, or
// closed).
func (c *core) acceptResumable(ctx context.Context, rw io.ReadWriteCloser, pc *peerCert, remote net.Addr, authed func() bool, lp *linkRef) (rc *resume.Conn, resumed bool, err error) {
	var p preface
	err = within(ctx, rw, func() error {
		if _, secured := rw.(*tls.Conn); secured { // else the magic is read (runLinkWith)
			var magic [4]byte
			if _, err := io.ReadFull(rw, magic[:]); err != nil {
				return fmt.Errorf("%w: link resume preface: %w", ErrProtocol, err)
			}
			if string(magic[:]) != prefaceMagic {
				return fmt.Errorf("%w: link resume preface: bad magic %q", ErrProtocol, magic[:])
			}
		}
		var err error
		p, err = readPreface(rw)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if p.kind == prefaceResume {
		return nil, true, c.acceptResume(ctx, rw, p.id, pc, remote, authed)
	}
	var key []byte
	if tc, ok := rw.(*tls.Conn); ok {
		if key, err = exportKey(tc, p.id); err != nil {
			return nil, false, err
		}
	} else {
		key = p.secret[:]
	}
	window := takeWindow(p.window, c.linkWindow())
	if err := within(ctx, rw, func() error { _, err := rw.Write(appendAnswer(nil, prefaceNew, statusOK, window)); return err }); err != nil {
		return nil, false, err
	}
	rc, err = resume.NewPeer(p.id, rw, c.resumeCfg(window, lp))
	if err != nil {
		return nil, false, err
	}
	rc.SetKey(key)
	return rc, false, nil
}

// acceptResume resumes the suspended link p.id over rw, an accepted
// connection whose dialer asked for it; rw is closed unless it carries
// the link from now on.
func (c *core) acceptResume(ctx context.Context, rw io.ReadWriteCloser, id resume.ID, pc *peerCert, remote net.Addr, authed func() bool) error {
	answer := func(st byte) error {
		return within(ctx, rw, func() error { _, err := rw.Write([]byte{st}); return err })
	}
	src := pending.SourceKey(remote)
	refuse := func(err error) error {
		c.stats.linkResumesRefused.Add(1)
		answer(statusRefused)
		rw.Close()
		c.logf(slog.LevelInfo, "mesh: link resume refused", "remote", remote, "err", err)
		return err
	}
	if !c.res.tries.allow(src) {
		return refuse(fmt.Errorf("%w: more than %d resume attempts from %s within %v", errResumeRefused, resumeTriesLimit, src, resumeTriesEvery))
	}
	l := c.res.links.get(id)
	if l == nil {
		answer(statusUnknown)
		rw.Close()
		return errResumeUnknown
	}
	if c.ident != nil && pc.id != l.peer {
		return refuse(fmt.Errorf("%w: %w: node %s resumes the link of node %s", errResumeRefused, ErrIDMismatch, FormatID(pc.id), FormatID(l.peer)))
	}
	if !l.suspended() {
		if c.ident == nil {
			// Only the resume's MAC proves the peer here: a link that is
			// up is not broken for a claim; the dialer retries, and the
			// keep-alive ends a dead path within its timeout.
			return refuse(fmt.Errorf("%w: the link is up (an insecure mesh resumes a link only once its keep-alive has seen the break)", errResumeRefused))
		}
		// The certificate proves the peer: its old path is dead to it.
		l.res.Break(errors.New("mesh: the peer resumes the link over a new connection"))
		l.broken(resume.ErrBroken)
	}
	if err := answer(statusOK); err != nil {
		return err
	}
	err := l.res.Resume(ctx, rw) // owns rw from here
	if errors.Is(err, resume.ErrResumeRefused) {
		c.stats.linkResumesRefused.Add(1)
		c.logf(slog.LevelInfo, "mesh: link resume refused", "remote", remote, "peer", c.who(l.peer), "err", err)
		return fmt.Errorf("%w: %w", errResumeRefused, err)
	}
	if err != nil {
		return err
	}
	if authed != nil {
		authed()
	}
	l.resumed(rw)
	return nil
}

// resumeLink resumes l, a dialer's link whose connection broke: it
// redials the same address at once, then with Join's backoff, until a
// resume succeeds (true), the acceptor no longer knows the link or the
// link failed (its window is over) or the node closes (false).
func (c *core) resumeLink(l *link) bool {
	delay := joinMinDelay
	for first := true; ; first = false {
		if !first {
			select {
			case <-time.After(jitter(delay)):
			case <-l.sess.Done():
				return false
			case <-c.ctx.Done():
				return false
			}
			delay = min(2*delay, joinMaxDelay)
		}
		if l.res.Err() != nil || c.isClosed() {
			return false
		}
		err := c.resumeOnce(l)
		if err == nil {
			return true
		}
		if errors.Is(err, resume.ErrNotSuspended) && l.res.Err() == nil {
			// Attached already (a break that raced a resume): up.
			l.resumed(nil)
			return true
		}
		c.logf(slog.LevelDebug, "mesh: link resume failed", "peer", c.who(l.peer), "err", err)
		if errors.Is(err, errResumeUnknown) {
			return false
		}
	}
}

// resumeOnce makes one attempt to resume l over a new connection.
func (c *core) resumeOnce(l *link) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.HandshakeTimeout)
	defer cancel()
	conn, err := l.redial(ctx)
	if err != nil {
		return err
	}
	hc := c.track(conn)
	if hc == nil {
		conn.Close()
		return ErrClosed
	}
	defer c.untrack(hc)
	var rw io.ReadWriteCloser = conn
	if c.ident != nil {
		var pc peerCert
		tc, err := c.tlsHandshake(ctx, conn, true, l.peer, &pc, nil, alpnResume)
		if err != nil {
			conn.Close()
			return err
		}
		if tc.ConnectionState().NegotiatedProtocol != alpnResume {
			conn.Close()
			return errResumeUnknown // the node there no longer speaks it
		}
		rw = tc
	}
	p := preface{kind: prefaceResume, id: l.res.ID()}
	var st byte
	err = within(ctx, rw, func() error {
		if _, err := rw.Write(p.marshal()); err != nil {
			return err
		}
		st, _, err = readAnswer(rw, prefaceResume, 0)
		return err
	})
	if err == nil {
		switch st {
		case statusOK:
		case statusUnknown:
			err = errResumeUnknown
		default:
			err = errResumeRefused
		}
	}
	if err != nil {
		rw.Close()
		return err
	}
	if err := l.res.Resume(ctx, rw); err != nil {
		return err
	}
	l.resumed(conn)
	return nil
}

// broken marks l suspended, its connection broken: routing takes it
// down at once; the dialer's runLink redials.
func (l *link) broken(err error) {
	c := l.c
	now := time.Now()
	if !l.susp.CompareAndSwap(nil, &now) {
		return
	}
	c.stats.linkBreaks.Add(1)
	c.logf(slog.LevelInfo, "mesh: link broken, suspended for resumption", "peer", c.who(l.peer), "err", err, "window", c.opts.resumeWin)
	c.linkChanged(l.peer, false)
	c.linkSuspended(l.peer) // the circuits set up on it look for another path
	select {
	case l.broke <- struct{}{}:
	default:
	}
}

// resumed marks l up again, over conn, a new connection (its addresses
// are the link's now), or nil when the connection is not known.
func (l *link) resumed(conn any) {
	c := l.c
	if nc, ok := conn.(interface {
		LocalAddr() net.Addr
		RemoteAddr() net.Addr
	}); ok {
		l.addrs.Store(&linkAddrs{nc.LocalAddr(), nc.RemoteAddr()})
	}
	l.susp.Store(nil)
	c.stats.linkResumes.Add(1)
	c.logf(slog.LevelInfo, "mesh: link resumed", "peer", c.who(l.peer), "remote", l.remoteAddr())
	c.linkChanged(l.peer, true)
}

// linkAddrs are the addresses of a link's connection.
type linkAddrs struct{ local, remote net.Addr }

// localAddr and remoteAddr return the addresses of l's connection (the
// latest, on a resumed link), nil when it is not a net.Conn.
func (l *link) localAddr() net.Addr {
	if a := l.addrs.Load(); a != nil {
		return a.local
	}
	return nil
}

func (l *link) remoteAddr() net.Addr {
	if a := l.addrs.Load(); a != nil {
		return a.remote
	}
	return nil
}

// suspended reports whether l's connection is broken, waiting for a
// resume.
func (l *link) suspended() bool { return l.susp.Load() != nil }

// suspendedSince returns when l's connection broke, if it waits for a
// resume; else the zero time.
func (l *link) suspendedSince() time.Time {
	if t := l.susp.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

// linkResume is what a node keeps for its resumable links.
type linkResume struct {
	links   resumableLinks
	tries   resumeTries
	cfgOnce sync.Once
	mux     *mux.Config // the link sessions' config on a resumable link
}

// resumableLinks are the resumable links of a node by resume id, for an
// accepted resume to find its link.
type resumableLinks struct {
	mu sync.Mutex
	m  map[resume.ID]*link
}

func (r *resumableLinks) add(l *link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[resume.ID]*link)
	}
	r.m[l.res.ID()] = l
}

func (r *resumableLinks) remove(l *link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[l.res.ID()] == l {
		delete(r.m, l.res.ID())
	}
}

func (r *resumableLinks) get(id resume.ID) *link {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[id]
}

// resumeTries bounds the resume attempts per source address.
type resumeTries struct {
	mu sync.Mutex
	m  map[string]*tries
}

type tries struct {
	n     int
	since time.Time
}

// allow counts an attempt from src and reports whether it is within the
// bound.
func (r *resumeTries) allow(src string) bool {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) >= maxResumeSources {
		r.m = make(map[string]*tries)
	}
	t := r.m[src]
	if t == nil || now.Sub(t.since) >= resumeTriesEvery {
		t = &tries{since: now}
		r.m[src] = t
	}
	t.n++
	return t.n <= resumeTriesLimit
}
