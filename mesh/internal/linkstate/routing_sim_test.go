package linkstate

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// The routing simulation: many routers (the pure state machine of
// routing.go) in one process, joined by in-memory links that deliver
// records in order. Time is virtual: messages are delivered at once, and
// the clock moves only to wake routers whose hold-down ends. Wall-clock
// time measures the processing all routers do, one after the other on one
// core (on a real mesh they work in parallel, plus link latency per hop).

// The hold-down and record lifetime of the simulated routers: mesh's
// defaults (defaultHoldDown, defaultRecordLifetime in mesh/options.go).
const (
	simHoldDown = 150 * time.Millisecond
	simLifetime = 10 * time.Minute
)

type sim struct {
	rs    map[uint64]*Router
	ids   []uint64
	edges map[[2]uint64]bool
	now   time.Time
	// The records queued on each directed link, at most one per node id
	// (the newest), as a link's recordQueue holds them.
	queues map[[2]uint64]*simQueue
	busy   [][2]uint64 // links with queued records
	// Counters of what was delivered.
	msgs, bytes int
}

type simQueue struct {
	order []uint64
	raw   map[uint64][]byte
}

func newSim(n int) *sim {
	s := &sim{rs: make(map[uint64]*Router, n), edges: make(map[[2]uint64]bool), now: t0, queues: make(map[[2]uint64]*simQueue)}
	for i := range n {
		id := uint64(i + 1)
		s.ids = append(s.ids, id)
		s.rs[id] = NewRouter(Config{
			Self: id, Relay: true, HoldDown: simHoldDown, Lifetime: simLifetime, MaxRecords: 2 * n,
			Encode: func(r *Record) ([]byte, error) { return EncodeRecord(r, nil) },
		}, t0)
	}
	return s
}

func key(a, b uint64) [2]uint64 {
	if a > b {
		a, b = b, a
	}
	return [2]uint64{a, b}
}

// randomGraph links the routers into a connected random graph of average
// degree deg: a random spanning tree, then random extra edges.
func (s *sim) randomGraph(rng *rand.Rand, deg int) [][2]uint64 {
	var es [][2]uint64
	perm := rng.Perm(len(s.ids))
	for i := 1; i < len(perm); i++ {
		a, b := s.ids[perm[i]], s.ids[perm[rng.IntN(i)]]
		es = append(es, key(a, b))
		s.edges[key(a, b)] = true
	}
	for len(es) < deg*len(s.ids)/2 {
		a, b := s.ids[rng.IntN(len(s.ids))], s.ids[rng.IntN(len(s.ids))]
		if a != b && !s.edges[key(a, b)] {
			es = append(es, key(a, b))
			s.edges[key(a, b)] = true
		}
	}
	return es
}

// emit queues a router's output on its links.
func (s *sim) emit(from uint64, out []OutMsg) {
	r := s.rs[from]
	for _, m := range out {
		for peer := range r.links {
			if m.To == peer || m.To == 0 && m.Except != peer {
				s.put([2]uint64{from, peer}, m.ID, m.Raw)
			}
		}
	}
}

func (s *sim) put(l [2]uint64, id uint64, raw []byte) {
	q := s.queues[l]
	if q == nil {
		q = &simQueue{raw: make(map[uint64][]byte)}
		s.queues[l] = q
	}
	if len(q.order) == 0 {
		s.busy = append(s.busy, l)
	}
	if old, ok := q.raw[id]; ok {
		if (&entry{raw: old}).seq() < (&entry{raw: raw}).seq() {
			q.raw[id] = raw
		}
		return
	}
	q.raw[id] = raw
	q.order = append(q.order, id)
}

func (s *sim) linkUp(a, b uint64) {
	s.emit(a, s.rs[a].LinkUp(b, s.now))
	s.emit(b, s.rs[b].LinkUp(a, s.now))
}

func (s *sim) linkDown(a, b uint64) {
	delete(s.edges, key(a, b))
	s.emit(a, s.rs[a].LinkDown(b, s.now))
	s.emit(b, s.rs[b].LinkDown(a, s.now))
}

// run delivers messages and wakes routers until nothing is due within the
// hold-down; it returns the virtual time that passed.
func (s *sim) run() time.Duration {
	start := s.now
	for {
		for len(s.busy) > 0 { // a round: every link delivers what it holds
			busy := s.busy
			s.busy = nil
			for _, l := range busy {
				q := s.queues[l]
				order := q.order
				q.order = nil
				for _, id := range order {
					raw := q.raw[id]
					delete(q.raw, id)
					s.deliver(l[0], l[1], raw)
				}
			}
		}
		next := s.now.Add(time.Hour)
		for _, r := range s.rs {
			if r.dirty {
				if w := r.NextWake(); w.Before(next) {
					next = w
				}
			}
		}
		if !next.Before(s.now.Add(time.Hour)) {
			return s.now.Sub(start)
		}
		if next.After(s.now) {
			s.now = next
		}
		for id, r := range s.rs {
			if r.dirty && !r.NextWake().After(s.now) {
				s.emit(id, r.Tick(s.now))
			}
		}
	}
}

// deliver hands raw, sent by from, to the router to, as a node's
// receiveRecord does (mesh/flood.go): a copy of what it holds is dropped before decoding.
func (s *sim) deliver(from, to uint64, raw []byte) {
	s.msgs++
	s.bytes += len(raw)
	r := s.rs[to]
	if _, ok := r.links[from]; !ok {
		return // the link went down meanwhile
	}
	if r.IsCopy(raw) {
		return
	}
	rec, err := DecodeRecord(raw, 16)
	if err != nil {
		panic(err)
	}
	out, _ := r.Receive(rec, raw, from, s.now)
	s.emit(to, out)
}

// check verifies that every router routes to every other node with the
// hop count of a breadth-first search over the live edges.
func (s *sim) check(t testing.TB) {
	adj := map[uint64][]uint64{}
	for e := range s.edges {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	for _, src := range s.ids {
		dist := map[uint64]int{src: 0}
		q := []uint64{src}
		for len(q) > 0 {
			v := q[0]
			q = q[1:]
			for _, w := range adj[v] {
				if _, ok := dist[w]; !ok {
					dist[w] = dist[v] + 1
					q = append(q, w)
				}
			}
		}
		r := s.rs[src]
		routes := r.Routes()
		if len(routes) != len(dist)-1 {
			t.Fatalf("node %d has %d routes, want %d", src, len(routes), len(dist)-1)
		}
		for _, rt := range routes {
			if rt.Hops != dist[rt.Host] {
				t.Fatalf("node %d reaches %d in %d hops, want %d", src, rt.Host, rt.Hops, dist[rt.Host])
			}
			if !s.edges[key(src, rt.NextHop)] {
				t.Fatalf("node %d routes to %d through %d, not a neighbour", src, rt.Host, rt.NextHop)
			}
		}
	}
}

// bridges returns an edge whose removal keeps the graph connected.
func (s *sim) spareEdge(rng *rand.Rand, es [][2]uint64) [2]uint64 {
	for {
		e := es[rng.IntN(len(es))]
		if !s.edges[e] {
			continue
		}
		delete(s.edges, e)
		ok := s.connected()
		s.edges[e] = true
		if ok {
			return e
		}
	}
}

func (s *sim) connected() bool {
	adj := map[uint64][]uint64{}
	for e := range s.edges {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	seen := map[uint64]bool{s.ids[0]: true}
	q := []uint64{s.ids[0]}
	for len(q) > 0 {
		v := q[0]
		q = q[1:]
		for _, w := range adj[v] {
			if !seen[w] {
				seen[w] = true
				q = append(q, w)
			}
		}
	}
	return len(seen) == len(s.ids)
}

// simResult is what one simulation measures.
type simResult struct {
	convergeWall, convergeVirtual time.Duration
	rerouteWall, rerouteVirtual   time.Duration
	msgsPerChange, bytesPerChange int
	convergeMsgs                  int
	bytesPerNode                  uint64
}

func runSim(t testing.TB, n, deg int, seed uint64) simResult {
	var res simResult
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rng := rand.New(rand.NewPCG(seed, seed))
	s := newSim(n)
	es := s.randomGraph(rng, deg)
	start := time.Now()
	for _, r := range s.rs {
		s.emit(r.cfg.Self, r.Tick(s.now))
	}
	for _, e := range es {
		s.linkUp(e[0], e[1])
	}
	res.convergeVirtual = s.run()
	res.convergeWall = time.Since(start)
	res.convergeMsgs = s.msgs
	s.check(t)
	s.queues, s.busy = make(map[[2]uint64]*simQueue), nil // the harness's, not the routers'
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.bytesPerNode = (after.HeapAlloc - before.HeapAlloc) / uint64(n)

	// A link is cut (found dead by keep-alive at both ends at once).
	e := s.spareEdge(rng, es)
	s.now = s.now.Add(10 * time.Second) // past every hold-down
	s.msgs, s.bytes = 0, 0
	start = time.Now()
	s.linkDown(e[0], e[1])
	res.rerouteVirtual = s.run()
	// Every router computes its routes, as a dial would.
	for _, r := range s.rs {
		r.compute()
	}
	res.rerouteWall = time.Since(start)
	res.msgsPerChange, res.bytesPerChange = s.msgs, s.bytes
	s.check(t)
	runtime.KeepAlive(s)
	return res
}

// TestRoutingSimulation runs a mesh of 200 routers to convergence, cuts a
// link and checks every route against a breadth-first search, both times.
func TestRoutingSimulation(t *testing.T) {
	res := runSim(t, 200, 4, 1)
	t.Logf("200 nodes: converged in %v (virtual %v); reroute %v (virtual %v), %d records, %d bytes; %d bytes/node",
		res.convergeWall, res.convergeVirtual, res.rerouteWall, res.rerouteVirtual, res.msgsPerChange, res.bytesPerChange, res.bytesPerNode)
}

// BenchmarkRoutingSimulation1000 is issue 7's scale check: 1,000 routers
// in a random graph of average degree 4. Run it with
//
//	go test -run XXX -bench RoutingSimulation1000 -benchtime 1x ./mesh/internal/linkstate/
func BenchmarkRoutingSimulation1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		res := runSim(b, 1000, 4, uint64(i+1))
		b.ReportMetric(float64(res.convergeWall.Milliseconds()), "converge-ms")
		b.ReportMetric(float64(res.convergeVirtual.Milliseconds()), "converge-holddown-ms")
		b.ReportMetric(float64(res.rerouteWall.Microseconds())/1000, "reroute-ms")
		b.ReportMetric(float64(res.msgsPerChange), "records/change")
		b.ReportMetric(float64(res.bytesPerChange), "bytes/change")
		b.ReportMetric(float64(res.bytesPerNode)/1024, "KiB/node")
		fmt.Printf("1000 nodes, degree 4: converged from cold in %v of processing, all nodes on one core (+%v of hold-down), %d records delivered; "+
			"after a cut, every node rerouted in %v of processing (+%v hold-down), %d records (%d bytes) flooded; %.1f KiB per node\n",
			res.convergeWall, res.convergeVirtual, res.convergeMsgs, res.rerouteWall, res.rerouteVirtual, res.msgsPerChange, res.bytesPerChange, float64(res.bytesPerNode)/1024)
	}
}
