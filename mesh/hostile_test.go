package mesh

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// TestRecordFloodBoundedTable: a neighbour sends records of thousands of
// made-up nodes; the routing table never holds more than MaxRecords, and
// real records still get in.
func TestRecordFloodBoundedTable(t *testing.T) {
	const max = 100
	x := newNode(t, WithLimits(Limits{MaxRecords: max, RecordRate: 1 << 20}))
	flooder, honest := newNode(t), newNode(t)
	linked(t, x, flooder)
	linked(t, x, honest)
	l := flooder.c.links.get(x.ID())
	exp := time.Now().Add(time.Minute).UnixMilli()
	const n = 5000
	for i := range uint64(n) {
		raw, _ := encodeRecord(&record{id: 1<<40 + i, seq: 1, expiry: exp}, nil)
		l.out.put(1<<40+i, raw)
		if i%500 == 0 {
			x.c.rt.mu.Lock()
			size := len(x.c.rt.r.db)
			x.c.rt.mu.Unlock()
			if size > max {
				t.Fatalf("routing table of %d records, limit %d", size, max)
			}
		}
	}
	eventually(t, "the flood to be read", func() bool { return heldSeq(x, 1<<40+n-1) != 0 })
	x.c.rt.mu.Lock()
	size := len(x.c.rt.r.db)
	x.c.rt.mu.Unlock()
	if size > max {
		t.Fatalf("routing table of %d records, limit %d", size, max)
	}
	ln, _ := honest.Listen("", "real")
	defer ln.Close()
	eventually(t, "the honest neighbour's service", func() bool { return len(x.Services()) == 1 })
}

// TestRecordFloodBoundedBytes: a neighbour floods records as large as
// MaxRecordSize allows, of nodes nobody can reach; the table's bytes stay
// within MaxRecordBytes (they were bounded only by MaxRecords ×
// MaxRecordSize, 512 MiB), and an honest neighbour's record still gets in.
func TestRecordFloodBoundedBytes(t *testing.T) {
	const budget = 1 << 20
	x := newNode(t, WithLimits(Limits{MaxRecordBytes: budget, RecordRate: 1 << 20}))
	flooder, honest := newNode(t), newNode(t)
	linked(t, x, flooder)
	linked(t, x, honest)
	l := flooder.c.links.get(x.ID())
	exp := time.Now().Add(time.Minute).UnixMilli()
	neigh := make([]uint64, 7000) // 56,000 bytes of neighbours
	for i := range neigh {
		neigh[i] = 1<<50 + uint64(i)
	}
	const n = 100
	for i := range uint64(n) {
		raw, _ := encodeRecord(&record{id: 1<<40 + i, seq: 1, expiry: exp, neighbours: neigh}, nil)
		l.out.put(1<<40+i, raw)
	}
	eventually(t, "the flood to be read", func() bool { return heldSeq(x, 1<<40+n-1) != 0 })
	x.c.rt.mu.Lock()
	held := 0
	for _, e := range x.c.rt.r.db {
		held += len(e.raw)
	}
	x.c.rt.mu.Unlock()
	if held > budget {
		t.Fatalf("the routing table holds %d bytes of records, limit %d", held, budget)
	}
	ln, _ := honest.Listen("", "real")
	defer ln.Close()
	eventually(t, "the honest neighbour's service", func() bool { return len(x.Services()) == 1 })
}

// TestCircuitOpenFlood: a neighbour opens circuits through a relay as fast
// as it can. The relay refuses beyond its limits, with the limit's name,
// holds a bounded number of goroutines, and still relays for others.
func TestCircuitOpenFlood(t *testing.T) {
	lim := Limits{MaxCircuitsPerPeer: 20, MaxCircuitsPerSource: 20, MaxRelayedCircuits: 40}
	relay := newNode(t, WithLimits(lim))
	hostile, honest, dst := newNode(t), newNode(t), newNode(t, WithLimits(Limits{MaxCircuitsPerHost: 1000, MaxCircuits: 1000}))
	for _, n := range []*Node{hostile, honest, dst} {
		attach(t, n, relay)
	}
	waitRoute(t, hostile, dst.ID(), 2)
	waitRoute(t, honest, dst.ID(), 2)
	ln, _ := dst.Listen("", ":1")
	echo(t, ln)
	before := runtime.NumGoroutine()
	path := []uint64{hostile.ID(), relay.ID(), dst.ID()}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var held []*circuit
	refused := 0
	for range 300 {
		ci, err := hostile.c.openCircuit(ctx, path)
		if err != nil {
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != "MaxCircuitsPerPeer" {
				t.Fatalf("circuit %d: %v", len(held)+refused, err)
			}
			refused++
			continue
		}
		held = append(held, ci)
	}
	if len(held) != lim.MaxCircuitsPerPeer || relay.c.relays.relayed() != lim.MaxCircuitsPerPeer {
		t.Fatalf("%d circuits up, %d relayed; limit %d", len(held), relay.c.relays.relayed(), lim.MaxCircuitsPerPeer)
	}
	if grown := runtime.NumGoroutine() - before; grown > 20*lim.MaxCircuitsPerPeer {
		t.Fatalf("%d goroutines more for %d circuits", grown, len(held))
	}
	// The honest node is unaffected.
	c, err := honest.Dial("", FormatID(dst.ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "still served")
	c.Close()
	for _, ci := range held {
		ci.sess.Close()
		hostile.c.untrack(ci.h)
	}
	eventually(t, "the relay to let the circuits go", func() bool { return relay.c.relays.relayed() == 1 })
}

// TestHeaderlessStreams: a neighbour opens streams and never sends their
// header. At most MaxPendingStreams of them are waited for, each at most
// HandshakeTimeout; other neighbours are served meanwhile.
func TestHeaderlessStreams(t *testing.T) {
	x := newNode(t, WithLimits(Limits{MaxPendingStreams: 8, HandshakeTimeout: 500 * time.Millisecond}))
	hostile, honest := newNode(t), newNode(t)
	linked(t, x, hostile)
	linked(t, x, honest)
	ln, _ := x.Listen("", ":1")
	echo(t, ln)
	before := runtime.NumGoroutine()
	l := hostile.c.links.get(x.ID())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var opened []io.ReadCloser
	for range 40 {
		st, err := l.sess.OpenStream(ctx)
		if err != nil {
			break
		}
		defer st.Close()
		opened = append(opened, st)
	}
	if grown := runtime.NumGoroutine() - before; grown > 40 {
		t.Fatalf("%d goroutines more for %d headerless streams", grown, len(opened))
	}
	c, err := honest.Dial("", FormatID(x.ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "served meanwhile")
	c.Close()
	// The headerless streams are reset after the timeout.
	st := opened[0].(interface {
		io.Reader
		SetReadDeadline(time.Time) error
	})
	st.SetReadDeadline(time.Now().Add(patience))
	if _, err := io.ReadAll(st); err == nil {
		t.Fatal("a headerless stream was not reset")
	}
}

// TestHeaderTimeoutIsACancel: a stream whose header does not come in time
// (none, or a part of one, on a link's session and on a connection
// session) is reset with CANCEL, not PROTOCOL: the peer was slow, it did
// not break the protocol.
func TestHeaderTimeoutIsACancel(t *testing.T) {
	x := newNode(t, WithLimits(Limits{HandshakeTimeout: 200 * time.Millisecond}))
	peer := newNode(t)
	linked(t, x, peer)
	l := peer.c.links.get(x.ID())
	for _, sess := range []*mux.Session{l.sess, l.conns} {
		for _, part := range [][]byte{nil, {kindConn, 0, 0}, {kindCircuit, 1, 2, 0, 0, 0, 0, 0}} {
			st, err := sess.OpenStream(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(part) > 0 {
				st.Write(part)
			}
			st.SetReadDeadline(time.Now().Add(patience))
			_, err = io.ReadAll(st)
			var se *mux.StreamError
			if !errors.As(err, &se) || se.Code != mux.CodeCancel {
				t.Errorf("a header of %d bytes that never ends: %v, want a reset with CANCEL", len(part), err)
			}
			st.Close()
		}
	}
}
