package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/plexusnet/plexus/mux"
)

// relayTable counts the circuits this node relays, by the neighbour they
// came from (MaxCircuitsPerPeer) and in all (MaxRelayedCircuits).
type relayTable struct {
	mu sync.Mutex
	n  counts
}

// relayed returns the number of circuits this node relays now.
func (t *relayTable) relayed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n.total
}

// errNestedCircuit refuses a circuit setup sent inside a circuit.
var errNestedCircuit = fmt.Errorf("%w: circuit setup inside a circuit or to the node itself", ErrProtocol)

// handleSetup handles a circuit setup that the neighbour of link l sent on
// st: it is refused, ends here, or is relayed to the next hop.
func (c *core) handleSetup(l *link, st *mux.Stream, s setupHeader) {
	if err := checkSetup(s, c.id, l.peer, c.lim.MaxHops); err != nil {
		c.refuseSetup(st, s, err, l.peer)
		return
	}
	if s.hop == len(s.path)-1 {
		c.terminate(st, s)
		return
	}
	if !c.opts.relay {
		c.refuseSetup(st, s, fmt.Errorf("%w: %s was asked to relay but runs WithRelay(false)", ErrNotRelay, FormatID(c.id)), l.peer)
		return
	}
	next := s.path[s.hop+1]
	nl := c.links.get(next)
	if nl == nil {
		c.refuseSetup(st, s, fmt.Errorf("%w: the next hop %s is not a live neighbour of %s", ErrNoRoute, FormatID(next), FormatID(c.id)), l.peer)
		return
	}
	c.relays.mu.Lock()
	err := c.relays.n.take(l.peer, c.lim.MaxCircuitsPerPeer, c.lim.MaxRelayedCircuits, "MaxCircuitsPerPeer", "MaxRelayedCircuits", c.lim)
	c.relays.mu.Unlock()
	if err != nil {
		c.refuseSetup(st, s, err, l.peer)
		return
	}
	release := func() {
		c.relays.mu.Lock()
		c.relays.n.put(l.peer)
		c.relays.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.HandshakeTimeout)
	out, err := nl.sess.OpenStream(ctx)
	cancel()
	if err != nil {
		release()
		if errors.Is(err, mux.ErrTooManyStreams) {
			err = fmt.Errorf("%w: the link to %s is full: %v", c.lim.limitErr("MaxRelayedCircuits"), FormatID(next), err)
		} else {
			err = fmt.Errorf("%w: opening a stream to the next hop %s: %v", ErrNoRoute, FormatID(next), err)
		}
		c.refuseSetup(st, s, err, l.peer)
		return
	}
	fwd := s
	fwd.hop++
	if _, err := out.Write(appendSetupHeader(nil, fwd)); err != nil {
		out.Reset(mux.CodeCancel)
		release()
		c.refuseSetup(st, s, fmt.Errorf("%w: next hop %s: %v", ErrNoRoute, FormatID(next), err), l.peer)
		return
	}
	if !c.hold() {
		out.Reset(mux.CodeCancel)
		st.Reset(mux.CodeCancel)
		release()
		return
	}
	c.logf(slog.LevelDebug, "mesh: relaying a circuit", "path", formatPath(s.path))
	splice(st, out, func(error) {
		release()
		c.wg.Done()
	})
}

// refuseSetup answers a circuit setup with a refusal (the code of err and
// this node's index in the path) and closes the stream.
func (c *core) refuseSetup(st *mux.Stream, s setupHeader, err error, from uint64) {
	c.logf(slog.LevelInfo, "mesh: circuit refused", "from", FormatID(from), "path", formatPath(s.path), "err", err)
	st.Write([]byte{uint8(codeOf(err)), uint8(s.hop)})
	st.Close()
}

// hold counts one more task that Close waits for (c.wg.Done ends it); it
// reports false once the node is closing.
func (c *core) hold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}
