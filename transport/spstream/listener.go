package spstream

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/plexusnet/plexus/internal/pending"
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

	pending pending.Set // the handshakes running, in all and per source
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
		ln:      ln,
		cfg:     *cfg,
		framing: f,
		addr:    addr,
		ready:   make(chan *Pipe),
		done:    make(chan struct{}),
		fail:    make(chan struct{}),
	}
	l.pending.MaxAll, l.pending.MaxPerKey = maxPending, maxPerSource
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
		p := l.pending.Admit(pending.SourceKey(c.RemoteAddr()), func() { c.Close() }) // its handshake fails at once
		l.wg.Add(1)
		go l.handshake(c, p)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (l *Listener) handshake(c net.Conn, pd *pending.Entry) {
	defer l.wg.Done()
	p, err := Open(l.ctx, c, &l.cfg, l.framing)
	if !l.pending.Done(pd) {
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
