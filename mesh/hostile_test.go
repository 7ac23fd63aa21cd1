package mesh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
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
		raw, _ := linkstate.EncodeRecord(&linkstate.Record{ID: 1<<40 + i, Seq: 1, Expiry: exp}, nil)
		l.out.put(1<<40+i, raw)
		if i%500 == 0 {
			x.c.rt.mu.Lock()
			size := x.c.rt.r.Stats().Records
			x.c.rt.mu.Unlock()
			if size > max {
				t.Fatalf("routing table of %d records, limit %d", size, max)
			}
		}
	}
	eventually(t, "the flood to be read", func() bool { return heldSeq(x, 1<<40+n-1) != 0 })
	x.c.rt.mu.Lock()
	size := x.c.rt.r.Stats().Records
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
		raw, _ := linkstate.EncodeRecord(&linkstate.Record{ID: 1<<40 + i, Seq: 1, Expiry: exp, Neighbours: neigh}, nil)
		l.out.put(1<<40+i, raw)
	}
	eventually(t, "the flood to be read", func() bool { return heldSeq(x, 1<<40+n-1) != 0 })
	x.c.rt.mu.Lock()
	held := x.c.rt.r.Stats().Bytes
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
	for _, open := range []func(context.Context) (*mux.Stream, error){l.sess.OpenStream, l.sess.OpenClassStream} {
		for _, part := range [][]byte{nil, {wire.KindConn, 0, 0}, {wire.KindCircuit, 1, 2, 0, 0, 0, 0, 0}} {
			st, err := open(ctxT(t))
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

// The insider of TestRefusedSetupFloodHoldsNoMemory runs in a process of
// its own, so that the test's heap is the relay's alone: the test binary
// re-executed with flooderEnv set to "ADDR SECONDS".
const flooderEnv = "PLEXUS_MESH_TEST_FLOODER"

// TestSetupFlooderHelper is that insider: a node that links to the relay
// at ADDR and sends it circuit setups that it refuses (their next hop is
// not its neighbour), as fast as it can for SECONDS, never reading,
// closing or resetting them; it prints how many it sent.
func TestSetupFlooderHelper(t *testing.T) {
	spec := os.Getenv(flooderEnv)
	if spec == "" {
		t.Skip("the insider of TestRefusedSetupFloodHoldsNoMemory, run by it")
	}
	var addr string
	var secs int
	fmt.Sscan(spec, &addr, &secs)
	n := newNode(t)
	if err := n.Join("tcp", addr); err != nil {
		t.Fatal(err)
	}
	var relay uint64
	eventually(t, "the link to the relay", func() bool {
		rs := n.Routes()
		if len(rs) == 1 {
			relay = rs[0].Host
		}
		return relay != 0
	})
	l := n.c.links.get(relay)
	hdr := wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 1, Path: []uint64{n.ID(), relay, 0xdead, 0xbeef}})
	ctx := ctxT(t)
	sent := 0
	for end := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(end); {
		st, err := l.sess.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.Write(hdr)
		sent++
	}
	fmt.Printf("flooder: %d setups sent\n", sent)
}

// TestRefusedSetupFloodHoldsNoMemory: an insider, in a process of its own,
// sends circuit setups that its relay refuses, as fast as it can for 10 s,
// and never reads, closes or resets them. Each refusal is a reset that
// releases the stream at once: the relay's heap grows by at most 2 MiB
// during the flood and falls back once it ends, and its link to the
// insider holds a bounded number of streams. (Before, each refused stream
// was closed and waited up to 30 s for a FIN that never came, under a link
// MaxStreams of 65,536: one link pinned ~31 MiB.)
func TestRefusedSetupFloodHoldsNoMemory(t *testing.T) {
	relay := newNode(t)
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Serve(ln); err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSetupFlooderHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", flooderEnv, ln.Addr(), 10))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var rl *link
	eventually(t, "the insider's link", func() bool {
		relay.c.links.each(func(l *link) { rl = l })
		return rl != nil
	})
	var peak uint64
	maxStreams := 0
	var err2 error
	for running := true; running; {
		select {
		case err2 = <-exited:
			running = false
		case <-time.After(250 * time.Millisecond): // sampling the flood, not waiting for a state
		}
		peak = max(peak, heap())
		maxStreams = max(maxStreams, rl.sess.NumStreams())
	}
	if err2 != nil {
		t.Fatalf("the insider: %v\n%s", err2, out.String())
	}
	floodEnd := time.Now()
	eventually(t, "the heap to fall back", func() bool { return heap() <= base+256<<10 })
	fellBack := time.Since(floodEnd)
	var sent int
	if i := strings.Index(out.String(), "flooder: "); i >= 0 {
		fmt.Sscan(out.String()[i+len("flooder: "):], &sent)
	}
	st := relay.Stats()
	t.Logf("%d setups sent in 10 s, %d refused; the relay's heap grew by at most %d KiB and was back within 256 KiB %v after the flood; its link held at most %d streams",
		sent, st.CircuitsRefused, (int64(peak)-int64(base))>>10, fellBack.Round(time.Millisecond), maxStreams)
	if peak > base+2<<20 {
		t.Errorf("the heap grew by %d KiB during the flood, more than 2 MiB", (peak-base)>>10)
	}
	// What a flood of refused setups can hold: its control and connection
	// streams, the streams waiting to be accepted, those whose header is
	// being read, and the one the accept loop holds.
	if limit := 2 + relay.c.linkCfg.AcceptBacklog + relay.c.lim.MaxPendingStreams + 1; maxStreams > limit {
		t.Errorf("the relay's link held %d streams, more than the %d a refused flood may hold", maxStreams, limit)
	}
}
