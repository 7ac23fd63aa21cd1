package mesh

import (
	"net"
	"slices"
	"strings"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mux"
)

// Introspection: what a node is, its links, the circuits through it and
// ending at it, and the mesh as its routing records describe it, as plain
// values copied at the call (a status page or a metrics exporter reads
// them; nothing is kept that refers back to the node). Routes and Services
// (node.go, services.go) are the two other parts of the picture. Every
// method here is safe for concurrent use and takes only the locks that
// link and circuit set-up take, never a lock of the data path.

// Route is one entry of the route table: a host reachable from this node,
// the neighbour through which it is reached, and how many hops away it is.
//
//	type Route struct {
//		Host    uint64
//		NextHop uint64
//		Hops    int
//	}
type Route = linkstate.Route

// NodeInfo describes a node.
type NodeInfo struct {
	ID   uint64 // the node id (FormatID prints it)
	Name string // the mesh name (WithName)
	// NodeName is the node's own name (see NodeName): its certificate's
	// CN on a secured node, NameVerified; else WithNodeName's, or "".
	NodeName     string
	NameVerified bool
	Relay        bool       // it relays circuits for others (WithRelay)
	Secure       bool       // links are mutual TLS (WithTLS)
	Started      time.Time  // when New returned it
	Listen       []net.Addr // addresses it accepts links on (Serve, ListenAndServe), in the order they were added
	Join         []string   // addresses it keeps a link to (Join), as "network://address", in the order they were added
	// CertPolicy: the node enforces certificate policy (WithCertPolicy):
	// it believes a service only from a node whose certificate names it.
	CertPolicy bool
	// Revocation describes the revocation list it holds (a secured node;
	// see SetRevocationList).
	Revocation RevocationInfo
	// CertNotAfter is when the node's certificate expires: the earliest
	// NotAfter of its chain, as reloaded by ReloadTLS; zero when the node
	// is not secured.
	CertNotAfter time.Time
}

// Info describes the node.
func (n *Node) Info() NodeInfo {
	c := n.c
	info := NodeInfo{
		ID:      c.id,
		Name:    c.opts.name,
		Relay:   c.opts.relay,
		Secure:  c.ident != nil,
		Started: c.started,

		CertPolicy: c.opts.certPolicy,
	}
	info.NodeName, info.NameVerified = c.ownName()
	info.Revocation = c.revoke.info(c.id)
	if c.ident != nil {
		info.CertNotAfter = c.ident.creds().notAfter()
	}
	c.mu.Lock()
	for _, s := range c.join.serving {
		info.Listen = append(info.Listen, s.addr)
	}
	info.Join = slices.Clone(c.join.addrs)
	c.mu.Unlock()
	return info
}

// Started returns when the node started (when New returned it).
func (n *Node) Started() time.Time { return n.c.started }

// Uptime returns how long the node has run, by the monotonic clock.
func (n *Node) Uptime() time.Duration { return time.Since(n.c.started) }

// LinkInfo describes one link: a mux session over one connection to a
// neighbour.
type LinkInfo struct {
	Peer uint64 // the neighbour's node id
	// PeerName is the neighbour's name (see NodeName); PeerNameVerified:
	// its certificate vouches for it.
	PeerName         string
	PeerNameVerified bool
	// Dialer: this node dialed the connection (Join), or played the
	// dialing side of an Attach; false: it accepted it (Serve).
	Dialer bool
	// LocalAddr and RemoteAddr are the connection's addresses; nil when
	// the link runs over a pipe that is not a net.Conn (Attach).
	LocalAddr, RemoteAddr net.Addr
	Since                 time.Time // when the link came up (its handshake ended)
	// Stats are the counters of the link's session, which carries
	// everything between the two nodes: records, connections, relayed
	// circuits. Stats.RTT is the last keep-alive round trip on the link;
	// Stats.Streams counts connections and circuits.
	Stats mux.Stats
	// Conns is the number of connections open now between the two
	// nodes: the link session's class streams (Stats.ClassStreams).
	Conns int
	// Direct: the link is the direct upgrade of a relayed pair (see
	// WithDirect): dialed to an address the peer advertises, by this node
	// or by the peer (which says so in its hello).
	Direct bool
	// Suspended: the link is resumable (WithResume) and its connection
	// broke; it waits, for at most the resume window (WithResumeWindow),
	// for a resume over a new connection. Routing has it down meanwhile,
	// and its streams and circuits pause. SuspendedSince is when the
	// connection broke; zero while the link is up.
	Suspended      bool
	SuspendedSince time.Time
}

// Links lists the node's live links, sorted by peer, then by Since.
func (n *Node) Links() []LinkInfo {
	ls := n.c.links.all()
	out := make([]LinkInfo, 0, len(ls))
	for _, l := range ls {
		li := l.info()
		li.PeerName, li.PeerNameVerified = n.c.nodeName(l.peer)
		out = append(out, li)
	}
	slices.SortFunc(out, func(a, b LinkInfo) int {
		if c := cmpID(a.Peer, b.Peer); c != 0 {
			return c
		}
		return a.Since.Compare(b.Since)
	})
	return out
}

// info describes l.
func (l *link) info() LinkInfo {
	info := LinkInfo{
		Peer:       l.peer,
		Dialer:     l.dialer,
		LocalAddr:  l.localAddr(),
		RemoteAddr: l.remoteAddr(),
		Since:      l.since,
		Stats:      l.sess.Stats(),
		Conns:      l.sess.Stats().ClassStreams,
		Direct:     l.direct,

		SuspendedSince: l.suspendedSince(),
	}
	info.Suspended = !info.SuspendedSince.IsZero()
	return info
}

// all returns the registered links.
func (t *linkTable) all() []*link {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*link, 0, t.n)
	for _, ls := range t.byPeer {
		out = append(out, ls...)
	}
	return out
}

// cmpID orders node ids.
func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CircuitRole is what a node is to a circuit.
type CircuitRole uint8

// The roles of a node in a circuit.
const (
	// CircuitRelayed: the node relays the circuit between two neighbours.
	CircuitRelayed CircuitRole = iota + 1
	// CircuitSource: the circuit ends here, and this node set it up.
	CircuitSource
	// CircuitDest: the circuit ends here, and the far host set it up.
	CircuitDest
)

// String returns "relayed", "source" or "dest".
func (r CircuitRole) String() string {
	switch r {
	case CircuitRelayed:
		return "relayed"
	case CircuitSource:
		return "source"
	case CircuitDest:
		return "dest"
	}
	return "unknown"
}

// CircuitInfo describes a circuit that this node relays or that ends
// here.
type CircuitInfo struct {
	Role   CircuitRole
	Source uint64   // the host that set it up (Path[0])
	Dest   uint64   // the host it reaches (the last of Path)
	Path   []uint64 // every node on it, Source first; nil for a relayed circuit (a relay keeps only what it must)
	// Prev and Next are the neighbours on the circuit towards Source and
	// towards Dest; Prev is 0 at the source, Next 0 at the destination.
	Prev, Next uint64
	// Since is when the node took its part: a relay when it accepted the
	// setup, an end when the circuit was set up.
	Since time.Time
	// Bytes is what the circuit has carried through this node, both ways
	// together: for a relayed circuit, the bytes forwarded (the inner
	// session's, TLS included on a secured mesh, as mux.Stream's
	// SplicedBytes counts them); for an end, those its inner session
	// read and wrote (Stats.BytesIn + BytesOut).
	Bytes uint64
	// Stats are the counters of the inner session of a circuit that ends
	// here (Stats.Streams: the connections open on it now); zero for a
	// relayed circuit, whose traffic the relay does not see.
	Stats mux.Stats
	// Resumable: an end of a circuit that survives the loss of its path
	// (WithResume); Resumes counts the new paths it took.
	Resumable bool
	Resumes   uint64
}

// Circuits lists the circuits this node relays and those that end here,
// relayed ones first, each group sorted by Source, then Dest, then Since.
func (n *Node) Circuits() []CircuitInfo {
	c := n.c
	out := c.relays.list()
	c.circuits.mu.Lock()
	ends := make([]*circuit, 0, len(c.circuits.all))
	for ci := range c.circuits.all {
		ends = append(ends, ci)
	}
	c.circuits.mu.Unlock()
	for _, ci := range ends {
		out = append(out, ci.info())
	}
	slices.SortFunc(out, func(a, b CircuitInfo) int {
		if a.Role != b.Role && (a.Role == CircuitRelayed || b.Role == CircuitRelayed) {
			if a.Role == CircuitRelayed {
				return -1
			}
			return 1
		}
		if c := cmpID(a.Source, b.Source); c != 0 {
			return c
		}
		if c := cmpID(a.Dest, b.Dest); c != 0 {
			return c
		}
		return a.Since.Compare(b.Since)
	})
	return out
}

// info describes ci, an end of a circuit.
func (ci *circuit) info() CircuitInfo {
	st := ci.sess.Stats()
	path := ci.currentPath()
	info := CircuitInfo{
		Role:      CircuitDest,
		Source:    path[0],
		Dest:      path[len(path)-1],
		Path:      slices.Clone(path),
		Prev:      path[len(path)-2],
		Since:     ci.since,
		Bytes:     st.BytesIn + st.BytesOut,
		Stats:     st,
		Resumable: ci.rc != nil,
		Resumes:   ci.resumes.Load(),
	}
	if ci.source {
		info.Role, info.Prev, info.Next = CircuitSource, 0, path[1]
	}
	return info
}

// Topology is the mesh as a node knows it from the routing records it
// holds: every node and every link they announce.
type Topology struct {
	Nodes []TopologyNode // sorted by ID; this node among them, with Hops 0
	Links []TopologyLink // sorted by A, then B
}

// TopologyNode is one node of a Topology.
type TopologyNode struct {
	ID uint64
	// Name is the node's name (see NodeName), "" when it has none or its
	// record has not arrived; NameVerified: its certificate vouches for it.
	Name         string
	NameVerified bool
	Relay        bool // its record says it relays circuits
	// Reachable: a route leads to it, or it is this node.
	Reachable bool
	// Hops is the length of the route to it: 0 for this node, 1 for a
	// neighbour, -1 when it is unreachable.
	Hops int
	// Seq and Expires are those of the record held (for this node, of
	// the last it originated); both zero for a neighbour whose record has
	// not arrived yet.
	Seq     uint64
	Expires time.Time
	// Services are the services its record announces, in every env.
	Services []AnnouncedService
	// Advertise are the addresses where it accepts links, as its record
	// advertises them (WithAdvertise); nil for none.
	Advertise []string
}

// AnnouncedService is a service as a routing record announces it.
type AnnouncedService struct {
	Env  string // "" for the default env (see WithEnv)
	Name string
	Port uint32
}

// TopologyLink is a link between two nodes, A < B, as announced by the
// record of either (this node announces its live links).
type TopologyLink struct {
	A, B uint64
	// Mutual: both ends announce the link. Only such links carry routes.
	Mutual bool
}

// Topology returns the mesh as the node knows it: every node whose record
// it holds (reachable or not, expired ones excepted) and its neighbours,
// and every link these records announce, with this node's live links.
func (n *Node) Topology() Topology {
	c := n.c
	c.rt.mu.Lock()
	g := c.rt.r.Graph(time.Now())
	c.rt.mu.Unlock()
	t := buildTopology(g, c.lim.MaxServices)
	for i := range t.Nodes {
		tn := &t.Nodes[i]
		switch raw := g.Nodes[tn.ID].Raw; {
		case tn.ID == c.id:
			tn.Name, tn.NameVerified = c.ownName()
			tn.Advertise = slices.Clone(c.opts.advertise)
		case raw != nil:
			tn.Name, tn.NameVerified = c.recordName(raw)
		default:
			tn.Name, tn.NameVerified = c.nodeName(tn.ID)
		}
	}
	return t
}

// buildTopology makes the Topology of g, what the router's database said
// under its lock, decoding the services of the records after it (encoded
// records are never modified once stored: a newer one replaces them).
func buildTopology(g linkstate.Graph, maxServices int) Topology {
	t := Topology{Links: make([]TopologyLink, 0, len(g.Links))}
	for p, k := range g.Links {
		t.Links = append(t.Links, TopologyLink{A: p[0], B: p[1], Mutual: k == 2})
		for _, id := range p {
			if g.Nodes[id] == nil { // a node that only others' records name
				g.Nodes[id] = &linkstate.GraphNode{ID: id, Hops: -1}
			}
		}
	}
	t.Nodes = make([]TopologyNode, 0, len(g.Nodes))
	for _, gn := range g.Nodes {
		services := gn.Services
		var advertise []string
		if gn.Raw != nil {
			if rec, err := linkstate.DecodeRecord(gn.Raw, maxServices); err == nil {
				services, advertise = rec.Services, rec.Advertise
			}
		}
		t.Nodes = append(t.Nodes, TopologyNode{ID: gn.ID, Relay: gn.Relay, Reachable: gn.Reachable, Hops: gn.Hops, Seq: gn.Seq, Expires: gn.Expires, Services: announced(services), Advertise: advertise})
	}
	slices.SortFunc(t.Nodes, func(a, b TopologyNode) int { return cmpID(a.ID, b.ID) })
	slices.SortFunc(t.Links, func(a, b TopologyLink) int {
		if c := cmpID(a.A, b.A); c != 0 {
			return c
		}
		return cmpID(a.B, b.B)
	})
	return t
}

// announced converts a record's services.
func announced(ss []linkstate.Service) []AnnouncedService {
	if len(ss) == 0 {
		return nil
	}
	out := make([]AnnouncedService, len(ss))
	for i, s := range ss {
		out[i] = AnnouncedService{Env: s.Env, Name: s.Name, Port: s.Port}
	}
	slices.SortFunc(out, func(a, b AnnouncedService) int {
		if c := strings.Compare(a.Env, b.Env); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return int(int64(a.Port) - int64(b.Port))
	})
	return out
}
