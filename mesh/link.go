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
	"time"

	"github.com/plexusnet/plexus/mux"
)

// A link is one mux session over one physical connection between two
// neighbours. The dialing side is the mux client and opens the control
// stream (handshake, then records, see handshake.go); both sides open
// application streams and circuit setups on it.
type link struct {
	c      *core
	peer   uint64
	relay  bool // the peer relays (from its hello)
	dialer bool
	conn   io.ReadWriteCloser // what the session runs on (TLS when secured)
	sess   *mux.Session
	ctrl   *mux.Stream
	rd     *bufio.Reader // reads ctrl
	out    recordQueue
	sem    chan struct{} // stream headers being read
	known  knownDests    // destinations that accepted a connection on sess
}

// linkTable holds the live links by peer.
type linkTable struct {
	mu     sync.Mutex
	byPeer map[uint64][]*link
	n      int
}

// add registers l, under MaxLinks and MaxLinksPerPeer. It reports whether
// l is the first link to its peer.
func (t *linkTable) add(l *link, lim *Limits) (first bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byPeer == nil {
		return false, ErrClosed
	}
	if t.n >= lim.MaxLinks {
		return false, lim.limitErr("MaxLinks")
	}
	if len(t.byPeer[l.peer]) >= lim.MaxLinksPerPeer {
		return false, lim.limitErr("MaxLinksPerPeer")
	}
	t.byPeer[l.peer] = append(t.byPeer[l.peer], l)
	t.n++
	return len(t.byPeer[l.peer]) == 1, nil
}

// remove unregisters l. It reports whether it was the last link to its peer.
func (t *linkTable) remove(l *link) (last bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ls := t.byPeer[l.peer]
	for i, x := range ls {
		if x == l {
			ls = append(ls[:i:i], ls[i+1:]...)
			t.n--
			if len(ls) == 0 {
				delete(t.byPeer, l.peer)
				return true
			}
			t.byPeer[l.peer] = ls
			return false
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
		if ls[i].sess.Err() == nil {
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
// which closes ln. It returns at once.
func (n *Node) Serve(ln net.Listener) error {
	c := n.c
	h := c.track(ln)
	if h == nil {
		return ErrClosed
	}
	if !c.spawn(func() { c.acceptLinks(ln, h) }) {
		return ErrClosed
	}
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

// maxHandshakes bounds the accepted connections handshaking at once; more
// wait in the kernel's accept queue.
const maxHandshakes = 64

func (c *core) acceptLinks(ln net.Listener, h *closer) {
	defer c.untrack(h)
	defer ln.Close()
	sem := make(chan struct{}, maxHandshakes)
	var delay time.Duration
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
		select {
		case sem <- struct{}{}:
		case <-c.ctx.Done():
			conn.Close()
			return
		}
		if !c.spawn(func() {
			defer func() { <-sem }()
			if err := c.runLink(conn, false); err != nil && !c.isClosed() {
				c.logf(slog.LevelInfo, "mesh: link ended", "remote", conn.RemoteAddr(), "err", err)
			}
		}) {
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
		_, err := rw.Write(appendAttach(nil, nonce))
		werr <- err
	}()
	timer := time.AfterFunc(c.lim.HandshakeTimeout, func() { rw.Close() })
	defer timer.Stop()
	var b [attachLen]byte
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
	return parseAttach(b[:])
}

// Join keeps a link to the node at address (as net.Dial) up until the node
// closes: it dials in the background and, whenever the link fails or
// ends, dials again after an exponential backoff with jitter (100ms
// doubling to 30s, reset once a link comes up). It returns at once; the
// link appears in Routes when it is up.
func (n *Node) Join(network, address string) error {
	c := n.c
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return fmt.Errorf("mesh: Join: network %q (want tcp, tcp4, tcp6 or unix)", network)
	}
	if !c.spawn(func() { c.keepJoined(network, address) }) {
		return ErrClosed
	}
	return nil
}

// Backoff of Join.
const (
	joinMinDelay = 100 * time.Millisecond
	joinMaxDelay = 30 * time.Second
)

func (c *core) keepJoined(network, address string) {
	delay := joinMinDelay
	d := net.Dialer{Timeout: c.lim.HandshakeTimeout}
	for {
		conn, err := d.DialContext(c.ctx, network, address)
		if err == nil {
			var up bool
			err = c.runLinkNotify(conn, true, func() { up = true })
			if up {
				delay = joinMinDelay
			}
		}
		if c.isClosed() {
			return
		}
		c.logf(slog.LevelInfo, "mesh: join: link down, redialing", "addr", address, "err", err, "after", delay)
		var wait time.Duration
		wait, delay = backoff(delay)
		select {
		case <-time.After(wait):
		case <-c.ctx.Done():
			return
		}
	}
}

// backoff returns how long to wait after a failure with the current delay,
// and the next delay: the wait is drawn in [delay/2, delay] so that peers
// that lost a link together do not redial together, and the delay doubles
// up to joinMaxDelay.
func backoff(delay time.Duration) (wait, next time.Duration) {
	return delay/2 + rand.N(delay/2+1), min(2*delay, joinMaxDelay)
}

// runLink runs a link over conn until it ends and returns why.
func (c *core) runLink(conn io.ReadWriteCloser, dialer bool) error {
	return c.runLinkNotify(conn, dialer, nil)
}

// runLinkNotify is runLink that calls up once the handshake succeeds.
func (c *core) runLinkNotify(conn io.ReadWriteCloser, dialer bool, up func()) error {
	hc := c.track(conn)
	if hc == nil {
		return ErrClosed
	}
	defer c.untrack(hc)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.HandshakeTimeout)
	defer cancel()
	rw := conn
	var proved uint64 // the id the peer's certificate proves
	if c.ident != nil {
		tc, err := c.tlsHandshake(ctx, conn, dialer)
		if err != nil {
			return err
		}
		rw = tc
		proved = peerID(tc.ConnectionState())
	}
	var sess *mux.Session
	var err error
	if dialer {
		sess, err = mux.Client(rw, c.linkCfg)
	} else {
		sess, err = mux.Server(rw, c.linkCfg)
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
	l := &link{c: c, dialer: dialer, conn: rw, sess: sess, sem: make(chan struct{}, c.lim.MaxPendingStreams)}
	l.out.init()
	first, err := l.handshake(ctx, proved)
	if err != nil {
		return err
	}
	cancel()
	if up != nil {
		up()
	}
	c.logf(slog.LevelInfo, "mesh: link up", "peer", FormatID(l.peer), "dialer", dialer)
	if first {
		c.routeDo(func(r *router, now time.Time) []outMsg { return r.linkUp(l.peer, now) })
	} else {
		// Another link to the peer is up already: send it our view.
		c.routeDo(func(r *router, now time.Time) []outMsg { return r.dump(l.peer, now) })
	}
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
	select {
	case <-sess.Done():
	case <-c.ctx.Done():
	}
	if c.links.remove(l) {
		c.routeDo(func(r *router, now time.Time) []outMsg { return r.linkDown(l.peer, now) })
	}
	conn.Close() // do not wait for a dead peer to take our last frames
	sess.Close()
	l.out.close()
	wg.Wait()
	err = sess.Err()
	if c.isClosed() {
		err = ErrClosed
	}
	c.logf(slog.LevelInfo, "mesh: link down", "peer", FormatID(l.peer), "err", err)
	return fmt.Errorf("mesh: link to %s ended: %w", FormatID(l.peer), err)
}

// tlsHandshake secures a link's connection: mutual TLS 1.3 against the
// mesh CA.
func (c *core) tlsHandshake(ctx context.Context, conn io.ReadWriteCloser, dialer bool) (*tls.Conn, error) {
	nc, ok := conn.(net.Conn)
	if !ok {
		nc = rwConn{conn}
	}
	var tc *tls.Conn
	if dialer {
		tc = tls.Client(nc, c.ident.tlsConfig(false, 0))
	} else {
		tc = tls.Server(nc, c.ident.tlsConfig(true, 0))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, tlsError(err)
	}
	return tc, nil
}

// tlsError makes a failed TLS handshake an ErrNotAuthorized (or the mesh
// error our own checks returned).
func tlsError(err error) error {
	if errors.Is(err, ErrNotAuthorized) || errors.Is(err, ErrIDMismatch) {
		return err
	}
	return fmt.Errorf("%w: TLS handshake: %v (is the peer a member of this secured mesh?)", ErrNotAuthorized, err)
}

// handshake runs the link handshake on the control stream and registers
// the link. It reports whether the link is the first to its peer.
func (l *link) handshake(ctx context.Context, proved uint64) (first bool, err error) {
	c := l.c
	var st *mux.Stream
	if l.dialer {
		st, err = l.sess.OpenStream(ctx)
	} else {
		st, err = l.sess.AcceptStream(ctx)
	}
	if err != nil {
		return false, l.handshakeErr(ctx, err)
	}
	l.ctrl = st
	l.rd = bufio.NewReaderSize(st, 4096)
	flags := uint8(0)
	if c.opts.relay {
		flags |= helloRelay
	}
	if c.ident != nil {
		flags |= helloSecured
	}
	ours := appendCtrl(nil, msgHello, appendHello(nil, hello{version: Version, flags: flags, id: c.id, name: c.opts.name}))
	err = withContext(ctx, st, func() error {
		if l.dialer {
			if _, err := st.Write(ours); err != nil {
				return err
			}
		}
		h, err := l.readHello()
		if err != nil {
			return err
		}
		if err := c.checkHello(h, proved); err != nil {
			l.refuse(err)
			return err
		}
		l.peer, l.relay = h.id, h.flags&helloRelay != 0
		if first, err = c.links.add(l, c.lim); err != nil {
			l.refuse(err)
			return err
		}
		if l.dialer {
			_, err = st.Write(appendCtrl(nil, msgReady, nil))
			return err
		}
		if _, err := st.Write(ours); err != nil {
			return err
		}
		typ, body, err := readCtrl(l.rd, maxRefuseReason+2)
		switch {
		case err != nil:
			return err
		case typ == msgReady && len(body) == 0:
			return nil
		case typ == msgRefuse:
			return peerRefusal(l.peer, body)
		}
		return fmt.Errorf("%w: link handshake: message type %#x instead of ready", ErrProtocol, typ)
	})
	if err != nil {
		if l.peer != 0 {
			c.links.remove(l)
		}
		return false, l.handshakeErr(ctx, err)
	}
	return first, nil
}

// readHello reads the peer's hello, or its refusal.
func (l *link) readHello() (hello, error) {
	typ, body, err := readCtrl(l.rd, 16+maxNameLen+maxRefuseReason)
	if err != nil {
		return hello{}, err
	}
	switch typ {
	case msgHello:
		h, err := parseHello(body)
		if err != nil {
			l.refuse(err)
		}
		return h, err
	case msgRefuse:
		return hello{}, peerRefusal(0, body)
	}
	err = fmt.Errorf("%w: link handshake: message type %#x instead of hello", ErrProtocol, typ)
	l.refuse(err)
	return hello{}, err
}

// checkHello applies the rules of the link handshake to the peer's hello.
func (c *core) checkHello(h hello, proved uint64) error {
	switch {
	case h.name != c.opts.name:
		return fmt.Errorf("%w: node %s is in mesh %q, node %s in mesh %q", ErrMeshMismatch, FormatID(c.id), c.opts.name, FormatID(h.id), h.name)
	case h.id == c.id:
		return fmt.Errorf("%w: both ends announce the id %s (a link to itself, or two nodes with one id)", ErrIDMismatch, FormatID(c.id))
	case c.ident != nil && h.id != proved:
		return fmt.Errorf("%w: a node announces id %s but its certificate proves %s", ErrIDMismatch, FormatID(h.id), FormatID(proved))
	case (h.flags&helloSecured != 0) != (c.ident != nil):
		return fmt.Errorf("%w: one end of the link is secured with TLS and the other is not", ErrNotAuthorized)
	}
	return nil
}

// refuse tells the peer why we refuse the link; the session is closed by
// the caller, after the refusal is flushed.
func (l *link) refuse(err error) {
	c := codeOf(err)
	l.ctrl.Write(appendCtrl(nil, msgRefuse, appendRefuse(nil, c, detail(err, c))))
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
	c, reason, err := parseRefuse(body)
	if err != nil {
		return err
	}
	return &refusal{op: "link", by: peer, err: c.err(), reason: reason}
}

// handshakeErr makes the error of a failed handshake say what happened.
func (l *link) handshakeErr(ctx context.Context, err error) error {
	switch {
	case l.c.isClosed():
		return ErrClosed
	case ctx.Err() != nil:
		return fmt.Errorf("%w: link handshake timed out after %v", ErrProtocol, l.c.lim.HandshakeTimeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, mux.ErrSessionClosed), errors.Is(err, mux.ErrStreamReset):
		return fmt.Errorf("%w: link handshake: the peer closed the connection (%v); is it a mesh node, of the same security (TLS or not)?", ErrProtocol, err)
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
