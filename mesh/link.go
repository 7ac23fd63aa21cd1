package mesh

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/internal/pending"
	"github.com/plexusnet/plexus/internal/resume"
	"github.com/plexusnet/plexus/internal/timerref"
	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// Version is the mesh protocol version this package speaks.
const Version = wire.Version

// A link is one mux session over one physical connection between two
// neighbours. The dialing side is the mux client and opens the control
// stream (handshake, then records, see wire's handshake.go). Both sides
// open circuit setups on the link's session, and connections between the
// two neighbours as class streams of it (mux's OpenClassStream): their
// data draws on the session's class window, never on its session window,
// so that connections an application does not read hold the class's
// credit and never the credit the control stream and the circuits need;
// and the class has its own bound of streams (Config.ClassMaxStreams), so
// that connections and circuits cannot take each other's.
type link struct {
	c      *core
	peer   uint64
	dialer bool
	conn   io.ReadWriteCloser // what the session runs on (TLS when secured)
	sess   *mux.Session
	ctrl   *mux.Stream
	rd     *bufio.Reader // reads ctrl
	out    recordQueue
	known  knownDests // destinations that accepted a connection on the link
	cert   peerCert   // what the peer's certificate proved, when secured
	expect uint64     // the peer's id, when the dialer requires one (a direct link); else 0
	direct bool       // made by the direct upgrade of a relayed pair (see direct.go)

	addrs atomic.Pointer[linkAddrs] // the connection's, when it is a net.Conn (the latest, on a resumed link)
	since time.Time                 // when the handshake ended

	// A resumable link (resumelink.go): its session runs on res.
	res    *resume.Conn                                      // nil: a plain link
	redial func(context.Context) (io.ReadWriteCloser, error) // the dialer's: a new connection to the peer
	broke  chan struct{}                                     // a break to resume (the dialer redials)
	susp   atomic.Pointer[time.Time]                         // when the connection broke: waiting for a resume, routing has the link down; nil: up
}

// linkTable holds the live links by peer. A link is registered only once
// its handshake has fully succeeded; while it handshakes, it holds a
// reservation, so that MaxLinks and MaxLinksPerPeer count it. Whether a
// peer is a neighbour, for routing, is derived from the number of its
// registered links (see linkChanged), never decided per link.
type linkTable struct {
	mu       sync.Mutex
	byPeer   map[uint64][]*link
	reserved map[uint64]int // handshakes past the limits, not yet registered
	n        int            // links registered and reserved
}

// reserve counts a link to peer that is handshaking, under MaxLinks and
// MaxLinksPerPeer. register or unreserve ends the reservation.
func (t *linkTable) reserve(peer uint64, lim *Limits) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byPeer == nil {
		return ErrClosed
	}
	if t.n >= lim.MaxLinks {
		return lim.limitErr("MaxLinks")
	}
	if len(t.byPeer[peer])+t.reserved[peer] >= lim.MaxLinksPerPeer {
		return lim.limitErr("MaxLinksPerPeer")
	}
	if t.reserved == nil {
		t.reserved = make(map[uint64]int)
	}
	t.reserved[peer]++
	t.n++
	return nil
}

// unreserve ends the reservation of a link to peer whose handshake failed.
func (t *linkTable) unreserve(peer uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unreserveLocked(peer)
	t.n--
}

func (t *linkTable) unreserveLocked(peer uint64) {
	if t.reserved[peer] <= 1 {
		delete(t.reserved, peer)
	} else {
		t.reserved[peer]--
	}
}

// register turns l's reservation into a live link.
func (t *linkTable) register(l *link) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unreserveLocked(l.peer)
	if t.byPeer == nil {
		t.n--
		return ErrClosed
	}
	if l.c.revoke.has(l.peer) { // a list installed during the handshake (see installRevocation)
		t.n--
		return &base.RevokedError{ID: l.peer}
	}
	t.byPeer[l.peer] = append(t.byPeer[l.peer], l)
	return nil
}

// remove unregisters l, a registered link.
func (t *linkTable) remove(l *link) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ls := t.byPeer[l.peer]
	for i, x := range ls {
		if x == l {
			ls = append(ls[:i:i], ls[i+1:]...)
			t.n--
			if len(ls) == 0 {
				delete(t.byPeer, l.peer)
			} else {
				t.byPeer[l.peer] = ls
			}
			return
		}
	}
}

// has reports whether a link to peer is registered and not suspended
// (a resumable link whose connection broke counts against the limits, but
// is down for routing until it is resumed).
func (t *linkTable) has(peer uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.byPeer[peer] {
		if !l.suspended() {
			return true
		}
	}
	return false
}

// get returns the newest live link to peer, or nil.
func (t *linkTable) get(peer uint64) *link {
	t.mu.Lock()
	defer t.mu.Unlock()
	ls := t.byPeer[peer]
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].sess.Err() == nil && !ls[i].suspended() {
			return ls[i]
		}
	}
	return nil
}

// each calls f for every link; f must not block.
func (t *linkTable) each(f func(*link)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ls := range t.byPeer {
		for _, l := range ls {
			f(l)
		}
	}
}

// Serve accepts links on ln in the background until the node closes,
// which closes ln. Unlike http.Serve it returns at once: nil, or ErrClosed
// if the node is closed. Errors of Accept are logged and retried after a
// pause; one that says ln was closed ends the serving.
func (n *Node) Serve(ln net.Listener) error {
	c := n.c
	h := c.track(ln)
	if h == nil {
		return ErrClosed
	}
	c.mu.Lock()
	c.join.serving = append(c.join.serving, served{h, ln.Addr()})
	c.mu.Unlock()
	if !c.spawn(func() { c.acceptLinks(ln, h) }) {
		c.unserve(h)
		return ErrClosed
	}
	c.watchLinks()
	return nil
}

// ListenAndServe listens on the network address (as net.Listen) and
// accepts links there in the background until the node closes. It returns
// once it listens, or the error of net.Listen.
func (n *Node) ListenAndServe(network, address string) error {
	ln, err := net.Listen(network, address)
	if err != nil {
		return err
	}
	return n.Serve(ln)
}

// acceptLinks accepts links on ln until the node closes. Accept never
// waits for a handshake to end: every connection is handshaken at once in
// a goroutine of its own, pending (linkPending) until its peer is
// authenticated, which must happen within PreAuthTimeout; past
// MaxPendingLinksPerIP pending from one source address, admitting one
// more closes the oldest from there, and past MaxPendingLinks in all, the
// oldest of the address that has the most pending; silent ones (that have
// not sent their TLS ClientHello) go first (see pending.Set). So silent
// connections from outside the mesh, from one address or from many,
// cannot keep members out.
func (c *core) acceptLinks(ln net.Listener, h *closer) {
	defer c.unserve(h)
	defer c.untrack(h)
	defer ln.Close()
	var delay time.Duration
	var failed failedLinks
	for {
		conn, err := ln.Accept()
		if err != nil {
			if c.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			c.logf(slog.LevelWarn, "mesh: accepting links", "err", err)
			select {
			case <-time.After(delay):
				continue
			case <-c.ctx.Done():
				return
			}
		}
		delay = 0
		p := c.linkPending.Admit(pending.SourceKey(conn.RemoteAddr()), func() { conn.Close() })
		if !c.spawn(func() {
			defer c.linkPending.Done(p)
			authed := func() bool { return c.linkPending.Done(p) }
			heard := func() { c.linkPending.Heard(p) }
			var wasUp bool
			up := func(uint64) { wasUp = true }
			err := c.runLinkWith(conn, linkStart{authTimeout: c.lim.PreAuthTimeout, authed: authed, heard: heard, up: up, served: true})
			if err != nil && !wasUp && !c.isClosed() && !errors.Is(err, errResumed) {
				// A link that came up said "link down" as it ended; one
				// that never did is said once per source and reason
				// within joinLogEvery (a refused node redials).
				level := slog.LevelDebug
				if failed.first(conn.RemoteAddr(), err) {
					level = slog.LevelInfo
				}
				c.logf(level, "mesh: link handshake failed", "remote", conn.RemoteAddr(), "err", err)
			}
		}) {
			c.linkPending.Done(p)
			conn.Close()
			return
		}
	}
}

// Attach runs a link over rw, any ordered reliable pipe, and returns when
// the link ends, with the reason. The other end must call Attach too: the
// two ends first agree which of them plays the dialing side.
func (n *Node) Attach(rw io.ReadWriteCloser) error {
	c := n.c
	h := c.track(rw)
	if h == nil {
		return ErrClosed
	}
	defer c.untrack(h)
	var nb [8]byte
	crand.Read(nb[:])
	nonce := binary.BigEndian.Uint64(nb[:])
	peer, err := exchangeAttach(c, rw, nonce)
	if err != nil {
		rw.Close()
		return err
	}
	if peer == nonce {
		rw.Close()
		return fmt.Errorf("%w: attach: both ends drew the same number", ErrProtocol)
	}
	return c.runLink(rw, nonce > peer)
}

// exchangeAttach sends our attach preamble and reads the peer's, within
// the handshake timeout.
func exchangeAttach(c *core, rw io.ReadWriteCloser, nonce uint64) (uint64, error) {
	werr := make(chan error, 1)
	go func() { // a pipe may not buffer: write while reading
		_, err := rw.Write(wire.AppendAttach(nil, nonce))
		werr <- err
	}()
	timer, ref := timerref.Func(c.lim.HandshakeTimeout, func() { rw.Close() })
	defer func() {
		timer.Stop()
		ref.Clear() // the timer, stopped, stays in the runtime's heap: not with rw
	}()
	var b [wire.AttachLen]byte
	_, rerr := io.ReadFull(rw, b[:])
	if rerr != nil {
		rw.Close()
		<-werr
		if c.isClosed() {
			return 0, ErrClosed
		}
		return 0, fmt.Errorf("mesh: attach: reading the peer's preamble: %w", rerr)
	}
	if err := <-werr; err != nil {
		return 0, fmt.Errorf("mesh: attach: %w", err)
	}
	if !timer.Stop() {
		return 0, fmt.Errorf("mesh: attach: timed out")
	}
	return wire.ParseAttach(b[:])
}

// Join keeps a link to the node at address (as net.Dial) up until the node
// closes: it dials in the background and, whenever the link fails or
// ends, dials again after an exponential backoff with jitter (100ms
// doubling to 30s, reset once a link comes up). A connection that the
// peer closes before the link handshake is done, without a refusal (a
// REFUSE, a TLS alert), is retried after the base interval instead (100
// ms, jittered), without backing off: a listener drops pending handshakes
// when a flood comes from the same address, and takes the node again as
// soon as the flood ends. It returns at once; the link appears in Routes
// when it is up, and Joins tells the state of the join.
//
// A join that the far node refuses (or this one the far node: another
// CA, another mesh name, see JoinRefused) is logged at WARN, once per
// distinct reason, and at DEBUG when the same reason comes again; other
// failures at INFO, the same one at most every 10 s. A node that joins or
// serves and has no live link for 10 s says so at WARN, once, and again
// each time it loses its last link for that long; at INFO when a link
// comes back.
func (n *Node) Join(network, address string) error {
	c := n.c
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return fmt.Errorf("mesh: Join: network %q (want tcp, tcp4, tcp6 or unix)", network)
	}
	addr := network + "://" + address
	js := &joinState{info: JoinInfo{Addr: addr, State: JoinConnecting, Since: time.Now()}}
	if !c.spawn(func() { c.keepJoined(network, address, js) }) {
		return ErrClosed
	}
	c.mu.Lock()
	c.join.addrs = append(c.join.addrs, addr)
	c.join.states = append(c.join.states, js)
	c.mu.Unlock()
	c.watchLinks()
	return nil
}

// JoinError returns why the node's last attempt to join (see Join) failed:
// the dial's error, or the link handshake's (a refusal is ErrNotAuthorized,
// ErrMeshMismatch, ErrVersion or ErrIDMismatch, as errors.Is reports), or
// the error that ended a link that was up. It names the address. It is nil
// when no attempt has failed yet, and once a link of Join comes up, until
// that link or another attempt fails. A node that has no live link (see
// Links) and a JoinError cannot reach the mesh: JoinError says why.
func (n *Node) JoinError() error {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.c.join.err
}

// setJoinError records err as JoinError's.
func (c *core) setJoinError(err error) {
	c.mu.Lock()
	c.join.err = err
	c.mu.Unlock()
}

// Backoff of Join.
const (
	joinMinDelay = 100 * time.Millisecond
	joinMaxDelay = 30 * time.Second
	joinLogEvery = 10 * time.Second // a failure that repeats is logged at most this often
	// Hang-ups: retried after joinMinDelay this many times in a row (2 s,
	// PreAuthTimeout's worth), then after a delay that doubles up to
	// joinHangUpMax, so that a node gets in within about that much of the
	// end of a flood from its address, whatever its length.
	joinFastTries = 20
	joinHangUpMax = time.Second
)

func (c *core) keepJoined(network, address string, js *joinState) {
	delay, hangUps := joinMinDelay, 0
	d := net.Dialer{Timeout: c.lim.HandshakeTimeout}
	var said string // the last failure logged, and when
	var saidAt time.Time
	warned := make(map[string]bool) // the refusals logged at WARN since the last link
	redial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		return d.DialContext(ctx, network, address)
	}
	plain := false // the node there did not answer the resume preface
	for {
		conn, err := d.DialContext(c.ctx, network, address)
		wasUp := false
		if err == nil {
			ls := linkStart{dialer: true, up: func(peer uint64) {
				wasUp = true
				c.setJoinError(nil)
				c.joinUp(js, peer)
			}}
			if !plain {
				ls.redial = redial
			}
			err = c.runLinkWith(conn, ls)
			if wasUp {
				delay, hangUps = joinMinDelay, 0
				clear(warned)
			}
			if errors.Is(err, errNoPreface) && c.ident == nil {
				plain = true // an insecure node that does not speak it: redial at once without one
				c.logf(slog.LevelInfo, "mesh: join: the node does not resume links; plain links from now on", "addr", address)
				continue
			}
		}
		if c.isClosed() {
			return
		}
		c.setJoinError(fmt.Errorf("join %s: %w", address, err))
		var base time.Duration
		base, delay, hangUps = joinDelay(err, delay, hangUps)
		refused := joinRefused(err, hangUps)
		wait := jitter(base)
		c.joinFailed(js, err, refused, wait)
		// Retries at the base interval may come ten a second: the same
		// failure is logged again only after joinLogEvery.
		what := fmt.Sprint(err)
		if hungUp(err) {
			what = errHungUp.Error() // whatever the connection's ports
		}
		switch {
		case refused && !warned[what]:
			// Said once per reason: it will not pass by itself.
			if len(warned) >= maxWarned {
				clear(warned)
			}
			warned[what] = true
			said, saidAt = what, time.Now()
			c.logf(slog.LevelWarn, "mesh: join refused, redialing", "addr", address, "err", err, "after", wait)
		case refused:
			c.logf(slog.LevelDebug, "mesh: join refused, redialing", "addr", address, "err", err, "after", wait)
		case what != said || time.Since(saidAt) >= joinLogEvery:
			said, saidAt = what, time.Now()
			msg := "mesh: join: link down, redialing"
			if !wasUp {
				msg = "mesh: join: no link, redialing"
			}
			c.logf(slog.LevelInfo, msg, "addr", address, "err", err, "after", wait)
		}
		select {
		case <-time.After(wait):
		case <-c.ctx.Done():
			return
		}
	}
}

// joinDelay returns how long Join waits (before jitter) after a failure
// err, with the backoff delay and the count of hang-ups in a row so far,
// and their next values. A hang-up (see errHungUp) is retried after
// joinMinDelay, up to joinFastTries in a row, leaving the backoff delay as
// it was; past them, the join counts as refused (a node that hangs up on
// every try, say one of the other security) and backs off as any other
// failure does: the delay doubles up to joinMaxDelay (and the wait is at
// least joinMinDelay doubled per hang-up past the fast tries, up to
// joinHangUpMax).
func joinDelay(err error, delay time.Duration, hangUps int) (wait, nextDelay time.Duration, nextHangUps int) {
	if !hungUp(err) {
		return delay, min(2*delay, joinMaxDelay), 0
	}
	hangUps++
	if over := hangUps - joinFastTries; over > 0 {
		// Past the fast tries the join counts as refused (joinRefused),
		// and backs off as a refusal does.
		return max(min(joinMinDelay<<min(over, 8), joinHangUpMax), delay), min(2*delay, joinMaxDelay), hangUps
	}
	return joinMinDelay, delay, hangUps
}

// failedLinks remembers the link handshakes that failed at a listener,
// by source IP and reason, so that a node that keeps redialing and keeps
// failing is logged once per joinLogEvery, not on every try.
type failedLinks struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// maxFailedLinks bounds failedLinks; it is cleared when full.
const maxFailedLinks = 1024

// first reports whether the failure err of a link from addr is the first
// of its kind from that IP within joinLogEvery.
func (f *failedLinks) first(addr net.Addr, err error) bool {
	ip := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip = ta.IP.String()
	}
	key := ip + " " + strings.ReplaceAll(err.Error(), addr.String(), "")
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if at, ok := f.seen[key]; ok && now.Sub(at) < joinLogEvery {
		return false
	}
	if f.seen == nil || len(f.seen) >= maxFailedLinks {
		f.seen = make(map[string]time.Time)
	}
	f.seen[key] = now
	return true
}

// errHungUp is why a link handshake failed when the peer closed the
// connection before it was done without saying why (no REFUSE, no TLS
// alert): a transient failure, which Join retries soon (see joinDelay)
// rather than backing off, since a listener drops pending handshakes
// when too many arrive from one address (MaxPendingLinksPerIP).
var errHungUp = errors.New("the peer closed the connection before the link handshake was done")

// hungUp reports whether err is a link handshake that failed with
// errHungUp.
func hungUp(err error) bool { return errors.Is(err, errHungUp) }

// jitter draws a wait in [d/2, d], so that peers that lost a link
// together do not redial together.
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// runLink runs a link over conn until it ends and returns why.
func (c *core) runLink(conn io.ReadWriteCloser, dialer bool) error {
	return c.runLinkWith(conn, linkStart{dialer: dialer})
}

// linkStart is how a link starts.
type linkStart struct {
	dialer bool
	up     func(peer uint64) // if set, called once the link is up
	// authTimeout, if set, bounds the time until the peer is
	// authenticated: its TLS handshake, when secured, and its hello.
	authTimeout time.Duration
	// authed, if set, is called once the peer is authenticated; if it
	// reports false, the link is given up.
	authed func() bool
	// heard, if set, is called once the peer's TLS ClientHello is read.
	heard func()
	// expect, if not zero, is the id the peer must prove: a direct link
	// dialed to the address a host advertises (see direct.go).
	expect uint64
	// direct: the link is dialed by the direct upgrade.
	direct bool
	// redial, if set, makes the dialer's link resumable (when the peer
	// speaks it): a new connection to the same address.
	redial func(context.Context) (io.ReadWriteCloser, error)
	// served: a link accepted by Serve, which may be resumable.
	served bool
}

// errResumed ends runLinkWith for an accepted connection that resumed a
// suspended link: the connection is that link's now.
var errResumed = errors.New("mesh: the connection resumed a link")

// runLinkWith runs a link over conn until it ends and returns why.
func (c *core) runLinkWith(conn io.ReadWriteCloser, ls linkStart) error {
	dialer, up := ls.dialer, ls.up
	hc := c.track(conn)
	if hc == nil {
		return ErrClosed
	}
	defer c.untrack(hc)
	handed := false // conn belongs to a resumed link
	defer func() {
		if !handed {
			conn.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.HandshakeTimeout)
	defer cancel()
	auth := ctx
	if ls.authTimeout > 0 {
		var cancelAuth context.CancelFunc
		auth, cancelAuth = context.WithTimeout(ctx, ls.authTimeout)
		defer cancelAuth()
	}
	rw := conn
	var pc peerCert // what the peer's certificate proves
	resumable := c.opts.resume && ((dialer && ls.redial != nil) || (!dialer && ls.served))
	if c.ident != nil {
		var protos []string
		if resumable {
			protos = []string{alpnResume, alpnPlain}
		}
		tc, err := c.tlsHandshake(auth, conn, dialer, ls.expect, &pc, ls.heard, protos...)
		if err != nil {
			if !c.isClosed() {
				c.stats.linkHandshakes.Add(1)
			}
			if auth.Err() != nil && ctx.Err() == nil {
				return fmt.Errorf("%w: link handshake: the peer was not authenticated within %v", ErrProtocol, ls.authTimeout)
			}
			return err
		}
		rw = tc
		resumable = resumable && tc.ConnectionState().NegotiatedProtocol == alpnResume
	}
	var remote net.Addr
	if nc, ok := conn.(net.Conn); ok {
		remote = nc.RemoteAddr()
	}
	var rc *resume.Conn
	var lp linkRef
	if resumable && dialer {
		var err error
		if rc, err = c.dialResumable(auth, rw, &lp); err != nil {
			return err
		}
		defer rc.Close()
	} else if resumable && c.ident == nil {
		// An insecure dialer that speaks it starts with the preface's
		// magic; one that does not, with its session.
		var magic [4]byte
		if err := within(auth, conn, func() error { _, err := io.ReadFull(conn, magic[:]); return err }); err != nil {
			return fmt.Errorf("%w: link handshake: %w", ErrProtocol, err)
		}
		if string(magic[:]) != prefaceMagic {
			rw = &prefixConn{conn, append([]byte(nil), magic[:]...)}
			resumable = false
		}
	}
	if resumable && !dialer {
		var resumed bool
		var err error
		rc, resumed, err = c.acceptResumable(auth, rw, &pc, remote, ls.authed, &lp)
		if resumed {
			handed = true
			if err != nil {
				return err
			}
			return errResumed
		}
		if err != nil {
			return err
		}
		defer rc.Close()
	}
	var sess *mux.Session
	var err error
	cfg := c.linkCfg
	if rc != nil {
		rw, cfg = rc, c.resumeMuxCfg()
	}
	if dialer {
		sess, err = mux.Client(rw, cfg)
	} else {
		sess, err = mux.Server(rw, cfg)
	}
	if err != nil {
		return err
	}
	hs := c.track(sess)
	if hs == nil {
		return ErrClosed
	}
	defer c.untrack(hs)
	defer sess.Close()
	l := &link{c: c, dialer: dialer, conn: rw, sess: sess, cert: pc, expect: ls.expect, direct: ls.direct && dialer}
	if nc, ok := conn.(net.Conn); ok {
		l.addrs.Store(&linkAddrs{nc.LocalAddr(), nc.RemoteAddr()})
	}
	l.out.init()
	if rc != nil {
		l.res, l.redial, l.broke = rc, ls.redial, make(chan struct{}, 1)
		lp.set(l)
		if rc.Err() != nil { // a break before the link existed: it is gone
			return fmt.Errorf("mesh: link handshake: %w", rc.Err())
		}
	}
	if err := l.handshake(ctx, auth, pc.id, ls.authed); err != nil {
		if !c.isClosed() {
			c.stats.linkHandshakes.Add(1)
		}
		return err
	}
	cancel()
	l.since = time.Now()
	if err := c.links.register(l); err != nil {
		return err
	}
	c.stats.linkUps.Add(1)
	if rc != nil && !dialer {
		c.res.links.add(l)
		defer c.res.links.remove(l)
	}
	if up != nil {
		up(l.peer)
	}
	c.logf(slog.LevelInfo, "mesh: link up", "peer", c.who(l.peer), "dialer", dialer)
	c.linkChanged(l.peer, true)
	c.moveDirect(l.peer) // a relayed circuit to the new neighbour moves onto the link
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		if !c.spawn(func() { defer wg.Done(); f() }) {
			wg.Done()
		}
	}
	run(l.readRecords)
	run(l.sendRecords)
	run(l.acceptStreams)
	run(l.acceptConns)
	// A link lasts no longer than the peer's certificate (or until a
	// revocation list names the peer: see installRevocation).
	var expired <-chan time.Time
	if !pc.notAfter.IsZero() {
		tm := time.NewTimer(time.Until(pc.notAfter))
		defer tm.Stop()
		expired = tm.C
	}
	for waiting := true; waiting; {
		select {
		case <-sess.Done():
			waiting = false
		case <-c.ctx.Done():
			waiting = false
		case <-expired:
			c.logf(slog.LevelWarn, "mesh: link closed: the peer's certificate expired", "peer", c.who(l.peer), "notAfter", pc.notAfter)
			waiting = false
		case <-l.broke: // a resumable link's connection broke
			if l.redial == nil {
				continue // the acceptor waits for the dialer
			}
			if !c.resumeLink(l) {
				waiting = false // gone at the peer, or failed: the link ends; Join dials a new one
			}
		}
	}
	// The peer's name, while its link still gives it (a neighbour whose
	// record has not arrived, or is about to go).
	peerLabel := c.who(l.peer).LogValue()
	c.removeLink(l)
	c.linkChanged(l.peer, false)
	if c.isClosed() {
		<-c.ctx.Done() // after closeInner
		// The node closes: what its circuits wrote before (Close ended
		// them first, see closeInner) and what its connections to the
		// neighbour wrote may still wait in the link's queue; mux's Close
		// sends it, within the link's CloseTimeout.
		sess.Close()
	}
	conn.Close() // otherwise, do not wait for a dead peer to take our last frames
	if rc != nil && l.suspended() {
		rc.Close() // fails the suspended session at once
	}
	sess.Close()
	l.out.close()
	wg.Wait()
	err = sess.Err()
	if c.isClosed() {
		err = ErrClosed
	}
	c.logf(slog.LevelInfo, "mesh: link down", "peer", peerLabel, "err", err)
	return fmt.Errorf("mesh: link to %s ended: %w", FormatID(l.peer), err)
}

// linkChanged tells the router that a link to peer came up (up) or went
// down. Whether peer is a neighbour is read from the link table under the
// router's lock, so that the router follows the table whatever order links
// come and go in: the peer is up while it has a registered link. A link
// that comes up beside another to the same peer is sent the database.
func (c *core) linkChanged(peer uint64, up bool) {
	defer c.linksKick()
	c.routeDo(func(r *linkstate.Router, now time.Time) []linkstate.OutMsg {
		switch {
		case !c.links.has(peer):
			return r.LinkDown(peer, now)
		case !r.IsLink(peer):
			return r.LinkUp(peer, now)
		case up:
			return r.Dump(peer, now)
		}
		return nil
	})
}

// tlsHandshake secures a link's connection: mutual TLS 1.3 against the
// mesh CA. What the peer's certificate proved goes to *pc.
func (c *core) tlsHandshake(ctx context.Context, conn io.ReadWriteCloser, dialer bool, expect uint64, pc *peerCert, heard func(), protos ...string) (*tls.Conn, error) {
	nc, ok := conn.(net.Conn)
	if !ok {
		nc = rwConn{conn}
	}
	return c.ident.handshake(ctx, nc, !dialer, expect, pc, heard, protos...)
}

// handshake runs the link handshake on the control stream. Until the
// peer's hello is read and checked, auth bounds it (the pre-auth time of
// an accepted link), then ctx; authed, if set, is told when the peer is
// authenticated, and may give the link up. A link that passes the limits
// holds a reservation in the link table from then on; on success the
// caller registers it, on failure the reservation is gone.
func (l *link) handshake(ctx, auth context.Context, proved uint64, authed func() bool) (err error) {
	c := l.c
	var st *mux.Stream
	if l.dialer {
		st, err = l.sess.OpenStream(auth)
	} else {
		st, err = l.sess.AcceptStream(auth)
	}
	if err != nil {
		return l.handshakeErr(ctx, auth, err)
	}
	l.ctrl = st
	l.rd = bufio.NewReaderSize(st, 4096)
	flags := uint8(0)
	if c.opts.relay {
		flags |= wire.HelloRelay
	}
	if c.ident != nil {
		flags |= wire.HelloSecured | wire.HelloLists
	}
	if l.direct {
		flags |= wire.HelloDirect
	}
	ours := wire.AppendCtrl(nil, wire.MsgHello, wire.AppendHello(nil, wire.Hello{Version: Version, Flags: flags, ID: c.id, Name: c.opts.name}))
	var h wire.Hello
	err = withContext(auth, st, func() error {
		if l.dialer {
			if _, err := st.Write(ours); err != nil {
				return err
			}
		}
		h, err = l.readHello()
		return err
	})
	if err == nil {
		if err = c.checkHello(h, proved); err != nil {
			l.refuse(err)
		} else if l.expect != 0 && h.ID != l.expect {
			err = fmt.Errorf("%w: a direct link to %s reached node %s", ErrIDMismatch, FormatID(l.expect), FormatID(h.ID))
			l.refuse(err)
		}
	}
	if err == nil && authed != nil && !authed() {
		err = fmt.Errorf("%w: link handshake: dropped, too many handshakes pending (MaxPendingLinks, MaxPendingLinksPerIP)", ErrProtocol)
	}
	if err == nil {
		if err = c.links.reserve(h.ID, c.lim); err != nil {
			l.refuse(err)
		} else {
			l.peer = h.ID
			// A node that does not say it takes revocation lists (one
			// before them) is sent none: it would close the link on a
			// message type it does not know.
			l.out.takesLists(h.Flags&wire.HelloLists != 0 && c.ident != nil)
			if !l.dialer && h.Flags&wire.HelloDirect != 0 {
				l.direct = true // the dialer's direct upgrade
			}
		}
	}
	if err == nil {
		err = withContext(ctx, st, func() error {
			if l.dialer {
				_, err := st.Write(wire.AppendCtrl(nil, wire.MsgReady, nil))
				return err
			}
			if _, err := st.Write(ours); err != nil {
				return err
			}
			typ, body, err := wire.ReadCtrl(l.rd, wire.MaxRefuseReason+2)
			switch {
			case err != nil:
				return err
			case typ == wire.MsgReady && len(body) == 0:
				return nil
			case typ == wire.MsgRefuse:
				return peerRefusal(l.peer, body)
			}
			return fmt.Errorf("%w: link handshake: message type %#x instead of ready", ErrProtocol, typ)
		})
	}
	if err != nil {
		if l.peer != 0 {
			c.links.unreserve(l.peer)
		}
		return l.handshakeErr(ctx, auth, err)
	}
	return nil
}

// readHello reads the peer's hello, or its refusal.
func (l *link) readHello() (wire.Hello, error) {
	typ, body, err := wire.ReadCtrl(l.rd, 16+base.MaxNameLen+wire.MaxRefuseReason)
	if err != nil {
		return wire.Hello{}, err
	}
	switch typ {
	case wire.MsgHello:
		h, err := wire.ParseHello(body)
		if err != nil {
			l.refuse(err)
		}
		return h, err
	case wire.MsgRefuse:
		return wire.Hello{}, peerRefusal(0, body)
	}
	err = fmt.Errorf("%w: link handshake: message type %#x instead of hello", ErrProtocol, typ)
	l.refuse(err)
	return wire.Hello{}, err
}

// checkHello applies the rules of the link handshake to the peer's hello.
func (c *core) checkHello(h wire.Hello, proved uint64) error {
	switch {
	case h.Name != c.opts.name:
		return fmt.Errorf("%w: node %s is in mesh %q, node %s in mesh %q", ErrMeshMismatch, FormatID(c.id), c.opts.name, FormatID(h.ID), h.Name)
	case h.ID == c.id:
		return fmt.Errorf("%w: both ends announce the id %s (a link to itself, or two nodes with one id)", ErrIDMismatch, FormatID(c.id))
	case c.ident != nil && h.ID != proved:
		return fmt.Errorf("%w: a node announces id %s but its certificate proves %s", ErrIDMismatch, FormatID(h.ID), FormatID(proved))
	case (h.Flags&wire.HelloSecured != 0) != (c.ident != nil):
		return fmt.Errorf("%w: one end of the link is secured with TLS and the other is not", ErrNotAuthorized)
	case c.revoke.has(h.ID):
		return &base.RevokedError{ID: h.ID}
	}
	return nil
}

// refuse tells the peer why we refuse the link; the session is closed by
// the caller, after the refusal is flushed.
func (l *link) refuse(err error) {
	c := codeOf(err)
	l.ctrl.Write(wire.AppendCtrl(nil, wire.MsgRefuse, wire.AppendRefuse(nil, uint8(c), detail(err, c))))
}

// detail returns the text of err without the text of the rule c names,
// which the receiver of a refusal adds itself.
func detail(err error, c code) string {
	s := err.Error()
	rule := c.err().Error()
	if strings.HasPrefix(s, rule) {
		return strings.TrimLeft(s[len(rule):], ": ")
	}
	return strings.TrimPrefix(s, "mesh: ")
}

// peerRefusal decodes the peer's refusal into an error.
func peerRefusal(peer uint64, body []byte) error {
	c, reason, err := wire.ParseRefuse(body)
	if err != nil {
		return err
	}
	return &refusal{op: "link", by: peer, err: code(c).err(), reason: reason}
}

// handshakeErr makes the error of a failed handshake say what happened.
func (l *link) handshakeErr(ctx, auth context.Context, err error) error {
	switch {
	case l.c.isClosed():
		return ErrClosed
	case ctx.Err() != nil:
		return fmt.Errorf("%w: link handshake timed out after %v", ErrProtocol, l.c.lim.HandshakeTimeout)
	case auth.Err() != nil:
		return fmt.Errorf("%w: link handshake: the peer was not authenticated within %v", ErrProtocol, l.c.lim.PreAuthTimeout)
	case tlsAlert(err): // TLS 1.3: the server's verdict on our certificate comes after our side of the handshake
		return fmt.Errorf("%w: link handshake: the peer refused our certificate (%v)", ErrNotAuthorized, err)
	case closedEarly(err):
		return fmt.Errorf("%w: link handshake: %w (%v); is it a mesh node, of the same security (TLS or not)?", ErrProtocol, errHungUp, err)
	}
	return err
}

// rwConn makes an io.ReadWriteCloser a net.Conn without deadlines, for TLS
// over an attached pipe.
type rwConn struct{ io.ReadWriteCloser }

func (rwConn) LocalAddr() net.Addr              { return Addr{} }
func (rwConn) RemoteAddr() net.Addr             { return Addr{} }
func (rwConn) SetDeadline(time.Time) error      { return nil }
func (rwConn) SetReadDeadline(time.Time) error  { return nil }
func (rwConn) SetWriteDeadline(time.Time) error { return nil }
