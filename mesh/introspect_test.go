package mesh

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
)

// TestIntrospectChain looks at a chain a - b - c, where a has a
// connection open to c through b: a's links, b's relayed circuit, the
// circuit's ends at a and c, and the topology each sees.
func TestIntrospectChain(t *testing.T) {
	ns := nodes(t, 3, WithName("obs"))
	a, b, c := ns[0], ns[1], ns[2]
	chain(t, ns)
	ln, err := c.Listen("", "echo")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	eventually(t, "a sees echo", func() bool { return len(a.Services()) == 1 })
	conn, err := a.DialContext(ctxT(t), "", "echo")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, "hello")

	info := a.Info()
	if info.ID != a.ID() || info.Name != "obs" || !info.Relay || info.Secure || info.Started != a.Started() {
		t.Errorf("Info = %+v", info)
	}
	if a.Uptime() <= 0 || a.Started().After(time.Now()) {
		t.Errorf("Uptime %v, Started %v", a.Uptime(), a.Started())
	}

	links := a.Links()
	if len(links) != 1 {
		t.Fatalf("a has %d links, want 1: %+v", len(links), links)
	}
	l := links[0]
	if l.Peer != b.ID() || l.Since.IsZero() || l.LocalAddr == nil || l.RemoteAddr == nil {
		t.Errorf("a's link = %+v", l)
	}
	if l.Stats.BytesOut == 0 || l.Stats.BytesIn == 0 || l.Stats.FramesIn == 0 || l.Stats.FramesOut == 0 {
		t.Errorf("a's link counted no traffic: %+v", l.Stats)
	}
	if bl := b.Links(); len(bl) != 2 || bl[0].Dialer == links[0].Dialer && bl[0].Peer == a.ID() {
		t.Errorf("b's links = %+v", bl)
	}

	path := []uint64{a.ID(), b.ID(), c.ID()}
	cs := b.Circuits()
	if len(cs) != 1 {
		t.Fatalf("b lists %d circuits, want 1: %+v", len(cs), cs)
	}
	want := CircuitInfo{Role: CircuitRelayed, Source: a.ID(), Dest: c.ID(), Prev: a.ID(), Next: c.ID()}
	if got := cs[0]; got.Since.IsZero() || got.Bytes == 0 || !sameCircuit(got, want) {
		t.Errorf("b's circuit = %+v, want %+v", got, want)
	}
	cs = a.Circuits()
	want = CircuitInfo{Role: CircuitSource, Source: a.ID(), Dest: c.ID(), Path: path, Next: b.ID()}
	if len(cs) != 1 || !sameCircuit(cs[0], want) || cs[0].Stats.Streams != 1 || cs[0].Bytes == 0 {
		t.Errorf("a's circuits = %+v, want %+v with a stream", cs, want)
	}
	eventually(t, "c lists the circuit", func() bool { return len(c.Circuits()) == 1 })
	cs = c.Circuits()
	want = CircuitInfo{Role: CircuitDest, Source: a.ID(), Dest: c.ID(), Path: path, Prev: b.ID()}
	if !sameCircuit(cs[0], want) {
		t.Errorf("c's circuit = %+v, want %+v", cs[0], want)
	}
	for _, r := range []CircuitRole{CircuitRelayed, CircuitSource, CircuitDest, 0} {
		if r.String() == "" {
			t.Errorf("role %d has no name", r)
		}
	}

	// Every node's record has reached a: a sees the whole chain.
	eventually(t, "a's topology is the chain", func() bool {
		topo := a.Topology()
		return len(topo.Nodes) == 3 && len(topo.Links) == 2 && topo.Links[0].Mutual && topo.Links[1].Mutual
	})
	topo := a.Topology()
	hops := map[uint64]int{a.ID(): 0, b.ID(): 1, c.ID(): 2}
	for _, n := range topo.Nodes {
		if h, ok := hops[n.ID]; !ok || n.Hops != h || !n.Reachable || !n.Relay {
			t.Errorf("node %+v, want hops %d", n, h)
		}
		if n.ID == c.ID() {
			if len(n.Services) != 1 || n.Services[0].Name != "echo" || n.Services[0].Env != "" {
				t.Errorf("c's services = %+v", n.Services)
			}
		} else if n.ID != a.ID() && n.Seq == 0 {
			t.Errorf("node %s: no record", FormatID(n.ID))
		}
	}
	for _, l := range topo.Links {
		if l.A >= l.B {
			t.Errorf("link %+v: A >= B", l)
		}
	}
	if !slices.IsSortedFunc(topo.Nodes, func(x, y TopologyNode) int { return cmpID(x.ID, y.ID) }) {
		t.Error("nodes not sorted")
	}
}

func sameCircuit(got, want CircuitInfo) bool {
	return got.Role == want.Role && got.Source == want.Source && got.Dest == want.Dest &&
		slices.Equal(got.Path, want.Path) && got.Prev == want.Prev && got.Next == want.Next
}

// TestIntrospectListenJoin: nodes link over TCP with Serve and Join (both
// get a route to the other), and Info lists the addresses a node accepts
// links on and those it joins; a link over TCP has both addresses.
func TestIntrospectListenJoin(t *testing.T) {
	a, b := newNode(t), newNode(t)
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(ln); err != nil {
		t.Fatal(err)
	}
	if err := b.Join("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, a, b.ID(), 1)
	waitRoute(t, b, a.ID(), 1)
	if got := a.Info().Listen; len(got) != 1 || got[0].String() != ln.Addr().String() {
		t.Errorf("a listens on %v, want %v", got, ln.Addr())
	}
	if got := b.Info().Join; len(got) != 1 || got[0] != "tcp://"+ln.Addr().String() {
		t.Errorf("b joins %q", got)
	}
	eventually(t, "a's link", func() bool { return len(a.Links()) == 1 })
	la, lb := a.Links()[0], b.Links()[0]
	if la.Dialer || !lb.Dialer || la.RemoteAddr.String() != lb.LocalAddr.String() || la.LocalAddr.String() != ln.Addr().String() {
		t.Errorf("links: a %+v, b %+v", la, lb)
	}
	if _, ok := la.RemoteAddr.(*net.TCPAddr); !ok {
		t.Errorf("RemoteAddr is a %T", la.RemoteAddr)
	}
}

// TestTopologyUnreachable: a node whose record is held but that no route
// reaches (behind a node that does not relay) is listed unreachable.
func TestTopologyUnreachable(t *testing.T) {
	a, b, c := newNode(t), newNode(t, WithRelay(false)), newNode(t)
	linked(t, a, b)
	linked(t, b, c)
	eventually(t, "a holds c's record", func() bool {
		for _, n := range a.Topology().Nodes {
			if n.ID == c.ID() {
				return n.Seq != 0
			}
		}
		return false
	})
	for _, n := range a.Topology().Nodes {
		switch n.ID {
		case b.ID():
			if n.Relay || !n.Reachable || n.Hops != 1 {
				t.Errorf("b: %+v", n)
			}
		case c.ID():
			if n.Reachable || n.Hops != -1 {
				t.Errorf("c: %+v", n)
			}
		}
	}
}

// TestIntrospectConcurrent calls every introspection method while links
// come and go, for the race detector.
func TestIntrospectConcurrent(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n.Links()
				n.Circuits()
				n.Topology()
				n.Info()
				n.Stats()
			}
		}()
	}
	for i := 0; i < 5; i++ {
		p := attach(t, ns[0], ns[2])
		waitRoute(t, ns[0], ns[2].ID(), 1)
		p.cut()
		waitRoute(t, ns[0], ns[2].ID(), 2)
	}
	close(stop)
	wg.Wait()
	if s := ns[0].Stats(); s.LinkUps != 6 || s.LinkDowns != 5 {
		t.Errorf("link ups %d, downs %d", s.LinkUps, s.LinkDowns)
	}
}

// TestTopologyFromRecords builds a router's database by hand: a link only
// one end announces, a node only others' records name, a node behind one
// that does not relay, an expired record.
func TestTopologyFromRecords(t *testing.T) {
	r := testRouter(1, true)
	r.LinkUp(2, t0)
	add := func(id uint64, relay bool, expiry time.Time, nbrs ...uint64) {
		t.Helper()
		rc := &linkstate.Record{ID: id, Seq: 1, Expiry: expiry.UnixMilli(), Relay: relay, Neighbours: slices.Sorted(slices.Values(nbrs))}
		raw, err := linkstate.EncodeRecord(rc, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := linkstate.DecodeRecord(raw, 10)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Receive(d, raw, 2, t0); err != nil {
			t.Fatal(err)
		}
	}
	later := t0.Add(testLifetime)
	add(2, false, later, 1, 3, 9) // 2 does not relay; 9 has no record
	add(3, true, later, 2)        // behind 2: unreachable
	add(4, true, t0.Add(time.Second), 1)
	now := t0.Add(2 * time.Second) // 4's record expired
	topo := buildTopology(r.Graph(now), 10)
	want := Topology{
		Nodes: []TopologyNode{
			{ID: 1, Relay: true, Reachable: true, Hops: 0},
			{ID: 2, Reachable: true, Hops: 1, Seq: 1, Expires: time.UnixMilli(later.UnixMilli())},
			{ID: 3, Relay: true, Hops: -1, Seq: 1, Expires: time.UnixMilli(later.UnixMilli())},
			{ID: 9, Hops: -1},
		},
		Links: []TopologyLink{{A: 1, B: 2, Mutual: true}, {A: 2, B: 3, Mutual: true}, {A: 2, B: 9}},
	}
	// Our own record is not originated yet (the hold-down): no Seq.
	if len(topo.Nodes) != len(want.Nodes) {
		t.Fatalf("nodes %+v, want %+v", topo.Nodes, want.Nodes)
	}
	for i, n := range topo.Nodes {
		w := want.Nodes[i]
		if n.ID != w.ID || n.Relay != w.Relay || n.Reachable != w.Reachable || n.Hops != w.Hops || n.Seq != w.Seq || !n.Expires.Equal(w.Expires) {
			t.Errorf("node %d: %+v, want %+v", i, n, w)
		}
	}
	if !slices.Equal(topo.Links, want.Links) {
		t.Errorf("links %+v, want %+v", topo.Links, want.Links)
	}
}
