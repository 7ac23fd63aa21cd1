// Package p2ppeer sets up go-libp2p (v0.52.0) hosts in this process, over
// loopback TCP only, as the peer that meshbench puts beside the plexus
// mesh: a stream between two neighbouring hosts, secured with TLS 1.3 or
// with Noise, and a stream through a circuit-relay v2 relay.
//
// Every host has exactly one transport, TCP, one security protocol (TLS
// 1.3, or Noise for the Noise path) and one muxer, yamux (libp2p's
// /yamux/1.0.0 with libp2p's default yamux configuration). Hosts listen on
// 127.0.0.1 only, and only where they must (the server of a direct path,
// the relay); clients and the server behind the relay listen on nothing.
// No QUIC, WebSocket, WebTransport or WebRTC transport, no mDNS, no NAT port
// mapping, no hole punching, no AutoNAT service, no autorelay. The rest of
// libp2p's defaults stay (identify, ping, the peerstore, the AutoNAT
// client, which finds no public address to probe).
//
// What is set away from libp2p's defaults, and why:
//
//   - The resource manager is network.NullResourceManager on every host.
//     The default one scales its limits with the machine's memory and caps
//     connections per IP, streams per peer and the relay service's streams
//     and memory; every host here is on 127.0.0.1, and the idle workload
//     puts hundreds of circuits on one relay. A benchmark measures what the
//     stack does, not where its admission limits stop it.
//   - The connection manager is connmgr.NullConnMgr: the default one
//     (160/192 connections) trims connections in the background; no
//     connection of a run may be closed under it.
//   - Metrics are disabled (libp2p.DisableMetrics): the default registers
//     collectors in Prometheus's process-wide registry and counts on the hot
//     paths; neither plexus nor the other peers pay for metrics here.
//   - The relay (relayv2.New, RelayResources) has no per-circuit limit:
//     Limit is nil (what relayv2.WithInfiniteLimits sets), where the default
//     resets a relayed connection after 128 KiB in either direction or 2
//     minutes, which would end a bulk run in a fraction of a millisecond.
//     With no limit the relay sends none, so the relayed connections are not
//     "limited" and streams open on them without
//     network.WithAllowLimitedConn (Start checks this). Reservations: 1<<16
//     in all, and 1<<16 per IP and per ASN (defaults 128, 8 and 32: every
//     host here is on 127.0.0.1, and the idle workload reserves a slot for
//     every server); circuits per peer 1<<16 (default 16: the idle workload
//     gives every client and every server one circuit to each of the other
//     side's hosts). The reservation TTL stays at its default, one hour,
//     longer than any run, as no autorelay refreshes it. The relay's copy
//     buffer stays at its default, 2 KiB per direction and circuit: it is
//     not a limit, and it is what a libp2p relay uses.
//
// A relayed connection is itself upgraded end to end (security + yamux,
// inside the relay's hop stream), as plexus's relay+TLS runs end-to-end
// TLS inside a circuit; each link to the relay is TCP + TLS + yamux too.
package p2ppeer

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// Security is the security protocol of a host's connections.
type Security int

const (
	// TLS is libp2p's TLS 1.3 handshake (/tls/1.0.0).
	TLS Security = iota
	// Noise is libp2p's Noise XX handshake (/noise).
	Noise
)

// String returns the protocol's name.
func (s Security) String() string {
	if s == Noise {
		return "noise"
	}
	return "tls"
}

// Role says what a host does on a path, which sets what it listens on and
// whether it has the circuit-relay client transport.
type Role int

const (
	// Listener accepts TCP connections on a fresh 127.0.0.1 port, and has no
	// relay transport: the server of a direct path.
	Listener Role = iota
	// Dialer listens on nothing and has no relay transport: the client of a
	// direct path.
	Dialer
	// RelayService accepts TCP connections on a fresh 127.0.0.1 port, and
	// has no relay client transport: the host a relayv2.Relay runs on.
	RelayService
	// RelayClient listens on nothing and has the circuit-relay client
	// transport (it dials, and accepts, relayed connections): the client
	// and the server of a relayed path.
	RelayClient
)

// NewHost starts a host with the given security and role, configured as the
// package comment says.
func NewHost(sec Security, role Role) (host.Host, error) {
	opts := []libp2p.Option{
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(&connmgr.NullConnMgr{}),
		libp2p.DisableMetrics(),
	}
	switch sec {
	case TLS:
		opts = append(opts, libp2p.Security(tls.ID, tls.New))
	case Noise:
		opts = append(opts, libp2p.Security(noise.ID, noise.New))
	default:
		return nil, fmt.Errorf("p2ppeer: unknown security %d", int(sec))
	}
	switch role {
	case Listener, RelayService:
		opts = append(opts, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	default:
		opts = append(opts, libp2p.NoListenAddrs)
	}
	if role == RelayClient {
		opts = append(opts, libp2p.EnableRelay())
	} else {
		opts = append(opts, libp2p.DisableRelay())
	}
	return libp2p.New(opts...)
}

// RelayResources returns the relay's resources: no per-circuit data or
// duration limit, and reservation and circuit counts far above what a
// benchmark uses (see the package comment).
func RelayResources() relayv2.Resources {
	rc := relayv2.DefaultResources()
	rc.Limit = nil // as relayv2.WithInfiniteLimits: no data or duration limit per circuit
	rc.MaxReservations = 1 << 16
	rc.MaxReservationsPerIP = 1 << 16
	rc.MaxReservationsPerASN = 1 << 16
	rc.MaxCircuits = 1 << 16
	return rc
}

// NewRelay runs a circuit-relay v2 relay on h with RelayResources.
func NewRelay(h host.Host) (*relayv2.Relay, error) {
	return relayv2.New(h, relayv2.WithResources(RelayResources()), relayv2.WithInfiniteLimits())
}
