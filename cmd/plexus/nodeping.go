package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/mesh"
)

// The node's answers to the ping and trace API (status.Pinger), for
// plexus ping and plexus trace: the node resolves the target as a person
// typed it (mesh.Node.Resolve) and pings through the mesh (mesh.Node.Ping).

// Resolve resolves target with mesh.Node.Resolve.
func (p *nodeProvider) Resolve(target string) (status.Hop, error) {
	id, err := p.node.Resolve(target)
	switch {
	case errors.Is(err, mesh.ErrNoSuchNode):
		if isShortID(target) {
			err = fmt.Errorf("%w (a node id is 16 hex digits: the tables show its first 8, 'plexus status --json' all of them)", err)
		}
		return status.Hop{}, status.TargetError(status.ErrNoSuchTarget, err)
	case errors.Is(err, mesh.ErrAmbiguousName):
		return status.Hop{}, status.TargetError(status.ErrAmbiguousTarget, err)
	case errors.Is(err, mesh.ErrBadAddress):
		return status.Hop{}, status.TargetError(status.ErrBadTarget, err)
	case err != nil:
		return status.Hop{}, err
	}
	return p.hop(id), nil
}

// hop names node id.
func (p *nodeProvider) hop(id uint64) status.Hop {
	name, verified := p.node.NodeName(id)
	return status.Hop{ID: mesh.FormatID(id), Name: name, NameVerified: verified}
}

// Path returns the relays to the node of id: those of the circuit that
// ends here and reaches it, when there is one, else those of
// mesh.Node.Path.
func (p *nodeProvider) Path(s string) ([]status.Hop, int) {
	id, err := mesh.ParseID(s)
	if err != nil {
		return nil, -1
	}
	n := p.node
	relays := n.Path(id)
	switch {
	case id == n.ID():
		return []status.Hop{}, 0
	case relays != nil && len(relays) == 0:
		return []status.Hop{}, 1 // a neighbour, over the link
	}
	if r := p.circuitRelays(id); r != nil {
		relays = r
	}
	if relays == nil {
		return nil, -1
	}
	out := make([]status.Hop, len(relays))
	for i, r := range relays {
		out[i] = p.hop(r)
	}
	return out, len(relays) + 1
}

// circuitRelays returns the relays, from this node, of the circuit that
// connections to host take: the newest one this node set up, else the
// newest one host set up; nil when there is none.
func (p *nodeProvider) circuitRelays(host uint64) []uint64 {
	self := p.node.ID()
	var best *mesh.CircuitInfo
	for _, c := range p.node.Circuits() {
		var ok bool
		switch c.Role {
		case mesh.CircuitSource:
			ok = c.Source == self && c.Dest == host
		case mesh.CircuitDest:
			ok = c.Dest == self && c.Source == host
		}
		if !ok || len(c.Path) < 2 {
			continue
		}
		if best == nil || c.Role == mesh.CircuitSource && best.Role == mesh.CircuitDest ||
			c.Role == best.Role && c.Since.After(best.Since) {
			best = &c
		}
	}
	if best == nil {
		return nil
	}
	relays := slices.Clone(best.Path[1 : len(best.Path)-1])
	if best.Role == mesh.CircuitDest {
		slices.Reverse(relays)
	}
	return relays
}

// Ping pings the node of id with mesh.Node.Ping.
func (p *nodeProvider) Ping(ctx context.Context, s string) (time.Duration, error) {
	id, err := mesh.ParseID(s)
	if err != nil {
		return 0, err
	}
	return p.node.Ping(ctx, id)
}

var _ status.Pinger = (*nodeProvider)(nil)
