// Package inproc is the inproc://name transport: pipes between sockets of
// the same process, through memory. Names live in a Transport; the one
// this package registers for inproc:// when imported (directly or through
// transport/all) is shared by the whole process, and New makes a private
// namespace for a socket given it with socket.WithTransport.
//
// Protocols are checked as on the wire: a dialer whose protocol does not
// pair with the listener's is refused with transport.ErrProtocolMismatch.
package inproc

import (
	"context"
	"fmt"
	"net/url"
	"sync"

	"github.com/plexusnet/plexus/internal/mempipe"
	"github.com/plexusnet/plexus/transport"
)

func init() { transport.Register(New()) }

// acceptBacklog is how many dialed pipes may wait for Accept.
const acceptBacklog = 128

// Transport is a namespace of inproc listeners.
type Transport struct {
	mu    sync.Mutex
	names map[string]*listener
}

// New returns an empty namespace.
func New() *Transport { return &Transport{names: make(map[string]*listener)} }

// Scheme implements transport.Transport.
func (*Transport) Scheme() string { return "inproc" }

// Name returns the listener name of an inproc URL: everything after
// "inproc://".
func Name(u *url.URL) (string, error) {
	n := u.Host + u.Path
	if u.Opaque != "" {
		n = u.Opaque
	}
	if u.RawQuery != "" {
		n += "?" + u.RawQuery
	}
	if n == "" {
		return "", fmt.Errorf("%w: inproc:// needs a name, e.g. inproc://jobs", transport.ErrBadURL)
	}
	return n, nil
}

// Dial implements transport.Transport.
func (t *Transport) Dial(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Pipe, error) {
	name, err := Name(u)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	l := t.names[name]
	t.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("%w: inproc://%s", transport.ErrConnRefused, name)
	}
	// Each side checks the other's protocol, as the SP handshake does.
	if l.cfg.Self.ID != cfg.Peer.ID {
		return nil, &transport.MismatchError{Want: cfg.Peer, Got: l.cfg.Self.ID}
	}
	if cfg.Self.ID != l.cfg.Peer.ID {
		return nil, fmt.Errorf("inproc://%s refused us: %w", name, &transport.MismatchError{Want: l.cfg.Peer, Got: cfg.Self.ID})
	}
	local, remote := NewPair(cfg, &l.cfg)
	select {
	case l.backlog <- remote:
		return local, nil
	case <-l.done:
		local.Close()
		return nil, fmt.Errorf("%w: inproc://%s", transport.ErrConnRefused, name)
	case <-ctx.Done():
		local.Close()
		return nil, ctx.Err()
	}
}

// Listen implements transport.Transport.
func (t *Transport) Listen(_ context.Context, u *url.URL, cfg *transport.Config) (transport.Listener, error) {
	name, err := Name(u)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.names[name]; dup {
		return nil, fmt.Errorf("%w: inproc://%s", transport.ErrAddrInUse, name)
	}
	l := &listener{
		t:       t,
		name:    name,
		cfg:     *cfg,
		backlog: make(chan *Pipe, acceptBacklog),
		done:    make(chan struct{}),
	}
	t.names[name] = l
	return l, nil
}

type listener struct {
	t       *Transport
	name    string
	cfg     transport.Config
	backlog chan *Pipe
	done    chan struct{}
	once    sync.Once
}

func (l *listener) Accept() (transport.Pipe, error) {
	select {
	case p := <-l.backlog:
		return p, nil
	case <-l.done:
		return nil, transport.ErrClosed
	}
}

func (l *listener) Close() error {
	l.once.Do(func() {
		l.t.mu.Lock()
		if l.t.names[l.name] == l {
			delete(l.t.names, l.name)
		}
		l.t.mu.Unlock()
		close(l.done)
		for {
			select {
			case p := <-l.backlog:
				p.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *listener) Addr() string { return "inproc://" + l.name }

// Pipe is one end of an in-memory pipe.
type Pipe = mempipe.Pipe

// NewPair returns the two ends of an in-memory pipe between a socket
// configured with a and one configured with b. It does not check that the
// protocols pair; Transport.Dial does.
func NewPair(a, b *transport.Config) (*Pipe, *Pipe) { return mempipe.NewPair(a, b) }
