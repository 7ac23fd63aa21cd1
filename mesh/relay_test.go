package mesh

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// fakeNeighbour links a hand-driven peer of id to n (the peer dials) and
// completes the link handshake: n then has a live neighbour id, whose
// link session the test drives. The control stream is drained.
func fakeNeighbour(t testing.TB, n *Node, id uint64) *mux.Session {
	t.Helper()
	sess, _ := fakeNeighbourCtrl(t, n, id)
	return sess
}

// fakeNeighbourCtrl is fakeNeighbour that also returns the peer's end of
// the control stream, to send records on.
func fakeNeighbourCtrl(t testing.TB, n *Node, id uint64) (*mux.Session, *mux.Stream) {
	t.Helper()
	st, _ := fakePeer(t, n, true)
	st.Write(wire.AppendCtrl(nil, wire.MsgHello, wire.AppendHello(nil, wire.Hello{Version: Version, Flags: wire.HelloRelay, ID: id, Name: DefaultName})))
	if typ, _, err := wire.ReadCtrl(st, 1024); err != nil || typ != wire.MsgHello {
		t.Fatalf("handshake: %d %v", typ, err)
	}
	st.Write(wire.AppendCtrl(nil, wire.MsgReady, nil))
	go io.Copy(io.Discard, st) // n's records
	eventually(t, "the fake link", func() bool { return n.c.links.get(id) != nil })
	return st.Session(), st
}

// relayRig is a relay whose two neighbours A and C are hand-driven
// peers, to build circuits A > relay > C whose ends are plain streams.
type relayRig struct {
	relay  *Node
	sa, sc *mux.Session
}

const rigA, rigC = 0xa, 0xc

func newRelayRig(t testing.TB, relay *Node) *relayRig {
	return &relayRig{relay: relay, sa: fakeNeighbour(t, relay, rigA), sc: fakeNeighbour(t, relay, rigC)}
}

// circuits builds k circuits through the relay: A sends the setups, C
// accepts them; they then stay idle. It returns the two ends' streams.
func (r *relayRig) circuits(t testing.TB, k int) (as, cs []*mux.Stream) {
	t.Helper()
	return setups(t, r.sa, r.sc, []uint64{rigA, r.relay.ID(), rigC}, k)
}

// setups opens k streams on sa that carry a circuit setup along path and
// answers each on sc, as the destination of the circuit does: with a
// relay between sa and sc, k circuits; with sa and sc the two ends of one
// session, what the ends of k circuits hold without the relay.
func setups(t testing.TB, sa, sc *mux.Session, path []uint64, k int) (as, cs []*mux.Stream) {
	t.Helper()
	return setupsAt(t, sa, sc, path, 1, k)
}

// setupsAt is setups for a path whose node hop is the first that sa's
// setups reach (the nodes before it are made up).
func setupsAt(t testing.TB, sa, sc *mux.Session, path []uint64, hop, k int) (as, cs []*mux.Stream) {
	t.Helper()
	as, cs = make([]*mux.Stream, 0, k), make([]*mux.Stream, 0, k)
	accepted := make(chan error, 1)
	go func() {
		accepted <- func() error {
			for range k {
				st, err := sc.AcceptStream(context.Background())
				if err != nil {
					return err
				}
				h, err := wire.ReadHeader(st, 17, nil)
				if err != nil {
					return err
				}
				st.Write([]byte{uint8(codeOK), uint8(h.Setup.Hop)})
				cs = append(cs, st)
			}
			return nil
		}()
	}()
	setup := wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: hop, Path: path})
	ctx := ctxT(t)
	for range k {
		st, err := sa.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.Write(setup)
		var v [2]byte
		if _, err := io.ReadFull(st, v[:]); err != nil || v[0] != uint8(codeOK) {
			t.Fatalf("circuit %d: verdict %v %v", len(as), v, err)
		}
		as = append(as, st)
	}
	if err := <-accepted; err != nil {
		t.Fatalf("the far end: %v", err)
	}
	return as, cs
}

// heapInUse returns the bytes of heap and stacks in use after a GC.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// TestRelayedCircuitsNoGoroutine: a relay forwards idle circuits inside
// its link sessions' reader and writer, with no goroutine per circuit;
// the circuits still carry data, FIN and RESET both ways, and the relay
// releases each circuit's count when it ends.
func TestRelayedCircuitsNoGoroutine(t *testing.T) {
	const k = 200
	relay := newNode(t, WithLimits(Limits{MaxCircuitsPerPeer: k, MaxCircuitsPerSource: k, MaxCircuits: 2 * k})) // a lone neighbour gets half the next hop's allowance
	rig := newRelayRig(t, relay)
	before := runtime.NumGoroutine()
	as, cs := rig.circuits(t, k)
	if grown := runtime.NumGoroutine() - before; grown > 10 {
		t.Fatalf("%d goroutines more for %d relayed circuits", grown, k)
	}
	if n := relay.c.relays.relayed(); n != k {
		t.Fatalf("relay counts %d circuits, want %d", n, k)
	}
	// Data both ways, then a FIN each way on the first half, a reset on
	// the second.
	for i := range k {
		roundTripStreams(t, as[i], cs[i], "ping")
		roundTripStreams(t, cs[i], as[i], "pong")
	}
	for i := range k / 2 {
		as[i].CloseWrite()
		if _, err := io.ReadAll(cs[i]); err != nil {
			t.Fatalf("circuit %d: the far end reads %v, want EOF", i, err)
		}
		cs[i].Close()
		if _, err := io.ReadAll(as[i]); err != nil {
			t.Fatalf("circuit %d: the source reads %v, want EOF", i, err)
		}
	}
	for i := k / 2; i < k; i++ {
		as[i].Reset(0x1234)
		_, err := io.ReadAll(cs[i])
		var se *mux.StreamError
		if !errors.As(err, &se) || se.Code != 0x1234 {
			t.Fatalf("circuit %d: the far end reads %v, want a reset with code 0x1234", i, err)
		}
	}
	eventually(t, "the relay to release the circuits", func() bool { return relay.c.relays.relayed() == 0 })
}

// roundTripStreams sends msg on from and reads it on to.
func roundTripStreams(t testing.TB, from, to *mux.Stream, msg string) {
	t.Helper()
	if _, err := from.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	to.SetReadDeadline(time.Now().Add(patience))
	if _, err := io.ReadFull(to, buf); err != nil || string(buf) != msg {
		t.Fatalf("read %q %v, want %q", buf, err, msg)
	}
	to.SetReadDeadline(time.Time{})
}

// BenchmarkRelayIdleCircuit reports what an idle relayed circuit costs
// the relay: heap bytes and goroutines. The ends are hand-driven peers in
// the same process; their share (a stream at each end) is measured alone,
// on a plain mux session pair, and subtracted.
func BenchmarkRelayIdleCircuit(b *testing.B) {
	const k = 10000
	for range b.N {
		x, y := net.Pipe()
		sa, _ := mux.Client(x, nil)
		sc, _ := mux.Server(y, nil)
		path := []uint64{rigA, 0xb, rigC}
		setups(b, sa, sc, path, 1)
		h0 := heapInUse()
		pa, pc := setups(b, sa, sc, path, k)
		ends := float64(heapInUse()-h0) / k
		runtime.KeepAlive(pa)
		runtime.KeepAlive(pc)
		sa.Close()
		sc.Close()

		relay := newNode(b, WithLimits(Limits{MaxCircuitsPerPeer: k + 1, MaxCircuitsPerSource: k + 1, MaxRelayedCircuits: k + 1, MaxCircuits: 2 * (k + 1)}))
		rig := newRelayRig(b, relay)
		rig.circuits(b, 1) // pools warm
		g0, h0 := runtime.NumGoroutine(), heapInUse()
		as, cs := rig.circuits(b, k)
		h1, g1 := heapInUse(), runtime.NumGoroutine()
		runtime.KeepAlive(as)
		runtime.KeepAlive(cs)
		b.ReportMetric(float64(h1-h0)/k-ends, "relay-B/circuit")
		b.ReportMetric(float64(h1-h0)/k, "all-B/circuit")
		b.ReportMetric(float64(g1-g0)/k, "goroutines/circuit")
		relay.Close()
	}
}

// TestStalledCircuitsLeaveTheLinkItsRecords: the circuits that one
// neighbour has relayed (as many as MaxCircuitsPerPeer) stall: the far end
// sends into them, their source reads nothing, so their data waits at the
// relay within the windows of their streams on the relay's link to the far
// end. The link's session window keeps room beyond them: the far end's
// records still reach the relay. (With a 2 MiB link window and 1,024
// circuits per neighbour, 32 such circuits stopped the link.)
func TestStalledCircuitsLeaveTheLinkItsRecords(t *testing.T) {
	relay := newNode(t)
	sa := fakeNeighbour(t, relay, rigA)
	sc, ctrl := fakeNeighbourCtrl(t, relay, rigC)
	// Circuits that A relays for a source behind it: they count against
	// A's allowance only.
	k := min(relay.c.lim.MaxCircuitsPerPeer, 64)
	_, cs := setupsAt(t, sa, sc, []uint64{0x5005, rigA, relay.ID(), rigC}, 2, k)
	// A stream window's worth reaches the source, which reads nothing; as
	// much again waits at the relay.
	buf := make([]byte, 2*mux.DefaultStreamWindow)
	var wg sync.WaitGroup
	for _, st := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.SetWriteDeadline(time.Now().Add(time.Second))
			st.Write(buf)
		}()
	}
	wg.Wait()
	raw, _ := linkstate.EncodeRecord(&linkstate.Record{ID: rigC, Seq: 7, Expiry: time.Now().Add(time.Minute).UnixMilli(), Relay: true, Neighbours: []uint64{relay.ID()}}, nil)
	ctrl.SetWriteDeadline(time.Now().Add(patience))
	if _, err := ctrl.Write(wire.AppendCtrl(nil, wire.MsgRecord, raw)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the far end's record at the relay", func() bool { return heldSeq(relay, rigC) == 7 })
}

// TestSourceCapAtTheFirstRelay: a relay lets a neighbour be the source of
// at most MaxCircuitsPerSource of the circuits it relays, so that one
// source cannot take all the allowance (MaxCircuitsPerPeer) that the next
// relays give this one for every source behind it; the neighbour's
// circuits for other sources still go through.
func TestSourceCapAtTheFirstRelay(t *testing.T) {
	relay := newNode(t, WithLimits(Limits{MaxCircuitsPerPeer: 6, MaxCircuitsPerSource: 2}))
	rig := newRelayRig(t, relay)
	rig.circuits(t, 2)
	err := setupVerdict(t, rig.sa, []uint64{rigA, relay.ID(), rigC}, 1)
	wantLimit(t, err, "MaxCircuitsPerSource")
	setupsAt(t, rig.sa, rig.sc, []uint64{0x5005, rigA, relay.ID(), rigC}, 2, 4)
	err = setupVerdict(t, rig.sa, []uint64{0x5006, rigA, relay.ID(), rigC}, 2)
	wantLimit(t, err, "MaxCircuitsPerPeer")
}

// setupVerdict sends a setup along path on sess, reaching path[hop], and
// returns the refusal it gets (nil if accepted), checking that the reset
// that refuses names path[hop].
func setupVerdict(t *testing.T, sess *mux.Session, path []uint64, hop int) error {
	t.Helper()
	st, err := sess.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset(mux.CodeCancel)
	st.Write(wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: hop, Path: path}))
	var v [2]byte
	st.SetReadDeadline(time.Now().Add(patience))
	if _, err := io.ReadFull(st, v[:]); err != nil {
		if rf := connRefusal(0, err); rf != nil { // refusals are resets
			if rf.hop != hop {
				t.Errorf("refused by the node at %d, want %d", rf.hop, hop)
			}
			return rf.err
		}
		return err
	}
	return code(v[0]).err()
}

// TestDestinationClosesIdleCircuits: a source that sets up a circuit and
// then neither uses nor closes it does not hold the relays' allowance
// forever: the destination closes a circuit without streams too (after
// twice the source's idle time), and the relays let it go.
func TestDestinationClosesIdleCircuits(t *testing.T) {
	relay := newNode(t)
	dst := newNode(t, withCircuitIdle(100*time.Millisecond))
	sa := fakeNeighbour(t, relay, rigA)
	linked(t, relay, dst)
	as, err := sa.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	as.Write(wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 1, Path: []uint64{rigA, relay.ID(), dst.ID()}}))
	var v [2]byte
	if _, err := io.ReadFull(as, v[:]); err != nil || code(v[0]) != codeOK {
		t.Fatalf("verdict %v %v", v, err)
	}
	inner, err := mux.Client(as, nil) // the source's end, never used
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	if n := relay.c.relays.relayed(); n != 1 {
		t.Fatalf("%d circuits relayed, want 1", n)
	}
	eventually(t, "the idle circuit to end", func() bool { return relay.c.relays.relayed() == 0 })
	select {
	case <-inner.Done():
	case <-time.After(patience):
		t.Fatal("the source's end of the circuit is still up")
	}
}
