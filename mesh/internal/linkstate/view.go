package linkstate

import "time"

// What the node's introspection (Stats, Topology) and its tests read of
// the router.

// Stats are the router's counters.
type Stats struct {
	Records    int    // records held, ours excluded
	Bytes      int    // their bytes
	Routes     int    // hosts reachable, us excluded
	Changes    uint64 // changes of the routes' inputs
	Originated uint64 // records of ours originated
}

// Stats returns the router's counters, computing the routes if they are
// out of date.
func (r *Router) Stats() Stats {
	r.compute()
	return Stats{Records: len(r.db), Bytes: r.bytes, Routes: r.nRoutes, Changes: r.changes, Originated: uint64(r.originated)}
}

// Held returns the encoded record of id that the router holds (ours for
// our own id), or nil.
func (r *Router) Held(id uint64) []byte {
	if id == r.cfg.Self {
		return r.ownRaw
	}
	if e := r.db[id]; e != nil {
		return e.raw
	}
	return nil
}

// Graph is the mesh as the router's database describes it.
type Graph struct {
	Nodes map[uint64]*GraphNode
	Links map[[2]uint64]int // the ends that announce a link, the lower id first: 1 or 2
}

// GraphNode is what the database says of one node.
type GraphNode struct {
	ID        uint64
	Relay     bool
	Reachable bool
	Hops      int       // -1 when not reachable
	Seq       uint64    // of its record; 0 when none is held
	Expires   time.Time // of its record; zero when none is held
	// Services of our own record. Those of the others are in Raw, to be
	// decoded outside the router's lock.
	Services []Service
	Raw      []byte // the record held of another node; never modified, a newer one replaces it
}

// Graph returns what the database holds at now (reachable or not,
// expired records excepted): every node that has a record and our
// neighbours, and every link that these records announce, with our live
// links. A node that only others' records name is in Links only.
func (r *Router) Graph(now time.Time) Graph {
	r.compute()
	ms := now.UnixMilli()
	self := r.cfg.Self
	nodes := map[uint64]*GraphNode{self: {ID: self, Relay: r.cfg.Relay, Reachable: true}}
	if r.own != nil {
		nodes[self].Seq, nodes[self].Expires = r.own.Seq, time.UnixMilli(r.own.Expiry)
		nodes[self].Services = r.own.Services
	}
	links := make(map[[2]uint64]int)
	announce := func(x, y uint64) {
		if x > y {
			x, y = y, x
		}
		links[[2]uint64{x, y}]++
	}
	for id := range r.links {
		announce(self, id)
		nodes[id] = &GraphNode{ID: id, Reachable: true, Hops: 1}
	}
	for id, e := range r.db {
		if e.expiry() <= ms {
			continue
		}
		n := nodes[id]
		if n == nil {
			n = &GraphNode{ID: id, Hops: -1}
			nodes[id] = n
		}
		n.Relay, n.Seq, n.Expires = e.relays(), e.seq(), time.UnixMilli(e.expiry())
		if e.epoch == r.epoch && !n.Reachable {
			n.Reachable, n.Hops = true, int(e.hops)
		}
		n.Raw = e.raw
		for i, k := 0, e.numNeigh(); i < k; i++ {
			announce(id, e.neigh(i))
		}
	}
	return Graph{Nodes: nodes, Links: links}
}
