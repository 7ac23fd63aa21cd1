package mesh

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// TestAvoidTable: a relay of a failed setup is avoided for 30 s, twice as
// long after each failure while failures repeat, at most 5 minutes, and
// forgotten after a success through it.
func TestAvoidTable(t *testing.T) {
	var a avoidTable
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	steps := []struct {
		at      time.Duration
		failed  []uint64 // a setup through these failed at this time
		succeed []uint64 // a setup through these succeeded
		avoided []uint64 // then avoided
		clear   []uint64 // and not
	}{
		{at: 0, failed: []uint64{7, 8}, avoided: []uint64{7, 8}},
		{at: 29 * time.Second, avoided: []uint64{7, 8}},
		{at: 30 * time.Second, clear: []uint64{7, 8}},
		{at: 31 * time.Second, failed: []uint64{7}, avoided: []uint64{7}, clear: []uint64{8}}, // again: 60 s
		{at: 90 * time.Second, avoided: []uint64{7}},
		{at: 91 * time.Second, failed: []uint64{7}, clear: []uint64{}},       // lapsed at 91 s: 120 s from now
		{at: 92 * time.Second, failed: []uint64{7}, avoided: []uint64{7}},    // within its period: no doubling
		{at: 210 * time.Second, avoided: []uint64{7}},                        // 91 + 120 = 211
		{at: 211 * time.Second, failed: []uint64{7}, avoided: []uint64{7}},   // 240 s
		{at: 451 * time.Second, failed: []uint64{7}, avoided: []uint64{7}},   // 300 s, the most
		{at: 750 * time.Second, avoided: []uint64{7}},                        // until 751
		{at: 751 * time.Second, failed: []uint64{7}, avoided: []uint64{7}},   // still 300 s
		{at: 752 * time.Second, succeed: []uint64{7}, clear: []uint64{7, 8}}, // forgotten
		{at: 753 * time.Second, failed: []uint64{7}, avoided: []uint64{7}},   // 30 s again
		{at: 782 * time.Second, avoided: []uint64{7}},
		{at: 783 * time.Second, clear: []uint64{7}},
	}
	for _, s := range steps {
		now := at(s.at)
		if s.failed != nil {
			a.failed(s.failed, now)
		}
		a.succeeded(s.succeed)
		for _, id := range s.avoided {
			if !a.avoided(id, now) {
				t.Fatalf("at %v: %d is not avoided", s.at, id)
			}
		}
		for _, id := range s.clear {
			if a.avoided(id, now) {
				t.Fatalf("at %v: %d is avoided", s.at, id)
			}
		}
	}
	// A relay that failed long ago is forgotten: the table stays small.
	a.failed([]uint64{9}, at(time.Hour))
	if n := a.len(); n != 1 {
		t.Fatalf("the table holds %d relays, want 1", n)
	}
}

// blackholeMesh is a secured mesh a - i - c where i, a member linked to a
// and c, is their shortest path, beside an honest path a - b1 - b2 - c; c
// serves "echo" on port 7. hostile is what i does with every setup it
// should relay.
func blackholeMesh(t *testing.T, hostile func(st *mux.Stream, s wire.SetupHeader) bool, log *testutil.Buffer) (a, i, c *Node) {
	t.Helper()
	ca := newCA(t)
	ns := secureNodes(t, ca, 5, WithLogger(slog.New(slog.NewTextHandler(log, nil))))
	a, i, b1, b2, c := ns[0], ns[1], ns[2], ns[3], ns[4]
	i.c.hooks.hostileRelay = hostile
	chain(t, []*Node{a, b1, b2, c})
	attach(t, a, i)
	attach(t, i, c)
	waitRoute(t, a, c.ID(), 2) // through i
	ln, err := c.Listen("", "echo:7")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	eventually(t, "a to see echo", func() bool { return len(a.Services()) == 1 })
	return a, i, c
}

// TestBlackholingRelay: a member that makes itself the shortest path
// between two nodes and then refuses every circuit setup, or holds it
// without an answer, is routed around: every dial succeeds within 3 s
// (refusing) or 10 s (silent) through the honest path, by host:port and
// by name, and later setups avoid it. (Before, 0 of 5 dials reached the
// far node: the source only ever tried the shortest path.)
func TestBlackholingRelay(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		hostile  func(st *mux.Stream, s wire.SetupHeader) bool
	}{
		{"refusing", 3 * time.Second, func(st *mux.Stream, s wire.SetupHeader) bool {
			st.Reset(resetCode(codeNoRoute, s.Hop)) // as relays refuse
			return true
		}},
		{"refusing as nodes before resets did", 3 * time.Second, func(st *mux.Stream, s wire.SetupHeader) bool {
			st.Write([]byte{uint8(codeNoRoute), uint8(s.Hop)})
			st.Close()
			return true
		}},
		{"silent", 10 * time.Second, func(st *mux.Stream, s wire.SetupHeader) bool {
			return true // never answers; the source's reset ends the stream
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log testutil.Buffer
			a, i, c := blackholeMesh(t, tc.hostile, &log)
			for k, addr := range []string{FormatID(c.ID()) + ":7", "echo", FormatID(c.ID()) + ":7", "echo", "echo"} {
				ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
				start := time.Now()
				conn, err := a.DialContext(ctx, "", addr)
				cancel()
				if err != nil {
					t.Fatalf("dial %d (%s): %v", k, addr, err)
				}
				took := time.Since(start)
				roundTrip(t, conn, "around the blackhole")
				conn.Close()
				ci := circuitOf(a, c.ID())
				if slices.Contains(ci.path, i.ID()) {
					t.Fatalf("dial %d went through the blackhole: %s", k, wire.FormatPath(ci.path))
				}
				t.Logf("dial %d (%s) in %v along %s", k, addr, took.Round(time.Millisecond), wire.FormatPath(ci.path))
				ci.sess.Close() // the next dial sets a circuit up again
				eventually(t, "the circuit to go", func() bool { return circuitOf(a, c.ID()) == nil })
			}
			if tc.name != "silent" && !strings.Contains(log.String(), "circuit refused by "+FormatID(i.ID())) {
				t.Errorf("the failed setup does not say which relay refused:\n%s", log.String())
			}
			st := a.Stats()
			if st.CircuitSetupsFailed != 1 || st.RelaysAvoided != 1 {
				t.Fatalf("%d setups failed, %d relays avoided: want 1 and 1 (the later setups avoid the blackhole)", st.CircuitSetupsFailed, st.RelaysAvoided)
			}
		})
	}
}

// TestSetupRetryStopsAtTheDestination: a refusal the destination makes
// inside end-to-end TLS is final: the source tries no other path and
// blames no relay.
func TestSetupRetryStopsAtTheDestination(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 4)
	a, r1, r2, c := ns[0], ns[1], ns[2], ns[3]
	c.c.lim.MaxCircuits = 0 // every circuit ending at c is refused by its limit, inside TLS
	attach(t, a, r1)
	attach(t, r1, c)
	attach(t, a, r2)
	attach(t, r2, c)
	waitRoute(t, a, c.ID(), 2)
	_, err := a.DialContext(ctxT(t), "", FormatID(c.ID())+":7")
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "MaxCircuits" {
		t.Fatalf("dial: %v, want MaxCircuits", err)
	}
	if st := a.Stats(); st.CircuitSetupsFailed != 1 || st.RelaysAvoided != 0 {
		t.Fatalf("%d setups failed, %d relays avoided; want 1 and 0", st.CircuitSetupsFailed, st.RelaysAvoided)
	}
}
