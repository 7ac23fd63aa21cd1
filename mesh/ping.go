package mesh

import (
	"context"
	"fmt"
	"time"
)

// Ping and Path: what a node tells a person who asks how far a host is
// (plexus ping and plexus trace). Both read what a connection to the host
// would use: the session that reaches it, and the path a new circuit
// would take.

// Ping measures the round trip to host over the session that reaches it,
// the one a Dial to host would open its stream on: the link's mux session
// for a neighbour, the inner (end-to-end) session of the circuit for a far
// host, set up first if there is none, as a Dial does, and the in-process
// session for this node's own id (a round trip of a few microseconds: it
// measures the node's own work, not a network). It is a mux ping
// (mux.Session.Ping), answered by the far host's mux layer, so it measures
// the path and both hosts' readers, not an application.
//
// A ping counts as use of a circuit: one that only carries pings is not
// closed as idle. A session that ends during the ping is replaced once.
//
// Errors: ErrNoRoute when no route reaches host or the session broke
// (ErrHopLimit when the route is longer than the hop limit; a refusal of
// the circuit's setup as a Dial gets it, e.g. ErrLimit or
// ErrNotAuthorized), ctx's error when it ends first, ErrClosed once the
// node is closed.
func (n *Node) Ping(ctx context.Context, host uint64) (time.Duration, error) {
	c := n.c
	for try := 0; ; try++ {
		if c.isClosed() {
			return 0, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		to, err := c.sessionTo(ctx, host)
		if err != nil {
			return 0, err
		}
		if to.opens != nil {
			to.opens.Add(1) // see closeWhenIdle
		}
		rtt, err := to.sess.Ping(ctx)
		switch {
		case err == nil:
			return rtt, nil
		case ctx.Err() != nil:
			return 0, ctx.Err()
		case c.isClosed():
			return 0, ErrClosed
		case try == 0:
			continue // the session ended under the ping (a circuit closed, a link replaced)
		}
		return 0, fmt.Errorf("%w: %s: %v", ErrNoRoute, FormatID(host), err)
	}
}

// Path returns the relays a new circuit to host would take, in order from
// this node, neither this node nor host among them: the shortest path of
// the routing table within the hop limit, avoiding the relays that failed
// recent circuit setups when another path exists (as a setup does). It is
// empty for a neighbour (reached over the link) and for this node's own
// id, and nil when no route reaches host within the hop limit.
//
// A circuit already up to host may take another path, set up before the
// routes changed; Node.Circuits lists the paths of those.
func (n *Node) Path(host uint64) []uint64 {
	c := n.c
	if host == c.id || c.links.get(host) != nil {
		return []uint64{}
	}
	p := c.nextPath(host, nil, time.Now())
	if len(p) < 2 {
		return nil
	}
	return append([]uint64{}, p[1:len(p)-1]...)
}
