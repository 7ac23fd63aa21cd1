package mesh

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// portTable holds the listeners of a node, by env and port and by env and
// service name.
type portTable struct {
	mu     sync.Mutex
	ports  map[portKey]*listener
	names  map[nameKey]*listener
	next   uint32 // where the search for a free port starts
	closed bool
}

type portKey struct {
	env  string
	port uint32
}

type nameKey struct {
	env  string
	name string
}

// firstEphemeral is where ":0" starts looking for a free port.
const firstEphemeral = 32768

func (t *portTable) init() {
	t.ports = make(map[portKey]*listener)
	t.names = make(map[nameKey]*listener)
	t.next = firstEphemeral
}

// listener is a net.Listener on a virtual port, and maybe a service name.
type listener struct {
	c    *core
	env  string
	name string
	port uint32
	// groups admitted (AllowGroups): a caller's certificate must name one;
	// nil: anyone. Set before the listener is bound, never changed.
	groups []string

	mu       sync.Mutex // serializes deliveries with Close
	q        chan *conn
	reserved int           // slots of q taken by connections being answered
	room     chan struct{} // signalled when a slot of q frees up
	waiting  atomic.Int32  // connections waiting for room
	done     chan struct{}
	closed   bool
}

// listen binds t in env, with the options o.
func (c *core) listen(env string, t target, o listenOptions) (*listener, error) {
	l := &listener{c: c, env: env, name: t.name, port: t.port, groups: o.groups, done: make(chan struct{}), room: make(chan struct{}, 1)}
	l.q = make(chan *conn, c.lim.AcceptBacklog)
	p := &c.ports
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if l.name != "" {
		if old := p.names[nameKey{env, l.name}]; old != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: service %q is bound on port %d%s", ErrAddrInUse, l.name, old.port, envText(env))
		}
		if n := p.numNames(); n >= c.lim.MaxServices {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: %d services bound", c.lim.limitErr("MaxServices"), n)
		}
		if n := c.recordMax(p.serviceBytes() + serviceLen(env, l.name)); n > c.lim.MaxRecordSize {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: with service %q our record may have %d bytes", c.lim.limitErr("MaxRecordSize"), l.name, n)
		}
	}
	if l.port == 0 {
		if l.port = p.freePort(env); l.port == 0 {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: no free port%s", ErrAddrInUse, envText(env))
		}
	} else if old := p.ports[portKey{env, l.port}]; old != nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: port %d%s", ErrAddrInUse, l.port, envText(env))
	}
	p.ports[portKey{env, l.port}] = l
	if l.name != "" {
		p.names[nameKey{env, l.name}] = l
	}
	p.mu.Unlock()
	if l.name != "" {
		c.announceServices()
	}
	return l, nil
}

func envText(env string) string {
	if env == "" {
		return ""
	}
	return fmt.Sprintf(" in env %q", env)
}

func (t *portTable) numNames() int { return len(t.names) }

// serviceBytes returns the bytes the named listeners take in our record.
func (t *portTable) serviceBytes() int {
	n := 0
	for k := range t.names {
		n += serviceLen(k.env, k.name)
	}
	return n
}

// serviceLen is the size of a service in a record.
func serviceLen(env, name string) int { return 1 + len(env) + 1 + len(name) + 4 }

// freePort returns a free port of env from firstEphemeral up, or 0.
func (t *portTable) freePort(env string) uint32 {
	for range 1 << 16 {
		p := t.next
		t.next++
		if t.next < firstEphemeral {
			t.next = firstEphemeral
		}
		if t.ports[portKey{env, p}] == nil {
			return p
		}
	}
	return 0
}

// services returns the named listeners, as record entries.
func (t *portTable) services() []linkstate.Service {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := make([]linkstate.Service, 0, len(t.names))
	for k, l := range t.names {
		s = append(s, linkstate.Service{Env: k.env, Name: k.name, Port: l.port})
	}
	return s
}

// service returns the port of the service name bound in env, if any.
func (t *portTable) service(env, name string) (uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.names[nameKey{env, name}]; l != nil {
		return l.port, true
	}
	return 0, false
}

// lookup finds the listener a connection header asks for, or says why
// there is none.
func (t *portTable) lookup(h wire.ConnHeader) (*listener, code) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h.Name != "" {
		l := t.names[nameKey{h.Env, h.Name}]
		if l == nil || h.Port != 0 && l.port != h.Port {
			return nil, codeNoService
		}
		return l, codeOK
	}
	if l := t.ports[portKey{h.Env, h.Port}]; l != nil {
		return l, codeOK
	}
	return nil, codeRefused
}

// closeAll closes every listener, for Close.
func (t *portTable) closeAll() {
	t.mu.Lock()
	t.closed = true
	var ls []*listener
	for _, l := range t.ports {
		ls = append(ls, l)
	}
	t.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

// announceServices puts the current named listeners in our record.
func (c *core) announceServices() {
	s := c.ports.services()
	c.routeDo(func(r *linkstate.Router, now time.Time) []linkstate.OutMsg { return r.SetServices(s, now) })
}

// deliver answers a connection header received on st from host from (if
// answer is set: the dialer waits for it; a refusal is always answered),
// and queues the connection for its listener, if the listener admits the
// caller, whose certificate grants g (AllowGroups). t, running since the header
// began, bounds the answer too. When the listener's backlog is full, the
// wait for room is handed to a goroutine of its own, so that the worker
// goes on with the session's other streams; at most MaxPendingStreams
// connections of one session wait so (p counts them), beyond that the
// worker itself waits (up to the same bound), which in the end holds the
// session's new streams in mux's accept backlog.
func (c *core) deliver(st *mux.Stream, from uint64, g *Grants, h wire.ConnHeader, answer bool, t *answerTimer, p *workerPool) {
	l, v := c.ports.lookup(h)
	if l != nil && !l.admits(c.callerGrants(from, g)) {
		c.notAuthorized(l, from)
		l, v = nil, codeNotAuthorized
	}
	if l != nil {
		v = l.enqueue(st, from, answer, t)
		if v == codeFull {
			if !t.stop() {
				return // reset: the header took all the time there was
			}
			if p.waiting.Add(1) <= int32(c.lim.MaxPendingStreams) && c.spawn(func() {
				defer p.waiting.Add(-1)
				l.await(st, from, answer)
			}) {
				return
			}
			p.waiting.Add(-1)
			// As many of this session's dials wait already: this worker
			// waits too, so that, once every worker does, the session's
			// new streams stay in mux's accept backlog and its dialers'
			// opens wait (backpressure on this peer alone), rather than
			// be refused in a burst.
			l.await(st, from, answer)
			return
		}
		if v == codeOK {
			return
		}
	}
	if t.stop() {
		refuseConn(st, v)
	}
}

// enqueue queues the connection if the backlog has room, answering ok
// first when answer is set, within t (the worker's timer; the answer is
// written outside the listener's lock, into a slot reserved for it). It
// returns codeOK once the stream is answered (or reset), codeFull when the
// backlog is full, or the refusal.
func (l *listener) enqueue(st *mux.Stream, from uint64, answer bool, t *answerTimer) code {
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return l.closedCode()
	case len(l.q)+l.reserved >= cap(l.q):
		l.mu.Unlock()
		return codeFull
	case !answer: // nothing to write: queue it at once
		defer l.mu.Unlock()
		if t.stop() {
			l.q <- &conn{Stream: st, laddr: Addr{Host: l.c.id, Port: l.port}, raddr: Addr{Host: from}}
		}
		return codeOK
	}
	l.reserved++
	l.mu.Unlock()
	_, err := st.Write([]byte{uint8(codeOK)})
	if !t.stop() {
		err = ErrClosed // reset by t
	}
	l.answered(st, from, err)
	return codeOK
}

// await waits, in a goroutine of its own, for room in the full backlog
// (backlogWait at most; the dialer waits meanwhile: backpressure, not
// loss), then answers ok (if answer; the write bounded by
// HandshakeTimeout) and queues the connection, or refuses it.
func (l *listener) await(st *mux.Stream, from uint64, answer bool) {
	tm := time.NewTimer(min(backlogWait, l.c.lim.HandshakeTimeout))
	defer tm.Stop()
	l.mu.Lock()
	for len(l.q)+l.reserved >= cap(l.q) && !l.closed {
		l.waiting.Add(1)
		l.mu.Unlock()
		var expired bool
		select {
		case <-l.room:
		case <-l.done:
		case <-tm.C:
			expired = true
		}
		l.waiting.Add(-1)
		if expired {
			refuseConn(st, codeOf(l.c.lim.limitErr("AcceptBacklog")))
			return
		}
		l.mu.Lock()
	}
	if l.closed {
		l.mu.Unlock()
		refuseConn(st, l.closedCode())
		return
	}
	l.reserved++
	if len(l.q)+l.reserved < cap(l.q) {
		l.signalRoom() // room for another waiter too
	}
	l.mu.Unlock()
	var err error
	if answer {
		st.SetWriteDeadline(time.Now().Add(l.c.lim.HandshakeTimeout))
		_, err = st.Write([]byte{uint8(codeOK)})
		st.SetWriteDeadline(time.Time{})
	}
	l.answered(st, from, err)
}

// answered queues a connection whose slot was reserved once its answer is
// written (err nil), or refuses it.
func (l *listener) answered(st *mux.Stream, from uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserved--
	if err != nil || l.closed {
		refuseConn(st, l.closedCode())
		l.signalRoom()
		return
	}
	l.q <- &conn{Stream: st, laddr: Addr{Host: l.c.id, Port: l.port}, raddr: Addr{Host: from}}
}

// backlogWait bounds how long a connection waits for room in a full
// backlog before it is refused (AcceptBacklog).
const backlogWait = 10 * time.Second

// closedCode is the refusal of a connection to a closed listener.
func (l *listener) closedCode() code {
	if l.name != "" {
		return codeNoService
	}
	return codeRefused
}

// signalRoom wakes one connection waiting for room in the backlog, if
// one waits.
func (l *listener) signalRoom() {
	if l.waiting.Load() == 0 {
		return
	}
	select {
	case l.room <- struct{}{}:
	default:
	}
}

// Accept waits for and returns the next connection. After Close it fails
// with an error that is ErrClosed and net.ErrClosed.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.q:
		l.signalRoom()
		return c, nil
	case <-l.done:
	}
	select { // a connection queued before Close is still handed out
	case c := <-l.q:
		return c, nil
	default:
		return nil, &net.OpError{Op: "accept", Net: "mesh", Addr: l.Addr(), Err: ErrClosed}
	}
}

// Close stops listening: the port (and name) are released at once, the
// name is withdrawn from the mesh, and connections not yet accepted are
// reset.
func (l *listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	p := &l.c.ports
	p.mu.Lock()
	if p.ports[portKey{l.env, l.port}] == l {
		delete(p.ports, portKey{l.env, l.port})
	}
	if l.name != "" && p.names[nameKey{l.env, l.name}] == l {
		delete(p.names, nameKey{l.env, l.name})
	}
	p.mu.Unlock()
	for {
		select {
		case c := <-l.q:
			refuseConn(c.Stream, l.closedCode())
			continue
		default:
		}
		break
	}
	if l.name != "" {
		l.c.announceServices()
	}
	return nil
}

// Addr returns the listener's address: this node and the port.
func (l *listener) Addr() net.Addr { return Addr{Host: l.c.id, Port: l.port} }
