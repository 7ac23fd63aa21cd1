// Package tcpsp is SP over TCP, what the tcp:// and tls+tcp:// transports
// share: they differ only in what they put on the TCP connection (TLS or
// nothing) and how they tune it.
package tcpsp

import (
	"context"
	"net"

	"github.com/plexusnet/plexus/transport"
	"github.com/plexusnet/plexus/transport/spstream"
)

// Dial opens an SP pipe with TCP framing over the connection to hostport
// that dial makes (a net.Dialer's or tls.Dialer's DialContext), after tune
// has set its socket options.
func Dial(ctx context.Context, cfg *transport.Config, hostport string,
	dial func(ctx context.Context, network, address string) (net.Conn, error),
	tune func(net.Conn)) (transport.Pipe, error) {
	p, err := spstream.Dial(ctx, cfg, spstream.FramingTCP, func(ctx context.Context) (net.Conn, error) {
		c, err := dial(ctx, "tcp", hostport)
		if err != nil {
			return nil, err
		}
		tune(c)
		return c, nil
	})
	if err != nil {
		return nil, err // not a nil *spstream.Pipe in a non-nil interface
	}
	return p, nil
}

// Listen listens on TCP hostport and serves SP with TCP framing on the
// connections that wrap(the TCP listener) accepts. The listener's address
// is scheme://host:port, with the port chosen when hostport has none.
func Listen(ctx context.Context, cfg *transport.Config, hostport, scheme string,
	wrap func(net.Listener) net.Listener) (transport.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	return spstream.NewListener(wrap(ln), cfg, spstream.FramingTCP, scheme+"://"+ln.Addr().String()), nil
}
