// Package mesh is the mesh:// transport: the scalability protocols over
// the streams of a plexus mesh (package github.com/plexusnet/plexus/mesh),
// so every protocol runs between nodes that reach each other through any
// number of relays, by service name or by host and port.
//
// The transport needs a node, so it is not registered by scheme: give it
// to each socket that uses it.
//
//	import (
//		"github.com/plexusnet/plexus/mesh"
//		meshtp "github.com/plexusnet/plexus/transport/mesh"
//	)
//
//	node, _ := mesh.New(mesh.WithTLS(cfg)) // or mesh.WithInsecure()
//	s, _ := rep.New(socket.WithTransport(meshtp.New(node)))
//	s.Listen("mesh://echo")           // a service name (a free port)
//	s.Listen("mesh://echo:5555")      // a name and a port
//	s.Listen("mesh://:5555")          // a port
//	c.Dial("mesh://echo")             // the nearest instance of echo
//	c.Dial("mesh://0123456789abcdef:5555") // a port of a host (16 hex digits)
//
// The node's env applies: a transport made with node.WithEnv("staging")
// listens and dials in that env. On each mesh connection the wire is SP
// over a byte stream, as on tcp:// (the 8-byte SP header, then
// length-prefixed messages; package spstream).
package mesh

import (
	"context"
	"fmt"
	"net"
	"net/url"

	overlay "github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/transport"
	"github.com/plexusnet/plexus/transport/spstream"
)

// Scheme is the URL scheme of the transport.
const Scheme = "mesh"

// Transport implements transport.Transport for mesh:// over one node.
type Transport struct {
	node *overlay.Node
}

// New returns the mesh:// transport over node (or an env view of it).
func New(node *overlay.Node) transport.Transport { return &Transport{node: node} }

// Scheme implements transport.Transport.
func (t *Transport) Scheme() string { return Scheme }

// Dial implements transport.Transport.
func (t *Transport) Dial(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Pipe, error) {
	addr, err := address(u)
	if err != nil {
		return nil, err
	}
	p, err := spstream.Dial(ctx, cfg, spstream.FramingTCP, func(ctx context.Context) (net.Conn, error) {
		return t.node.DialContext(ctx, "", addr)
	})
	if err != nil {
		return nil, err // not a nil *spstream.Pipe in a non-nil interface
	}
	return p, nil
}

// Listen implements transport.Transport. The listener's address is
// mesh://<host>:<port>, the port chosen when the URL has none.
func (t *Transport) Listen(_ context.Context, u *url.URL, cfg *transport.Config) (transport.Listener, error) {
	addr, err := address(u)
	if err != nil {
		return nil, err
	}
	ln, err := t.node.Listen("", addr)
	if err != nil {
		return nil, err
	}
	return spstream.NewListener(ln, cfg, spstream.FramingTCP, Scheme+"://"+ln.Addr().String()), nil
}

// address returns the mesh address of a mesh:// URL: what follows
// "mesh://", with nothing after it.
func address(u *url.URL) (string, error) {
	if u.Host == "" {
		return "", fmt.Errorf("%w: %s: missing service or host:port", transport.ErrBadURL, u.Redacted())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("%w: %s: only mesh://service[:port] or mesh://host:port is allowed", transport.ErrBadURL, u.Redacted())
	}
	return u.Host, nil
}
