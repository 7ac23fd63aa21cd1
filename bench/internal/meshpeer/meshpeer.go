// Package meshpeer sets up the paths the workloads of meshbench run over,
// all in this process over loopback TCP: a plain mux session (the
// reference), a stream to a mesh neighbour, and a stream through one mesh
// relay, each plain and with TLS (the mux session over one crypto/tls
// connection, the mesh with WithTLS); and go-libp2p's (package p2ppeer)
// direct stream, with TLS and with Noise, and its stream through a
// circuit-relay v2 relay. Every path offers the same two
// ends: Dial opens a connection to the service, Listener accepts them.
package meshpeer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/plexusnet/plexus/bench/internal/limit"
	"github.com/plexusnet/plexus/bench/internal/p2ppeer"
	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/mux"
)

// Service is the name the server listens on, and clients dial.
const Service = "svc"

// Path is one way from a client to a server.
type Path struct {
	Name  string
	Mesh  bool // false: the plain mux reference
	Relay bool // through one relay (else to a neighbour)
	TLS   bool // links (and circuits) secured with WithTLS; mux: one crypto/tls connection (limit.TLSPair); libp2p: TLS 1.3

	Libp2p bool // a go-libp2p path (package p2ppeer) instead of plexus
	Noise  bool // libp2p: Noise instead of TLS

	// Resumption (issue 18), on paths run only when -peers names them
	// (Extra): Resume turns WithResume on at every node (resumable links
	// of Join and Serve, and resumable circuits); Attach links the nodes
	// with Attach over loopback TCP instead (links that are never
	// resumable), so that with Resume only the circuit is.
	Resume bool
	Attach bool
	Extra  bool
}

// All returns every path in table order, the reference first.
func All() []Path {
	return []Path{
		{Name: "mux"},
		{Name: "mux+TLS", TLS: true},
		{Name: "neighbour", Mesh: true},
		{Name: "neighbour+TLS", Mesh: true, TLS: true},
		{Name: "relay", Mesh: true, Relay: true},
		{Name: "relay+TLS", Mesh: true, Relay: true, TLS: true},
		{Name: "libp2p", Libp2p: true, TLS: true},
		{Name: "libp2p+noise", Libp2p: true, Noise: true},
		{Name: "libp2p-relay", Libp2p: true, Relay: true, TLS: true},
		{Name: "neighbour+resume", Mesh: true, Resume: true, Extra: true},
		{Name: "neighbour+TLS+resume", Mesh: true, TLS: true, Resume: true, Extra: true},
		{Name: "relay+resume", Mesh: true, Relay: true, Resume: true, Extra: true},
		{Name: "relay+TLS+resume", Mesh: true, Relay: true, TLS: true, Resume: true, Extra: true},
		{Name: "relay+attach", Mesh: true, Relay: true, Attach: true, Extra: true},
		{Name: "relay+TLS+attach", Mesh: true, Relay: true, TLS: true, Attach: true, Extra: true},
		{Name: "relay+attach+rc", Mesh: true, Relay: true, Attach: true, Resume: true, Extra: true},
		{Name: "relay+TLS+attach+rc", Mesh: true, Relay: true, TLS: true, Attach: true, Resume: true, Extra: true},
	}
}

// Net is a running path: Dial reaches Listener.
type Net struct {
	Dial     func(ctx context.Context) (net.Conn, error)
	Listener net.Listener

	path    Path
	ca      *CA
	hub     string       // the address of the node a new client joins: the relay, or the server
	hubNode *mesh.Node   // the node a new client attaches to (Path.Attach)
	client  *mesh.Node   // nil for mux
	nodes   []*mesh.Node // all of them, to close
	closers []func()
	p2p     *p2ppeer.Net // a libp2p path
}

// Start builds the path: for the mesh, nodes linked over loopback TCP, a
// listener on Service, and a client that sees it.
func (p Path) Start() (*Net, error) {
	n := &Net{path: p}
	var err error
	if p.Libp2p {
		err = n.startLibp2p()
	} else if !p.Mesh {
		err = n.startMux()
	} else {
		err = n.startMesh()
	}
	if err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Close ends everything the path started.
func (n *Net) Close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
}

// tcpPair returns the two ends of a new loopback TCP connection.
func tcpPair() (net.Conn, net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	c2 := <-acc
	if err != nil || c2 == nil {
		if c1 != nil {
			c1.Close()
		}
		if c2 != nil {
			c2.Close()
		}
		return nil, nil, fmt.Errorf("loopback TCP: %v", err)
	}
	return c1, c2, nil
}

func (n *Net) startMux() error {
	c1, c2, err := tcpPair()
	if err != nil {
		return err
	}
	if n.path.TLS {
		tc, ts, err := limit.TLSPair(c1, c2)
		if err != nil {
			return err
		}
		c1, c2 = tc, ts
	}
	server, err := mux.Server(c2, nil)
	if err != nil {
		c1.Close()
		c2.Close()
		return err
	}
	client, err := mux.Client(c1, nil)
	if err != nil {
		server.Close()
		c1.Close()
		return err
	}
	n.closers = append(n.closers, func() { client.Close(); server.Close() })
	n.Dial = func(ctx context.Context) (net.Conn, error) { return client.OpenStream(ctx) }
	n.Listener = server
	return nil
}

func (n *Net) startLibp2p() error {
	sec := p2ppeer.TLS
	if n.path.Noise {
		sec = p2ppeer.Noise
	}
	p, err := p2ppeer.Start(p2ppeer.Path{Security: sec, Relay: n.path.Relay})
	if err != nil {
		return err
	}
	n.p2p, n.Dial, n.Listener = p, p.Dial, p.Listener
	n.closers = append(n.closers, p.Close)
	return nil
}

// options returns the options of a new node of the path.
func (n *Net) options() ([]mesh.Option, error) {
	opts := []mesh.Option{mesh.WithResume(n.path.Resume)}
	if !n.path.TLS {
		return append(opts, mesh.WithInsecure()), nil
	}
	cfg, err := n.ca.NodeConfig()
	if err != nil {
		return nil, err
	}
	return append(opts, mesh.WithTLS(cfg)), nil
}

// attach links a and b with Attach over a loopback TCP connection.
func (n *Net) attach(a, b *mesh.Node) error {
	x, y, err := tcpPair()
	if err != nil {
		return err
	}
	go a.Attach(x)
	go b.Attach(y)
	n.closers = append(n.closers, func() { x.Close(); y.Close() })
	return nil
}

// node starts a node of the path, closed with it.
func (n *Net) node() (*mesh.Node, error) {
	opts, err := n.options()
	if err != nil {
		return nil, err
	}
	nd, err := mesh.New(opts...)
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { nd.Close() })
	return nd, nil
}

// serve makes nd accept links on a fresh loopback port and returns it.
func serve(nd *mesh.Node) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	if err := nd.Serve(ln); err != nil {
		ln.Close()
		return "", err
	}
	return ln.Addr().String(), nil
}

func (n *Net) startMesh() error {
	if n.path.TLS {
		var err error
		if n.ca, err = NewCA(); err != nil {
			return err
		}
	}
	server, err := n.node()
	if err != nil {
		return err
	}
	hub := server
	if n.path.Relay {
		if hub, err = n.node(); err != nil {
			return err
		}
	}
	if n.path.Attach {
		n.hubNode = hub
		if err := n.attach(server, hub); err != nil {
			return err
		}
	} else if n.hub, err = serve(hub); err != nil {
		return err
	}
	if n.path.Relay && !n.path.Attach {
		if err := server.Join("tcp", n.hub); err != nil {
			return err
		}
	}
	ln, err := server.Listen("", Service)
	if err != nil {
		return err
	}
	n.closers = append(n.closers, func() { ln.Close() })
	n.Listener = ln
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial, client, err := n.newClient(ctx)
	if err != nil {
		return err
	}
	n.client, n.Dial = client, dial
	return nil
}

// newClient starts a node that joins the path where its client sits (the
// relay, or the server's node) and waits until it sees Service at the
// path's distance; it returns how to dial the service from it.
func (n *Net) newClient(ctx context.Context) (func(context.Context) (net.Conn, error), *mesh.Node, error) {
	c, err := n.node()
	if err != nil {
		return nil, nil, err
	}
	if n.path.Attach {
		err = n.attach(c, n.hubNode)
	} else {
		err = c.Join("tcp", n.hub)
	}
	if err != nil {
		return nil, nil, err
	}
	hops := 1
	if n.path.Relay {
		hops = 2
	}
	for {
		for _, s := range c.Services() {
			if s.Name == Service && s.Hops == hops {
				return func(ctx context.Context) (net.Conn, error) { return c.DialContext(ctx, "", Service) }, c, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, errors.New("the client node did not see the service within 20 s")
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// FreshClient starts another client node, as the first one, for a first
// dial; stop closes it.
func (n *Net) FreshClient(ctx context.Context) (dial func(context.Context) (net.Conn, error), stop func(), err error) {
	if n.p2p != nil {
		return n.p2p.FreshClient(ctx)
	}
	if !n.path.Mesh {
		return nil, nil, errors.New("no first dial on a plain mux session")
	}
	dial, c, err := n.newClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	return dial, func() { c.Close() }, nil
}
