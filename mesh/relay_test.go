package mesh

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// fakeNeighbour links a hand-driven peer of id to n (the peer dials) and
// completes the link handshake: n then has a live neighbour id, whose
// link session the test drives. The control stream is drained.
func fakeNeighbour(t testing.TB, n *Node, id uint64) *mux.Session {
	t.Helper()
	st, _ := fakePeer(t, n, true)
	st.Write(appendCtrl(nil, msgHello, appendHello(nil, hello{version: Version, flags: helloRelay, id: id, name: DefaultName})))
	if typ, _, err := readCtrl(st, 1024); err != nil || typ != msgHello {
		t.Fatalf("handshake: %d %v", typ, err)
	}
	st.Write(appendCtrl(nil, msgReady, nil))
	go io.Copy(io.Discard, st) // n's records
	eventually(t, "the fake link", func() bool { return n.c.links.get(id) != nil })
	return st.Session()
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
	as, cs = make([]*mux.Stream, 0, k), make([]*mux.Stream, 0, k)
	accepted := make(chan error, 1)
	go func() {
		accepted <- func() error {
			for range k {
				st, err := sc.AcceptStream(context.Background())
				if err != nil {
					return err
				}
				h, err := readHeader(st, 17)
				if err != nil {
					return err
				}
				st.Write([]byte{uint8(codeOK), uint8(h.setup.hop)})
				cs = append(cs, st)
			}
			return nil
		}()
	}()
	setup := appendSetupHeader(nil, setupHeader{hop: 1, path: path})
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
	relay := newNode(t)
	const k = 200
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

		relay := newNode(b, WithLimits(Limits{MaxCircuitsPerPeer: k + 1, MaxRelayedCircuits: k + 1}))
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
