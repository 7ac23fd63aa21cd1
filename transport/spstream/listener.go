package spstream

import (
	"container/list"
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// Limits of the handshakes a listener runs at once. A connection is
// pending from its accept until its SP handshake ends; meanwhile it holds
// a goroutine blocked in a read (a few KiB) and a file descriptor, for at
// most the handshake timeout. The limits bound that memory without ever
// making a newcomer wait: when one is reached, the oldest pending
// handshake it counts is dropped (its connection closed) to admit the new
// connection. So silent or slow connections only ever cut each other
// short; a peer that handshakes at once always gets in, unless more than
// the limit of connections arrive while it does.
const (
	// MaxPendingHandshakes bounds the pending handshakes of one listener.
	MaxPendingHandshakes = 1024
	// MaxPendingPerSource bounds the pending handshakes of one listener
	// that come from one source address: one IPv4 address, or one IPv6
	// /64 prefix (what one host usually has). Beyond it the oldest from
	// that source is dropped, so a single source cannot push the
	// handshakes of others out. Connections that have no IP address
	// (Unix domain sockets) count only against MaxPendingHandshakes.
	MaxPendingPerSource = 64
)

// Listener accepts connections from a net.Listener and handshakes them
// concurrently, so one slow peer does not hold the others up.
type Listener struct {
	ln      net.Listener
	cfg     transport.Config
	framing Framing
	addr    string

	ctx    context.Context // done when Close starts: handshakes end
	cancel context.CancelFunc
	ready  chan *Pipe
	done   chan struct{}
	fail   chan struct{}
	err    error
	wg     sync.WaitGroup
	once   sync.Once

	// The pending handshakes, oldest first, in all and per source.
	mu           sync.Mutex
	all          list.List // of *pending
	bySource     map[string]*list.List
	maxPending   int
	maxPerSource int
}

// pending is a connection whose handshake is running.
type pending struct {
	conn   net.Conn
	source string        // "" when it has no per-source limit
	inAll  *list.Element // nil once it left the lists (done or dropped)
	inSrc  *list.Element
}

// NewListener starts accepting on ln. addr is the URL reported by Addr.
// Every accepted connection is handshaken at once, concurrently with the
// others, within cfg's handshake timeout and the limits
// MaxPendingHandshakes and MaxPendingPerSource. Connections that fail the
// handshake, or are dropped by those limits, are closed and never surface.
func NewListener(ln net.Listener, cfg *transport.Config, f Framing, addr string) *Listener {
	return newListener(ln, cfg, f, addr, MaxPendingHandshakes, MaxPendingPerSource)
}

func newListener(ln net.Listener, cfg *transport.Config, f Framing, addr string, maxPending, maxPerSource int) *Listener {
	l := &Listener{
		ln:           ln,
		cfg:          *cfg,
		framing:      f,
		addr:         addr,
		ready:        make(chan *Pipe),
		done:         make(chan struct{}),
		fail:         make(chan struct{}),
		bySource:     make(map[string]*list.List),
		maxPending:   maxPending,
		maxPerSource: maxPerSource,
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if isTemporary(err) {
				// Out of file descriptors and the like: wait and retry.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
					continue
				case <-l.done:
					t.Stop()
					return
				}
			}
			l.err = err
			close(l.fail)
			return
		}
		delay = 0
		p := l.admit(c)
		l.wg.Add(1)
		go l.handshake(p)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// sourceOf returns the key that groups connections from one source for
// MaxPendingPerSource: the IPv4 address, or the /64 prefix of an IPv6
// address. It is "" for addresses that are not IP.
func sourceOf(a net.Addr) string {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	default:
		return ""
	}
	if ip4 := ip.To4(); ip4 != nil {
		return string(ip4)
	}
	if len(ip) == net.IPv6len {
		return string(ip.Mask(net.CIDRMask(64, 128)))
	}
	return ""
}

// admit records c as pending, first dropping the oldest pending handshake
// of its source, and then the oldest of all, when a limit is reached.
func (l *Listener) admit(c net.Conn) *pending {
	p := &pending{conn: c, source: sourceOf(c.RemoteAddr())}
	var drop []*pending
	l.mu.Lock()
	if p.source != "" {
		if sl := l.bySource[p.source]; sl != nil && sl.Len() >= l.maxPerSource {
			drop = append(drop, l.unlink(sl.Front().Value.(*pending)))
		}
	}
	if l.all.Len() >= l.maxPending {
		drop = append(drop, l.unlink(l.all.Front().Value.(*pending)))
	}
	p.inAll = l.all.PushBack(p)
	if p.source != "" {
		sl := l.bySource[p.source]
		if sl == nil {
			sl = list.New()
			l.bySource[p.source] = sl
		}
		p.inSrc = sl.PushBack(p)
	}
	l.mu.Unlock()
	for _, d := range drop {
		d.conn.Close() // its handshake fails at once
	}
	return p
}

// unlink takes p out of the pending lists. Called with l.mu held.
func (l *Listener) unlink(p *pending) *pending {
	l.all.Remove(p.inAll)
	p.inAll = nil
	if p.inSrc != nil {
		sl := l.bySource[p.source]
		sl.Remove(p.inSrc)
		if sl.Len() == 0 {
			delete(l.bySource, p.source)
		}
		p.inSrc = nil
	}
	return p
}

// finish takes p out of the pending lists once its handshake ended; it
// reports false if p was dropped meanwhile.
func (l *Listener) finish(p *pending) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.inAll == nil {
		return false
	}
	l.unlink(p)
	return true
}

func (l *Listener) handshake(pd *pending) {
	defer l.wg.Done()
	p, err := Open(l.ctx, pd.conn, &l.cfg, l.framing)
	if !l.finish(pd) {
		// Dropped by a limit while it handshook: its connection is closed.
		if err == nil {
			p.Close()
		}
		return
	}
	if err != nil {
		return
	}
	select {
	case l.ready <- p:
	case <-l.done:
		p.Close()
	}
}

// Accept implements transport.Listener.
func (l *Listener) Accept() (transport.Pipe, error) {
	select {
	case p := <-l.ready:
		return p, nil
	case <-l.done:
		return nil, transport.ErrClosed
	case <-l.fail:
		return nil, l.err
	}
}

// Close implements transport.Listener. It ends the handshakes in progress
// and waits for them and for the accept loop.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		l.cancel()
		err = l.ln.Close()
		l.wg.Wait()
	})
	return err
}

// Addr implements transport.Listener.
func (l *Listener) Addr() string { return l.addr }

// Dial connects with dial and handshakes the connection.
func Dial(ctx context.Context, cfg *transport.Config, f Framing, dial func(context.Context) (net.Conn, error)) (*Pipe, error) {
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	return Open(ctx, c, cfg, f)
}
