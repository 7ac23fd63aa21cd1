package p2ppeer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

// Path is one way from a client host to a server host.
type Path struct {
	Security Security
	Relay    bool // through a circuit-relay v2 relay (else a direct connection)
}

// Net is a running path: Dial opens a stream of Protocol on the client's
// connection to the server (a relayed connection on a relayed path), and
// Listener accepts them at the server.
type Net struct {
	Dial     func(ctx context.Context) (net.Conn, error)
	Listener net.Listener

	path    Path
	server  host.Host
	client  host.Host
	target  peer.AddrInfo // how a client reaches the server: its TCP address, or its circuit address
	relay   peer.AddrInfo // the relay's TCP address, on a relayed path
	closers []func()
}

// setupTimeout bounds the set-up of a path or of a fresh client.
const setupTimeout = 20 * time.Second

// Start builds the path: a server host with a listener of Protocol and, on
// a relayed path, a relay host and the server's reservation on it; then a
// client host connected to the server (through the relay on a relayed
// path).
func Start(p Path) (_ *Net, err error) {
	n := &Net{path: p}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if !p.Relay {
		if n.server, err = n.host(Listener); err != nil {
			return nil, err
		}
		n.target = peer.AddrInfo{ID: n.server.ID(), Addrs: n.server.Addrs()}
	} else {
		if err := n.startRelay(ctx); err != nil {
			return nil, err
		}
	}
	ln := Listen(n.server, Protocol)
	n.closers = append(n.closers, func() { ln.Close() })
	n.Listener = ln
	c, err := n.newClient(ctx)
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { c.Close() })
	n.client = c
	if err := c.Connect(ctx, n.target); err != nil {
		return nil, fmt.Errorf("connecting the client to the server: %w", err)
	}
	for _, cn := range c.Network().ConnsToPeer(n.server.ID()) {
		if cn.Stat().Limited {
			return nil, errors.New("the relayed connection is limited: the relay set a data or duration limit")
		}
	}
	n.Dial = func(ctx context.Context) (net.Conn, error) { return Dial(ctx, c, n.server.ID()) }
	return n, nil
}

// host starts a host of the path, closed with it.
func (n *Net) host(role Role) (host.Host, error) {
	h, err := NewHost(n.path.Security, role)
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { h.Close() })
	return h, nil
}

// startRelay starts the relay and the server, which connects to the relay
// and reserves a slot on it.
func (n *Net) startRelay(ctx context.Context) error {
	rh, err := n.host(RelayService)
	if err != nil {
		return err
	}
	r, err := NewRelay(rh)
	if err != nil {
		return err
	}
	n.closers = append(n.closers, func() { r.Close() })
	n.relay = peer.AddrInfo{ID: rh.ID(), Addrs: rh.Addrs()}
	if n.server, err = n.host(RelayClient); err != nil {
		return err
	}
	if err := n.server.Connect(ctx, n.relay); err != nil {
		return fmt.Errorf("connecting the server to the relay: %w", err)
	}
	if _, err := client.Reserve(ctx, n.server, n.relay); err != nil {
		return fmt.Errorf("reserving a slot on the relay: %w", err)
	}
	n.target, err = CircuitInfo(n.relay, n.server.ID())
	return err
}

// CircuitInfo returns how to reach dest through the relay ri: dest's ID
// with the relay's addresses followed by /p2p/<relay>/p2p-circuit.
func CircuitInfo(ri peer.AddrInfo, dest peer.ID) (peer.AddrInfo, error) {
	suffix, err := ma.NewMultiaddr("/p2p/" + ri.ID.String() + "/p2p-circuit")
	if err != nil {
		return peer.AddrInfo{}, err
	}
	ai := peer.AddrInfo{ID: dest}
	for _, a := range ri.Addrs {
		ai.Addrs = append(ai.Addrs, a.Encapsulate(suffix))
	}
	return ai, nil
}

// newClient starts a client host of the path that knows how to reach the
// server and, on a relayed path, is connected to the relay.
func (n *Net) newClient(ctx context.Context) (host.Host, error) {
	role := Dialer
	if n.path.Relay {
		role = RelayClient
	}
	c, err := NewHost(n.path.Security, role)
	if err != nil {
		return nil, err
	}
	if n.path.Relay {
		if err := c.Connect(ctx, n.relay); err != nil {
			c.Close()
			return nil, fmt.Errorf("connecting a client to the relay: %w", err)
		}
	}
	c.Peerstore().AddAddrs(n.target.ID, n.target.Addrs, peerstore.PermanentAddrTTL)
	return c, nil
}

// FreshClient starts another client host for a first dial, not connected to
// the server (on a relayed path, connected to the relay): dial connects to
// the server (through the relay: the circuit, and its end-to-end security
// and yamux), waits for identify as every new connection's first stream
// does, and opens a stream. stop closes the host.
func (n *Net) FreshClient(ctx context.Context) (dial func(context.Context) (net.Conn, error), stop func(), err error) {
	c, err := n.newClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	dial = func(ctx context.Context) (net.Conn, error) { return Dial(ctx, c, n.target.ID) }
	return dial, func() { c.Close() }, nil
}

// Close ends everything the path started, in the reverse order.
func (n *Net) Close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
}
