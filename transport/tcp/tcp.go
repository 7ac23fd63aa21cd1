// Package tcp is the tcp://host:port transport: SP over TCP, wire
// compatible with NNG and nanomsg. Importing the package registers the
// scheme (transport/all imports it with the others).
package tcp

import (
	"context"
	"net"
	"net/url"

	"github.com/plexusnet/plexus/transport"
	"github.com/plexusnet/plexus/transport/internal/tcpsp"
)

func init() { transport.Register(Transport{}) }

// Transport implements transport.Transport for tcp://.
type Transport struct{}

// Scheme implements transport.Transport.
func (Transport) Scheme() string { return "tcp" }

// Dial implements transport.Transport.
func (Transport) Dial(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Pipe, error) {
	hp, err := transport.HostPort(u)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return tcpsp.Dial(ctx, cfg, hp, d.DialContext, tune)
}

// Listen implements transport.Transport.
func (Transport) Listen(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Listener, error) {
	hp, err := transport.HostPort(u)
	if err != nil {
		return nil, err
	}
	return tcpsp.Listen(ctx, cfg, hp, "tcp", func(ln net.Listener) net.Listener { return tuningListener{ln} })
}

// tune sets the socket options SP wants: no Nagle delay (the socket layer
// batches writes itself) and keep-alive.
func tune(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
	}
}

type tuningListener struct{ net.Listener }

func (l tuningListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		tune(c)
	}
	return c, err
}
