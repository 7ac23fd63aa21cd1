// Package tlstcp is the tls+tcp://host:port transport: SP over TLS over
// TCP, wire compatible with NNG's tls+tcp. The TLS configuration comes from
// the socket (socket.WithTLSConfig); without one, Dial and Listen fail with
// transport.ErrNoTLSConfig: there is no insecure fallback. Importing the
// package registers the scheme (transport/all imports it with the others).
package tlstcp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"

	"github.com/plexusnet/plexus/transport"
	"github.com/plexusnet/plexus/transport/internal/tcpsp"
)

func init() { transport.Register(Transport{}) }

// Transport implements transport.Transport for tls+tcp://.
type Transport struct{}

// Scheme implements transport.Transport.
func (Transport) Scheme() string { return "tls+tcp" }

// Dial implements transport.Transport. The server name defaults to the
// URL's host when the config names none.
func (Transport) Dial(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Pipe, error) {
	hp, err := transport.HostPort(u)
	if err != nil {
		return nil, err
	}
	if cfg.TLS == nil {
		return nil, fmt.Errorf("%w: dial %s (use socket.WithTLSConfig)", transport.ErrNoTLSConfig, u.Redacted())
	}
	tc := cfg.TLS.Clone()
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	d := tls.Dialer{Config: tc}
	return tcpsp.Dial(ctx, cfg, hp, d.DialContext, func(c net.Conn) {
		if t, ok := c.(*tls.Conn).NetConn().(*net.TCPConn); ok {
			_ = t.SetNoDelay(true)
		}
	})
}

// Listen implements transport.Transport. The config must hold a
// certificate (Certificates or GetCertificate).
func (Transport) Listen(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Listener, error) {
	hp, err := transport.HostPort(u)
	if err != nil {
		return nil, err
	}
	if cfg.TLS == nil {
		return nil, fmt.Errorf("%w: listen %s (use socket.WithTLSConfig)", transport.ErrNoTLSConfig, u.Redacted())
	}
	if len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil && cfg.TLS.GetConfigForClient == nil {
		return nil, fmt.Errorf("%w: listen %s: the TLS config has no certificate", transport.ErrNoTLSConfig, u.Redacted())
	}
	return tcpsp.Listen(ctx, cfg, hp, "tls+tcp", func(ln net.Listener) net.Listener {
		return tls.NewListener(ln, cfg.TLS.Clone())
	})
}
