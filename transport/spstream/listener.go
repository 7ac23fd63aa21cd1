package spstream

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// maxHandshakes bounds the connections handshaking at once on one
// listener; more wait in the kernel's accept queue.
const maxHandshakes = 64

// Listener accepts connections from a net.Listener and handshakes them
// concurrently, so one slow peer does not hold the others up.
type Listener struct {
	ln      net.Listener
	cfg     transport.Config
	framing Framing
	addr    string

	ready chan *Pipe
	done  chan struct{}
	fail  chan struct{}
	err   error
	sem   chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// NewListener starts accepting on ln. addr is the URL reported by Addr.
// Connections that fail the handshake are closed and never surface.
func NewListener(ln net.Listener, cfg *transport.Config, f Framing, addr string) *Listener {
	l := &Listener{
		ln:      ln,
		cfg:     *cfg,
		framing: f,
		addr:    addr,
		ready:   make(chan *Pipe),
		done:    make(chan struct{}),
		fail:    make(chan struct{}),
		sem:     make(chan struct{}, maxHandshakes),
	}
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
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			c.Close()
			return
		}
		l.wg.Add(1)
		go l.handshake(c)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (l *Listener) handshake(c net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.sem }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	p, err := Open(ctx, c, &l.cfg, l.framing)
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

// Close implements transport.Listener. It waits for the accept loop and
// the handshakes in progress to end.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
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
