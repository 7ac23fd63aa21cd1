package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexusnet/plexus/bench/internal/p2ppeer"
	"github.com/plexusnet/plexus/bench/internal/report"
)

// relayChild is the value of -relay-child: "" (not the relay process),
// "mesh" (the flag alone, a plexus relay) or "libp2p" (a go-libp2p relay).
type relayChild string

func (r *relayChild) String() string { return string(*r) }

// Set takes "mesh" (or "true", the flag alone), "libp2p", or "false".
func (r *relayChild) Set(s string) error {
	switch s {
	case "true", "mesh":
		*r = "mesh"
	case "libp2p":
		*r = "libp2p"
	case "false":
		*r = ""
	default:
		return fmt.Errorf("want mesh or libp2p, not %q", s)
	}
	return nil
}

// IsBoolFlag lets -relay-child stand alone, for a plexus relay.
func (r *relayChild) IsBoolFlag() bool { return true }

// echoProtocol is the protocol of the warm-up bursts of the idle workload.
const echoProtocol protocol.ID = "/meshbench/echo/1.0.0"

// runIdleLibp2p is runIdle at a go-libp2p relay: a circuit-relay v2 relay
// (p2ppeer.NewRelay: no data or duration limit) in a child process
// (-relay-child=libp2p), and here c.ends client hosts and c.ends server
// hosts, all TCP + TLS + yamux, linked to it; every server reserves a slot.
// Every client opens one stream to every server through the relay, which
// sets up a relayed connection (a circuit: one stream on the client's link
// and one on the server's at the relay, carrying the end-to-end TLS +
// yamux connection); the stream ends, the connection stays idle. As in
// runIdle, a first round (one circuit per client, echoing 1 MiB both ways)
// warms every link up, and the result is the growth of the relay's heap
// and stacks over the other circuits, per circuit.
func runIdleLibp2p(c config) report.Result {
	addr, ask, stop, err := startRelayProcess("libp2p")
	if err != nil {
		return failed(err)
	}
	defer stop()
	relay, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return failed(fmt.Errorf("the relay's address %q: %w", addr, err))
	}

	var hosts []host.Host
	defer func() {
		for _, h := range hosts {
			h.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	join := func() (host.Host, error) {
		h, err := p2ppeer.NewHost(p2ppeer.TLS, p2ppeer.RelayClient)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
		return h, h.Connect(ctx, *relay)
	}
	k := c.ends
	clients, servers := make([]host.Host, k), make([]host.Host, k)
	for i := range k {
		sv, err := join()
		if err != nil {
			return failed(err)
		}
		servers[i] = sv
		sv.SetStreamHandler(p2ppeer.Protocol, func(s network.Stream) {
			s.Write([]byte{1})
			s.Close()
		})
		sv.SetStreamHandler(echoProtocol, func(s network.Stream) {
			io.Copy(s, s)
			s.Close()
		})
		if _, err := client.Reserve(ctx, sv, *relay); err != nil {
			return failed(fmt.Errorf("reserving a slot on the relay: %w", err))
		}
		if clients[i], err = join(); err != nil {
			return failed(err)
		}
	}
	for _, cl := range clients {
		for _, sv := range servers {
			ai, err := p2ppeer.CircuitInfo(*relay, sv.ID())
			if err != nil {
				return failed(err)
			}
			cl.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
		}
	}
	dial := func(cl, sv host.Host) error {
		st, err := cl.NewStream(ctx, sv.ID(), p2ppeer.Protocol)
		if err == nil {
			_, err = io.ReadFull(st, make([]byte, 1))
			st.Close()
		}
		return err
	}
	burst := func(cl, sv host.Host) error {
		st, err := cl.NewStream(ctx, sv.ID(), echoProtocol)
		if err != nil {
			return err
		}
		defer st.Close()
		go func() {
			st.Write(make([]byte, 1<<20))
			st.CloseWrite()
		}()
		n, err := io.Copy(io.Discard, st)
		if err == nil && n != 1<<20 {
			err = fmt.Errorf("echoed %d bytes of %d", n, 1<<20)
		}
		return err
	}
	per, gor, h0, h1, err := growth(clients, servers, burst, dial, ask)
	if err != nil {
		return failed(err)
	}
	for _, cl := range clients { // the circuits are still up: the measurement counted them
		for _, sv := range servers {
			if len(cl.Network().ConnsToPeer(sv.ID())) == 0 {
				return failed(fmt.Errorf("a relayed connection closed before the relay was measured"))
			}
		}
	}
	return report.Result{Value: per, Note: fmt.Sprintf("%.2f goroutines/circuit; relay HeapInuse+StackInuse %.2f → %.2f MiB over %d circuits (%d links, TCP + TLS + yamux)",
		gor, float64(h0)/(1<<20), float64(h1)/(1<<20), k*k-k, 2*k)}
}

// runLibp2pRelayChild is the relay process of runIdleLibp2p: a host that
// accepts TCP + TLS + yamux links on 127.0.0.1 and runs a circuit-relay v2
// relay (p2ppeer.NewRelay). It prints its address (with /p2p/<id>), then
// answers "mem" as runRelayChild does, until its stdin closes.
func runLibp2pRelayChild() int {
	h, err := p2ppeer.NewHost(p2ppeer.TLS, p2ppeer.RelayService)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshbench relay:", err)
		return 1
	}
	defer h.Close()
	r, err := p2ppeer.NewRelay(h)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshbench relay:", err)
		return 1
	}
	defer r.Close()
	id, err := ma.NewMultiaddr("/p2p/" + h.ID().String())
	if err != nil || len(h.Addrs()) == 0 {
		fmt.Fprintln(os.Stderr, "meshbench relay: no address", err)
		return 1
	}
	fmt.Println(h.Addrs()[0].Encapsulate(id).String())
	answerMemory()
	return 0
}
