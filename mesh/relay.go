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

// put gives back the count that a circuit from peer took.
func (t *relayTable) put(peer uint64) {
	t.mu.Lock()
	t.n.put(peer)
	t.mu.Unlock()
}

// relayEnded releases what a relayed circuit from peer held: its count and
// Close's hold (see hold).
func (c *core) relayEnded(peer uint64) {
	c.relays.put(peer)
	c.wg.Done()
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
	peer := l.peer
	release := func() { c.relays.put(peer) }
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
	// From here the two streams forward each other inside the two link
	// sessions' own reader and writer: no goroutine and no buffer of ours.
	// Nothing has read from st beyond the setup (readHeader reads exactly
	// its bytes), and what the source sent after it is forwarded first.
	// relayEnded releases the circuit's count and Close's hold once both
	// directions are over, or either stream is reset, or a link ends; that
	// one closure and mux's two streams and splice are all that the relay
	// keeps per circuit.
	if err := mux.Splice(st, out, func(error) { c.relayEnded(peer) }); err != nil {
		out.Reset(mux.CodeCancel) // st was reset under us: the source gave up
		st.Reset(mux.CodeCancel)
		c.relayEnded(peer)
		return
	}
	c.logf(slog.LevelDebug, "mesh: relaying a circuit", "path", formatPath(s.path))
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
