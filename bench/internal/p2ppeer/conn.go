package p2ppeer

import (
	"context"
	"net"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// Protocol is the protocol of the benchmark's service streams.
const Protocol protocol.ID = "/meshbench/svc/1.0.0"

// Conn is a libp2p stream as a net.Conn. Read, Write, the deadlines,
// CloseWrite and CloseRead are the stream's; Close is the stream's Close,
// which closes both halves: the peer reads EOF after what was written, as
// after a mux stream's Close (Reset is the abortive close).
type Conn struct {
	network.Stream
}

// LocalAddr returns this end's address: its connection's multiaddr and
// peer ID.
func (c Conn) LocalAddr() net.Addr {
	return Addr{Peer: c.Stream.Conn().LocalPeer(), Multiaddr: c.Stream.Conn().LocalMultiaddr()}
}

// RemoteAddr returns the other end's address.
func (c Conn) RemoteAddr() net.Addr {
	return Addr{Peer: c.Stream.Conn().RemotePeer(), Multiaddr: c.Stream.Conn().RemoteMultiaddr()}
}

// Addr is a libp2p address as a net.Addr.
type Addr struct {
	Peer      peer.ID
	Multiaddr ma.Multiaddr // nil if unknown
}

// Network returns "libp2p".
func (Addr) Network() string { return "libp2p" }

// String returns the multiaddr with the peer ID, /…/p2p/<id>.
func (a Addr) String() string {
	if a.Multiaddr == nil {
		return "/p2p/" + a.Peer.String()
	}
	return a.Multiaddr.String() + "/p2p/" + a.Peer.String()
}

// Dial opens a stream of Protocol from h to p, connecting first if h has no
// connection to p (with the addresses h's peerstore holds for p).
func Dial(ctx context.Context, h host.Host, p peer.ID) (net.Conn, error) {
	s, err := h.NewStream(ctx, p, Protocol)
	if err != nil {
		return nil, err
	}
	return Conn{s}, nil
}

// StreamListener accepts the streams of one protocol on a host as a
// net.Listener. Streams wait in their handler's goroutine until accepted;
// those that arrive after Close are reset.
type StreamListener struct {
	h     host.Host
	proto protocol.ID
	ch    chan network.Stream
	done  chan struct{}
	once  sync.Once
}

// Listen sets h's handler for proto and returns the listener of its streams.
func Listen(h host.Host, proto protocol.ID) *StreamListener {
	l := &StreamListener{h: h, proto: proto, ch: make(chan network.Stream), done: make(chan struct{})}
	h.SetStreamHandler(proto, l.handle)
	return l
}

func (l *StreamListener) handle(s network.Stream) {
	select {
	case l.ch <- s:
	case <-l.done:
		s.Reset()
	}
}

// Accept returns the next stream, or net.ErrClosed after Close.
func (l *StreamListener) Accept() (net.Conn, error) {
	select {
	case s := <-l.ch:
		return Conn{s}, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close removes the handler; Accept returns net.ErrClosed from then on.
func (l *StreamListener) Close() error {
	l.once.Do(func() {
		l.h.RemoveStreamHandler(l.proto)
		close(l.done)
	})
	return nil
}

// Addr returns the host's first listen address, or only its peer ID.
func (l *StreamListener) Addr() net.Addr {
	a := Addr{Peer: l.h.ID()}
	if addrs := l.h.Addrs(); len(addrs) > 0 {
		a.Multiaddr = addrs[0]
	}
	return a
}
