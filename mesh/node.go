package mesh

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/plexusnet/plexus/internal/pending"
	"github.com/plexusnet/plexus/internal/resume"
	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// Node is one node of a mesh: a virtual host with an id, links to some
// other nodes, listeners on virtual ports and service names, and a route
// to every node it can reach. A *Node returned by WithEnv is a view of the
// same node whose service names and ports live in another namespace.
//
// All methods are safe for concurrent use.
type Node struct {
	c   *core
	env string
}

// core is the state of a node that its env views share.
type core struct {
	id    uint64
	opts  options
	log   *slog.Logger
	ident *identity // nil: unsecured
	lim   *Limits

	linkCfg, innerCfg *mux.Config

	res linkResume // resumable links (resumelink.go)

	ctx    context.Context // done when the node closes
	cancel context.CancelFunc

	// mu guards closed, closers and the WaitGroup's Add: no goroutine
	// starts after Close began.
	mu      sync.Mutex
	closed  bool
	closers map[*closer]struct{} // connections, listeners and sessions to close on Close
	wg      sync.WaitGroup

	links       linkTable
	linkPending pending.Set // accepted links not authenticated yet, by source address
	ports       portTable
	circuits    circuitTable
	avoid       avoidTable  // relays that failed circuit setups
	direct      directTable // the direct upgrade of relayed pairs (direct.go)
	relays      relayTable
	rt          routing
	self        selfLink

	hooks testHooks // what tests make the node do

	revoke   revocation // the revocation list held (revoke.go)
	names    nameCache  // node names read from certificates (names.go)
	reloadMu sync.Mutex // serializes ReloadTLS
	stats    nodeCounters
	started  time.Time
	join     joinSet // Join's addresses and their states (joins.go), guarded by mu
}

// testHooks are what tests set, before the node links, to make it
// misbehave or to stop it at a point.
type testHooks struct {
	// hostileRelay plays a relay that misbehaves: it sees every setup
	// this node would relay, and takes it over by returning true.
	hostileRelay func(st *mux.Stream, s wire.SetupHeader) bool
	// beforeVerdict is called where a circuit ends here, once end-to-end
	// TLS has proved its source and before the verdict on it is written.
	beforeVerdict func()
	// circuitID draws the resume id of a new resumable circuit (a member
	// that copies another circuit's).
	circuitID func() (resume.ID, error)
}

// served is a listener that accepts links.
type served struct {
	h    *closer
	addr net.Addr
}

// unserve forgets the listener of handle h.
func (c *core) unserve(h *closer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.join.serving = slices.DeleteFunc(c.join.serving, func(s served) bool { return s.h == h })
}

// New starts a node: secured with WithTLS, whose certificate gives it its
// id, or insecure with WithInsecure, with a random id (or WithID's). It
// fails if given neither.
func New(opts ...Option) (*Node, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	c := &core{opts: o, log: o.log, lim: &o.limits, closers: make(map[*closer]struct{}), started: time.Now(), join: joinSet{linksChanged: make(chan struct{}, 1)}}
	if o.tls != nil {
		if c.ident, err = newIdentity(o.tls); err != nil {
			return nil, err
		}
		c.id = c.ident.id
		if err := c.credsFit(c.ident.creds()); err != nil {
			return nil, fmt.Errorf("mesh: WithTLS: %w", err)
		}
		if cn, _ := c.ownName(); o.nodeName != "" && o.nodeName != cn {
			return nil, fmt.Errorf("mesh: WithNodeName(%q): a secured node's name is its certificate's common name (%q)", o.nodeName, cn)
		}
	} else {
		if c.id = o.id; c.id == 0 {
			c.id = randomID()
		}
		c.logf(slog.LevelWarn, "mesh: running without TLS (WithInsecure): any node that reaches this one may join the mesh, under any id")
	}
	c.linkCfg, c.innerCfg = &c.opts.link, &c.opts.circuit
	if !linkCreditFits(c.lim, c.linkCfg) {
		c.logf(slog.LevelWarn, "mesh: one neighbour's stalled circuits can take a link's whole session window: keep (MaxCircuitsPerPeer + MaxPendingCircuits) × the link StreamWindow within a quarter of its SessionWindow",
			"MaxCircuitsPerPeer", c.lim.MaxCircuitsPerPeer, "MaxPendingCircuits", c.lim.MaxPendingCircuits, "SessionWindow", c.linkCfg.SessionWindow)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.ports.init()
	c.links.byPeer = make(map[uint64][]*link)
	c.circuits.init()
	c.relays.setups.MaxPerKey = c.lim.MaxPendingCircuits
	c.linkPending.MaxAll, c.linkPending.MaxPerKey = c.lim.MaxPendingLinks, c.lim.MaxPendingLinksPerIP
	c.startRouting()
	n := &Node{c: c}
	if err := c.loadRevocation(o.revocation); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// recordMax returns the largest our record can be when its services take
// svc bytes: with every neighbour it may list (MaxLinks), and, when
// secured, our certificate chain and signature.
func (c *core) recordMax(svc int) int {
	n := linkstate.MinRecordLen + 8*c.lim.MaxLinks + svc + advertiseBytes(c.opts.advertise)
	if c.ident != nil {
		cr := c.ident.creds()
		n += len(cr.chain) + cr.sigMax
	}
	return n
}

// credsFit checks that our record, with the services bound now, still
// fits MaxRecordSize with the credentials cr.
func (c *core) credsFit(cr *creds) error {
	c.ports.mu.Lock()
	svc := c.ports.serviceBytes()
	c.ports.mu.Unlock()
	if n := linkstate.MinRecordLen + 8*c.lim.MaxLinks + svc + advertiseBytes(c.opts.advertise) + len(cr.chain) + cr.sigMax; n > c.lim.MaxRecordSize {
		return fmt.Errorf("with a certificate chain of %d bytes our record may have %d bytes, more than MaxRecordSize (%d)", len(cr.chain), n, c.lim.MaxRecordSize)
	}
	return nil
}

// randomID returns a random non-zero node id.
func randomID() uint64 {
	var b [8]byte
	for {
		if _, err := crand.Read(b[:]); err != nil {
			panic("mesh: crypto/rand failed: " + err.Error())
		}
		if id := binary.BigEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// ID returns the node id, printed by FormatID as 16 hex digits.
func (n *Node) ID() uint64 { return n.c.id }

// String returns "mesh node <id>", for logs.
func (n *Node) String() string { return "mesh node " + FormatID(n.c.id) }

// WithEnv returns a view of the node whose service names and ports live in
// the namespace env: its listeners are reached only by dials from the same
// env, and its Dial and Services see only that env's services. "" is the
// default env. Close on a view closes the whole node.
func (n *Node) WithEnv(env string) *Node {
	if err := base.CheckEnv(env); err != nil {
		// An invalid env can hold nothing: every call on the view fails.
		return &Node{c: n.c, env: "\x00" + env}
	}
	return &Node{c: n.c, env: env}
}

// Env returns the env of this view ("" for the default).
func (n *Node) Env() string { return n.env }

// Close ends every link, listener, circuit and goroutine of the node, in
// all its env views, and waits for them. What was written on connections
// before Close is delivered first (see docs/mesh.md): circuits, then the
// links' sessions (which carry the connections to neighbours), are closed
// as mux closes a session, each within its CloseTimeout, before the
// links' connections.
func (n *Node) Close() error {
	c := n.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.wg.Wait()
		return nil
	}
	c.closed = true
	closers := c.closers
	c.closers = nil
	c.mu.Unlock()
	c.ports.closeAll()
	c.closeInner()
	c.cancel()
	c.stopRouting()
	for cl := range closers {
		cl.Close()
	}
	c.wg.Wait()
	return nil
}

// closeInner closes the sessions of the node before their connections
// go, each as mux closes a session (within its CloseTimeout), so that
// what the application wrote on a connection before Close, and the
// connection's end, reach the far host, which would otherwise see a
// reset: first every circuit, all at once, then the links' sessions,
// which carry the circuits and the connections to neighbours.
func (c *core) closeInner() {
	var ss []*mux.Session
	c.circuits.mu.Lock()
	for ci := range c.circuits.all {
		if ci.rc != nil && ci.rc.Suspended() {
			// No path: nothing can reach the far host, which keeps
			// waiting for a resume until its window is over.
			ci.rc.Fail(ErrClosed)
		}
		ss = append(ss, ci.sess)
	}
	c.circuits.mu.Unlock()
	closeAll(ss)
	ss = ss[:0]
	c.links.each(func(l *link) { ss = append(ss, l.sess) })
	closeAll(ss)
}

// closeAll closes the sessions ss at once and waits for them.
func closeAll(ss []*mux.Session) {
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Close()
		}()
	}
	wg.Wait()
}

// isClosed reports whether Close was called.
func (c *core) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// spawn runs f in a goroutine that Close waits for. It reports false, and
// does not run f, once the node is closing.
func (c *core) spawn(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// closer is an io.Closer that Close will close. It is tracked by pointer,
// so that any value, hashable or not (a caller's pipe), can be tracked.
type closer struct{ io.Closer }

// track registers cl to be closed by Close and returns the handle that
// untrack takes; once the node is closing it closes cl and returns nil.
func (c *core) track(cl io.Closer) *closer {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cl.Close()
		return nil
	}
	h := &closer{cl}
	c.closers[h] = struct{}{}
	c.mu.Unlock()
	return h
}

// untrack forgets h (nil is a no-op).
func (c *core) untrack(h *closer) {
	c.mu.Lock()
	delete(c.closers, h)
	c.mu.Unlock()
}

// logf logs at level when the node has a logger.
func (c *core) logf(level slog.Level, msg string, args ...any) {
	if c.log != nil {
		c.log.Log(context.Background(), level, msg, append([]any{"node", c.who(c.id)}, args...)...)
	}
}

// Routes returns the route table: every host this node can reach, the
// neighbour it is reached through and its distance in hops, sorted by host.
func (n *Node) Routes() []Route {
	c := n.c
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	return c.rt.r.Routes()
}

// Listen binds a listener in the node's env. address is ":<port>" (":0"
// picks a free port), "<service>" (a free port, and the name announced to
// the mesh) or "<service>:<port>". network is "" or "mesh". A port or
// name already bound in this env fails with ErrAddrInUse. opts restrict
// who may connect (AllowGroups).
func (n *Node) Listen(network, address string, opts ...ListenOption) (net.Listener, error) {
	t, err := parseTarget(network, address)
	if err == nil && t.host != 0 && t.host != n.c.id {
		err = fmt.Errorf("%w: cannot listen on another node's address %s", ErrBadAddress, address)
	}
	if err == nil {
		err = base.CheckEnv(n.env)
	}
	var lo listenOptions
	if err == nil {
		lo, err = n.c.listenOpts(opts)
	}
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "mesh", Err: err}
	}
	l, err := n.c.listen(n.env, t, lo)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "mesh", Addr: Addr{Host: n.c.id, Port: t.port}, Err: err}
	}
	n.c.ownService(n.env, t.name)
	return l, nil
}

// Bind is Listen, under the name astranet used.
func (n *Node) Bind(network, address string, opts ...ListenOption) (net.Listener, error) {
	return n.Listen(network, address, opts...)
}

// Dial connects to address in the node's env: "<host>:<port>" (the host as
// 16 hex digits), ":<port>" (this node), "<service>" or "<service>:<port>".
func (n *Node) Dial(network, address string) (net.Conn, error) {
	return n.DialContext(context.Background(), network, address)
}

// DialTimeout is Dial that gives up after d.
func (n *Node) DialTimeout(network, address string, d time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return n.DialContext(ctx, network, address)
}

// DialContext is Dial bounded by ctx. It fails fast: ErrNoRoute when no
// path to the host is known, ErrConnRefused when nothing listens on the
// port, ErrNoService when no reachable node offers the service. A dial
// that runs out of time fails as package net's do: with a net.Error whose
// Timeout is true, for which errors.Is(err, os.ErrDeadlineExceeded) and
// errors.Is(err, context.DeadlineExceeded) hold.
//
// The first dial to a destination (a port, or a service, in the view's
// env) on the session that reaches its host waits for the destination's
// verdict, one round trip. Once the destination has accepted there, later
// dials to it return at once, without a round trip; should the
// destination refuse one of them (its listener closed since), the refusal
// comes with the connection's first Read or Recv, or with a Write or Send
// once it has arrived, as an error for which errors.Is(err,
// ErrConnRefused) or errors.Is(err, ErrNoService) holds, and the next dial
// waits for its verdict again.
func (n *Node) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	t, err := parseTarget(network, address)
	if err == nil {
		err = base.CheckEnv(n.env)
	}
	if err == nil && n.c.isClosed() {
		err = ErrClosed
	}
	var conn net.Conn
	start := time.Now()
	if err == nil {
		if t.name != "" {
			conn, err = n.c.dialService(ctx, n.env, t)
		} else {
			if t.host == 0 {
				t.host = n.c.id
			}
			conn, err = n.c.dialHost(ctx, t.host, wire.ConnHeader{Port: t.port, Env: n.env}, Addr{Host: t.host, Port: t.port})
		}
	}
	n.c.stats.dials.Add(1)
	if err != nil {
		n.c.stats.dialErrors.Add(1)
		if errors.Is(err, context.DeadlineExceeded) {
			err = errTimeout // as package net: os.ErrDeadlineExceeded, and a net.Error that is a timeout
		}
		return nil, &net.OpError{Op: "dial", Net: "mesh", Source: Addr{Host: n.c.id}, Addr: dialAddr(t), Err: err}
	}
	n.c.stats.dialLatency.observe(time.Since(start))
	return conn, nil
}

// dialAddr is the net.Addr an OpError reports for a dial target.
func dialAddr(t target) net.Addr {
	if t.name != "" {
		return serviceAddr(t.String())
	}
	return Addr{Host: t.host, Port: t.port}
}

// serviceAddr is a service name as a net.Addr.
type serviceAddr string

func (a serviceAddr) Network() string { return "mesh" }
func (a serviceAddr) String() string  { return string(a) }

// withContext runs fn, an I/O on d, with d's deadline set from ctx, and
// cut short when ctx is done.
func withContext(ctx context.Context, d interface{ SetDeadline(time.Time) error }, fn func() error) error {
	if dl, ok := ctx.Deadline(); ok {
		d.SetDeadline(dl)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		d.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	err := fn()
	if !stop() {
		<-fired
		if err != nil {
			err = ctx.Err()
		}
	}
	d.SetDeadline(time.Time{})
	return err
}
