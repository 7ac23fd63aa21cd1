package mesh

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/internal/pending"
	"github.com/plexusnet/plexus/internal/timerref"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// relayTable counts the circuits this node relays, by the neighbour they
// came from (MaxCircuitsPerPeer) and in all (MaxRelayedCircuits), by the
// pair of neighbours they join (a fair share of the next hop, see
// shareOf), and, where this node is the first relay, by their source, the
// neighbour itself (MaxCircuitsPerSource); it holds the circuit setups
// being handled, by the neighbour they came from (MaxPendingCircuits); and
// it lists the circuits relayed, for Circuits.
type relayTable struct {
	mu      sync.Mutex
	n       counts
	sources counts            // circuits whose source is the neighbour they came from
	pairs   map[[2]uint64]int // circuits by the neighbours they join: {prev, next}
	users   map[uint64]int    // by next hop: the neighbours with circuits to it (pairs with a count)
	setups  pending.Set       // keyed by peerKey
	live    *relayed          // the circuits taken, a doubly linked list
}

// minShare is the fewest circuits a neighbour may always have relayed to
// one next hop, however many neighbours share it.
const minShare = 4

// shareOf returns the fair share of one neighbour in the circuits this
// node relays to one next hop, when users neighbours (that one included)
// have circuits to it: the next hop's allowance (what it lets this node
// relay to it in all) divided among them and one more, so that a
// neighbour that comes later always finds room, and never below
// minShare. Whatever sources a neighbour claims (the source field is
// written by the neighbour), it cannot take more than its share, so that
// the circuits of the others fit in what is left.
func shareOf(allowance, users int) int {
	return max(minShare, allowance/(users+1))
}

// allowanceOf returns what a next hop allows this node to relay to it in
// all, as this node's own limits say (a node cannot know another's): its
// MaxCircuitsPerPeer when it relays the circuit on, its MaxCircuits when
// it is the destination.
func allowanceOf(lim *Limits, toDest bool) int {
	if toDest {
		return lim.MaxCircuits
	}
	return lim.MaxCircuitsPerPeer
}

// relayed is a circuit this node relays (or is setting up to relay): what
// the limits and Circuits need of it, and no more, since a relay may hold
// thousands. The splice of its two streams keeps its state here too, and
// tells the record when it ends (SpliceEnded): one allocation a circuit.
type relayed struct {
	mux.Splicing
	c          *core
	src, dst   uint64      // the ends of its path
	prev, next uint64      // the neighbours towards src and dst
	since      int64       // unix nanoseconds
	st         *mux.Stream // the stream from prev, spliced to next once the setup went on

	older, newer *relayed // in relayTable.live
}

// SpliceEnded releases what the circuit held once its splice is over.
func (rc *relayed) SpliceEnded(error) { rc.c.relayEnded(rc) }

// first reports whether this node is the circuit's first relay: its
// source is the neighbour it came from (a path has no repeated node).
func (rc *relayed) first() bool { return rc.prev == rc.src }

// info describes rc.
func (rc *relayed) info() CircuitInfo {
	return CircuitInfo{
		Role:   CircuitRelayed,
		Source: rc.src,
		Dest:   rc.dst,
		Prev:   rc.prev,
		Next:   rc.next,
		Since:  time.Unix(0, rc.since),
		Bytes:  rc.Bytes(),
	}
}

// list describes the circuits relayed now.
func (t *relayTable) list() []CircuitInfo {
	t.mu.Lock()
	rcs := make([]*relayed, 0, t.n.total)
	for rc := t.live; rc != nil; rc = rc.older {
		rcs = append(rcs, rc)
	}
	t.mu.Unlock()
	out := make([]CircuitInfo, len(rcs))
	for i, rc := range rcs { // not under our lock
		out[i] = rc.info()
	}
	return out
}

// relayed returns the number of circuits this node relays now.
func (t *relayTable) relayed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n.total
}

// take counts rc, a circuit from rc.prev to rc.next, against the
// neighbour's share of what the next hop allows (allowance, see shareOf),
// and against its source's allowance when rc.prev is its source (first),
// and lists it. It refuses a circuit whose path the revocation list held
// names, checked under the table's lock, so that a list installed
// meanwhile finds the circuit listed (see installRevocation).
func (t *relayTable) take(rc *relayed, lim *Limits, allowance int, revoked func() error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := revoked(); err != nil {
		return err
	}
	peer := rc.prev
	pair := [2]uint64{rc.prev, rc.next}
	held, users := t.pairs[pair], t.users[rc.next]
	if held == 0 {
		users++
	}
	if share := shareOf(allowance, users); held >= share {
		return fmt.Errorf("%w: %s has its fair share of the circuits to %s", &LimitError{Limit: "MaxCircuitsPerPeer", Max: share}, FormatID(rc.prev), FormatID(rc.next))
	}
	if err := t.n.take(peer, lim.MaxCircuitsPerPeer, lim.MaxRelayedCircuits, "MaxCircuitsPerPeer", "MaxRelayedCircuits", lim); err != nil {
		return err
	}
	if rc.first() {
		if err := t.sources.take(peer, lim.MaxCircuitsPerSource, lim.MaxRelayedCircuits, "MaxCircuitsPerSource", "MaxRelayedCircuits", lim); err != nil {
			t.n.put(peer)
			return err
		}
	}
	if t.pairs == nil {
		t.pairs, t.users = make(map[[2]uint64]int), make(map[uint64]int)
	}
	if held == 0 {
		t.users[rc.next]++
	}
	t.pairs[pair]++
	rc.older = t.live
	if t.live != nil {
		t.live.newer = rc
	}
	t.live = rc
	return nil
}

// put gives back what take took.
func (t *relayTable) put(rc *relayed) {
	t.mu.Lock()
	t.n.put(rc.prev)
	if rc.first() {
		t.sources.put(rc.prev)
	}
	pair := [2]uint64{rc.prev, rc.next}
	if t.pairs[pair] <= 1 {
		delete(t.pairs, pair)
		if t.users[rc.next] <= 1 {
			delete(t.users, rc.next)
		} else {
			t.users[rc.next]--
		}
	} else {
		t.pairs[pair]--
	}
	if rc.older != nil {
		rc.older.newer = rc.newer
	}
	if rc.newer != nil {
		rc.newer.older = rc.older
	} else {
		t.live = rc.older
	}
	rc.older, rc.newer = nil, nil
	t.mu.Unlock()
}

// peerKey is the key of a neighbour in a pending.Set.
func peerKey(peer uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], peer)
	return string(b[:])
}

// relayEnded releases what a relayed circuit held: its counts and Close's
// hold (see hold).
func (c *core) relayEnded(rc *relayed) {
	c.relays.put(rc)
	c.wg.Done()
}

// errNestedCircuit refuses a circuit setup sent inside a circuit.
var errNestedCircuit = fmt.Errorf("%w: circuit setup inside a circuit or to the node itself", ErrProtocol)

// handleSetup handles a circuit setup that the neighbour of link l sent
// on st: it is refused, ends here, or is relayed to the next hop. herr is
// what reading the header found wrong, if anything. The checks come in
// order, and a refusal is decided here, in the worker that read the
// header: a flood of setups that are refused costs no goroutine. What may
// wait long (a stream to the next hop and room to write on it, the
// end-to-end TLS handshake) runs in a goroutine of its own (see pend).
func (c *core) handleSetup(l *link, st *mux.Stream, s wire.SetupHeader, herr error) {
	if herr != nil {
		c.refuseSetup(st, s, herr, l.peer)
		return
	}
	if err := wire.CheckSetup(s, c.id, l.peer, c.lim.MaxHops); err != nil {
		c.refuseSetup(st, s, err, l.peer)
		return
	}
	if err := c.revokedPath(s.Path); err != nil {
		c.refuseSetup(st, s, err, l.peer)
		return
	}
	if s.Hop == len(s.Path)-1 {
		c.pend(l, st, s, func() { c.terminate(st, s) })
		return
	}
	if !c.opts.relay {
		c.refuseSetup(st, s, fmt.Errorf("%w: %s was asked to relay but runs WithRelay(false)", ErrNotRelay, FormatID(c.id)), l.peer)
		return
	}
	if c.hooks.hostileRelay != nil && c.hooks.hostileRelay(st, s) {
		return
	}
	next := s.Path[s.Hop+1]
	nl := c.links.get(next)
	if nl == nil {
		c.refuseSetup(st, s, fmt.Errorf("%w: the next hop %s is not a live neighbour of %s", ErrNoRoute, FormatID(next), FormatID(c.id)), l.peer)
		return
	}
	// Each neighbour may use only its fair share of what the next hop
	// allows this node, whatever sources it claims; and where this node is
	// the first relay, the source is the neighbour, authenticated by the
	// link: it may use only part of the allowance that the next relays
	// give this node, so that one source cannot take all of it for the
	// sources behind this node.
	rc := &relayed{c: c, src: s.Path[0], dst: s.Path[len(s.Path)-1], prev: l.peer, next: next, since: time.Now().UnixNano(), st: st}
	allowance := allowanceOf(c.lim, s.Hop+1 == len(s.Path)-1)
	if err := c.relays.take(rc, c.lim, allowance, func() error { return c.revokedPath(s.Path) }); err != nil {
		c.refuseSetup(st, s, err, l.peer)
		return
	}
	if !c.pend(l, st, s, func() { c.forward(st, s, nl, rc) }) {
		c.relays.put(rc)
	}
}

// pend runs f, the rest of a setup that the neighbour of link l sent on
// st, in a goroutine of its own, so that the worker that read its header
// goes on with the link's other streams. At most MaxPendingCircuits
// setups of one neighbour are pending at once: admitting one more drops
// the oldest of those that came to the neighbour from the node that has
// the most pending, whose stream is reset with the refusal of that limit.
// So a source that churns setups, behind a relay that many share, drops
// its own, never those of the others behind that relay, whatever sources
// it claims (see pending.Set). It reports false, and resets st, once the node is
// closing.
func (c *core) pend(l *link, st *mux.Stream, s wire.SetupHeader, f func()) bool {
	// The sub-key is the node before the neighbour on the path: the
	// neighbour checked that the setup came from it, so that only the
	// neighbour could forge it (the source field, path[0], anyone behind
	// it could: a churner naming a new source each time would be a new
	// sub-key each time). Where the neighbour is the source, it is itself.
	from := s.Path[max(0, s.Hop-2)]
	p := c.relays.setups.AdmitSub(peerKey(l.peer), peerKey(from), func() { c.refuseSetupNow(st, c.lim.limitErr("MaxPendingCircuits")) })
	if !c.spawn(func() {
		defer c.relays.setups.Done(p)
		f()
	}) {
		c.relays.setups.Done(p)
		st.Reset(mux.CodeCancel)
		return false
	}
	return true
}

// forward relays a setup that the neighbour of link l sent on st, counted
// as rc, to the next hop's link nl: it opens a stream there, sends the
// setup on, and splices the two streams. Every open and write is bounded
// by HandshakeTimeout.
func (c *core) forward(st *mux.Stream, s wire.SetupHeader, nl *link, rc *relayed) {
	next, from := rc.next, rc.prev
	release := func() { c.relays.put(rc) }
	// One timer bounds the open and the write of the setup: it cancels the
	// open, then resets the stream opened (a write deadline would leave
	// its state on a stream that lives as long as the circuit).
	ctx, cancel := context.WithCancel(c.ctx)
	var opened atomic.Pointer[mux.Stream]
	tm, ref := timerref.Func(c.lim.HandshakeTimeout, func() {
		cancel()
		if out := opened.Load(); out != nil {
			out.Reset(mux.CodeCancel)
		}
	})
	out, err := nl.sess.OpenStream(ctx)
	werr := err
	if err == nil {
		opened.Store(out)
		if ctx.Err() != nil { // the timer fired before out was stored
			out.Reset(mux.CodeCancel)
		}
		fwd := s
		fwd.Hop++
		_, werr = out.Write(wire.AppendSetupHeader(make([]byte, 0, 3+8*len(fwd.Path)), fwd))
	}
	tm.Stop()
	ref.Clear()
	cancel()
	if err != nil {
		release()
		if errors.Is(err, mux.ErrTooManyStreams) {
			err = fmt.Errorf("%w: the link to %s is full: %v", c.lim.limitErr("MaxRelayedCircuits"), FormatID(next), err)
		} else {
			err = fmt.Errorf("%w: opening a stream to the next hop %s: %v", ErrNoRoute, FormatID(next), err)
		}
		c.refuseSetup(st, s, err, from)
		return
	}
	if werr != nil {
		out.Reset(mux.CodeCancel)
		release()
		c.refuseSetup(st, s, fmt.Errorf("%w: next hop %s: %v", ErrNoRoute, FormatID(next), werr), from)
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
	// Nothing has read from st beyond the setup (wire.ReadHeader reads
	// exactly its bytes), and what the source sent after it is forwarded
	// first.
	// rc.SpliceEnded releases the circuit's count and Close's hold once
	// both directions are over, or either stream is reset, or a link ends;
	// rc, which holds the splice's state, and mux's two streams are all
	// that the relay keeps per circuit.
	if err := rc.Join(st, out, rc); err != nil {
		// A stream was reset under us: the source gave up, or the setup
		// was dropped, or the next hop refused it already. A refusal's
		// code goes on to the source, as the splice would have passed it,
		// so that the source learns why (a limit, not a broken setup).
		code := mux.CodeCancel
		out.SetReadDeadline(time.Now())
		var se *mux.StreamError
		if _, rerr := out.Read(make([]byte, 1)); errors.As(rerr, &se) && se.Remote {
			code = se.Code
		}
		out.Reset(mux.CodeCancel)
		st.Reset(code)
		c.relayEnded(rc)
		return
	}
	c.stats.relayedTotal.Add(1)
	if c.log != nil {
		c.logf(slog.LevelDebug, "mesh: relaying a circuit", "path", wire.FormatPath(s.Path))
	}
}

// refuseSetup refuses a circuit setup, with the code of err and this
// node's index in the path: a reset whose code carries both (see
// resetCode), so that the stream and everything it holds are released at
// once, whatever the sender does next (a refusal written and closed would
// wait for the sender's FIN, up to mux's StreamCloseTimeout).
func (c *core) refuseSetup(st *mux.Stream, s wire.SetupHeader, err error, from uint64) {
	c.countRefusal(err)
	st.Reset(resetCode(codeOf(err), s.Hop))
	if c.log != nil {
		c.logf(slog.LevelInfo, "mesh: circuit refused", "from", c.who(from), "path", wire.FormatPath(s.Path), "err", err)
	}
}

// refuseSetupNow refuses a circuit setup whose hop is not known (dropped
// from the pending ones, or sent inside a circuit): a reset whose code
// carries the refusal. It never blocks; the source learns the rule, not
// which node refused.
func (c *core) refuseSetupNow(st *mux.Stream, err error) {
	c.countRefusal(err)
	st.Reset(resetCode(codeOf(err), 0))
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
