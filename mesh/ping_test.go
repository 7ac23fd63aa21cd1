package mesh

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestPath: the relays a new circuit would take, in order from the node:
// the two middle nodes of a chain of four; none for a neighbour or the
// node itself; nil for a host no route reaches.
func TestPath(t *testing.T) {
	ns := nodes(t, 4)
	chain(t, ns)
	a, b, c, d := ns[0], ns[1], ns[2], ns[3]
	tests := []struct {
		name string
		from *Node
		host uint64
		want []uint64
	}{
		{"far end", a, d.ID(), []uint64{b.ID(), c.ID()}},
		{"far end backwards", d, a.ID(), []uint64{c.ID(), b.ID()}},
		{"two hops", a, c.ID(), []uint64{b.ID()}},
		{"neighbour", a, b.ID(), []uint64{}},
		{"itself", a, a.ID(), []uint64{}},
		{"unknown", a, 0x0123456789abcdef, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.from.Path(tt.host)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Path(%s) = %v, want %v", FormatID(tt.host), got, tt.want)
			}
		})
	}
}

// TestPathAvoids: a relay that failed a setup is avoided by Path, as by
// the next setup, when another path exists.
func TestPathAvoids(t *testing.T) {
	ns := nodes(t, 4) // a - b - d and a - c - d
	a, b, c, d := ns[0], ns[1], ns[2], ns[3]
	attach(t, a, b)
	attach(t, b, d)
	attach(t, a, c)
	attach(t, c, d)
	waitRoute(t, a, d.ID(), 2)
	eventually(t, "both relays known", func() bool {
		return a.c.nextPath(d.ID(), [][]uint64{{a.ID(), b.ID(), d.ID()}}, time.Now()) != nil &&
			a.c.nextPath(d.ID(), [][]uint64{{a.ID(), c.ID(), d.ID()}}, time.Now()) != nil
	})
	first := a.Path(d.ID())
	if len(first) != 1 || first[0] != b.ID() && first[0] != c.ID() {
		t.Fatalf("Path = %v", first)
	}
	a.c.avoid.failed(first, time.Now())
	other := b.ID()
	if first[0] == b.ID() {
		other = c.ID()
	}
	if got := a.Path(d.ID()); !slices.Equal(got, []uint64{other}) {
		t.Errorf("with %s avoided, Path = %v, want [%s]", FormatID(first[0]), got, FormatID(other))
	}
}

// TestPing: a ping to a neighbour goes over the link, one to the far end
// of a chain of four sets up a circuit and goes over it; both measure a
// round trip. An unknown host has no route; a cancelled context and a
// closed node end a ping with their errors.
func TestPing(t *testing.T) {
	ns := nodes(t, 4)
	chain(t, ns)
	a, b, d := ns[0], ns[1], ns[3]
	ctx := ctxT(t)
	for _, host := range []uint64{b.ID(), d.ID(), a.ID()} {
		rtt, err := a.Ping(ctx, host)
		if err != nil || rtt <= 0 {
			t.Fatalf("Ping(%s) = %v, %v", FormatID(host), rtt, err)
		}
	}
	// A trace: each relay of the path is a host too, pinged on its own.
	for _, r := range a.Path(d.ID()) {
		if rtt, err := a.Ping(ctx, r); err != nil || rtt <= 0 {
			t.Fatalf("Ping of relay %s = %v, %v", FormatID(r), rtt, err)
		}
	}
	ci := circuitOf(a, d.ID())
	if ci == nil || !slices.Equal(ci.path, []uint64{a.ID(), b.ID(), ns[2].ID(), d.ID()}) {
		t.Fatalf("the ping to the far end set up no circuit along the chain: %+v", ci)
	}
	if circuitOf(a, b.ID()) != nil {
		t.Error("a ping to a neighbour set up a circuit")
	}
	// The far end pings back over the same circuit.
	if rtt, err := d.Ping(ctx, a.ID()); err != nil || rtt <= 0 {
		t.Fatalf("Ping back = %v, %v", rtt, err)
	}
	if back := circuitOf(d, a.ID()); back == nil || back.source || back.path[0] != a.ID() {
		t.Error("the ping back did not take the circuit a set up")
	}

	if _, err := a.Ping(ctx, 0x0123456789abcdef); !errors.Is(err, ErrNoRoute) {
		t.Errorf("Ping of an unknown host: %v, want ErrNoRoute", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, host := range []uint64{b.ID(), d.ID()} {
		if _, err := a.Ping(cancelled, host); !errors.Is(err, context.Canceled) {
			t.Errorf("Ping(%s) with a cancelled context: %v", FormatID(host), err)
		}
	}
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := a.Ping(past, ns[2].ID()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping with an expired deadline: %v", err)
	}
	a.Close()
	if _, err := a.Ping(ctx, b.ID()); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping of a closed node: %v, want ErrClosed", err)
	}
}

// TestPingKeepsCircuit: pings count as use of a circuit at both ends
// (what closeWhenIdle watches: the source's opens, the destination's
// session's PingsAnswered), and a circuit that nothing uses is closed.
func TestPingKeepsCircuit(t *testing.T) {
	ns := nodes(t, 3, withCircuitIdle(40*time.Millisecond))
	chain(t, ns)
	a, c := ns[0], ns[2]
	ctx := ctxT(t)
	if _, err := a.Ping(ctx, c.ID()); err != nil {
		t.Fatal(err)
	}
	src, dst := circuitOf(a, c.ID()), circuitOf(c, a.ID())
	if src == nil || dst == nil {
		t.Fatal("no circuit after a ping")
	}
	opens, answered := src.opens.Load(), dst.sess.Stats().PingsAnswered
	const k = 5
	for range k {
		if _, err := a.Ping(ctx, c.ID()); err != nil {
			t.Fatal(err)
		}
	}
	if circuitOf(a, c.ID()) == src { // else closed as idle meanwhile: the counts are another circuit's
		if got := src.opens.Load() - opens; got != k {
			t.Errorf("the source counted %d uses for %d pings", got, k)
		}
		if got := dst.sess.Stats().PingsAnswered - answered; got != k {
			t.Errorf("the destination answered %d of %d pings", got, k)
		}
	}
	// Without pings it goes.
	eventually(t, "the idle circuit closed", func() bool { return circuitOf(a, c.ID()) == nil })
}
