// Package status is the read-only window of a plexus node: the JSON API
// it serves about itself and the mesh as it sees it, and the live page
// that draws that API as a graph with tables beside it.
//
// Handler serves both from a Provider:
//
//	GET /                 the status page (embedded: no CDN, works offline)
//	GET /static/...       its script and style sheet
//	GET /api/v1/status    a Status, as JSON
//
// The page polls /api/v1/status (every second; ?every=MS changes it) and
// redraws without reloading. Node ids are strings of 16 hex digits, as
// mesh.FormatID prints them, since JavaScript numbers cannot hold a
// uint64; durations are numbers whose unit is in the field's name; byte
// counters only grow while a link lives, so a reader computes throughput
// from two snapshots and their Time.
package status

import (
	"context"
	"math"
	"time"
)

// APIPath is where Handler serves the Status.
const APIPath = "/api/v1/status"

// Status is a snapshot of one node and of the mesh as that node sees it.
type Status struct {
	// Time is when the snapshot was taken; Handler sets it if the
	// provider did not.
	Time     time.Time `json:"time"`
	Node     Node      `json:"node"`
	Links    []Link    `json:"links"`    // this node's links to its neighbours
	Routes   []Route   `json:"routes"`   // the routing table: one route per reachable host
	Services []Service `json:"services"` // every service instance the node knows
	Circuits []Circuit `json:"circuits"` // circuits this node relays for others
	Graph    Graph     `json:"graph"`    // every node and link the node knows of
	Joins    []Join    `json:"joins"`    // the addresses it keeps a link to (--join), with their state
	Sidecars []Sidecar `json:"sidecars"` // its --expose and --forward sidecars
	// Events are the last things that happened (links up and down,
	// services added and withdrawn, join errors), oldest first, at most
	// a bounded number.
	Events []Event `json:"events"`
}

// Node describes the node that serves the API.
type Node struct {
	ID   string `json:"id"`   // node id, 16 hex digits
	Name string `json:"name"` // the mesh name (mesh.WithName)
	// NodeName is the node's own name: its certificate's CN on a secured
	// node (NameVerified), else what mesh.WithNodeName gave ("": none).
	NodeName     string `json:"node_name,omitempty"`
	NameVerified bool   `json:"name_verified,omitempty"`
	// CertNotAfter is when the node's certificate expires (secured nodes).
	CertNotAfter  *time.Time `json:"cert_not_after,omitempty"`
	Relay         bool       `json:"relay"`          // it relays circuits for others
	Secure        bool       `json:"secure"`         // links are mutual TLS (mesh.WithTLS)
	Started       time.Time  `json:"started"`        // when the node started
	UptimeSeconds float64    `json:"uptime_seconds"` // how long it has run
	Listen        []string   `json:"listen"`         // addresses it accepts links on
	// CertPolicy: the node enforces certificate policy
	// (mesh.WithCertPolicy): it believes a service only from a node whose
	// certificate names it.
	CertPolicy bool `json:"cert_policy"`
	// RevokedSeq is the sequence number of the revocation list the node
	// holds (0, and absent: none), RevokedCount the node ids it revokes.
	RevokedSeq   uint64 `json:"revoked_seq,omitempty"`
	RevokedCount int    `json:"revoked_count,omitempty"`
}

// Uptime returns UptimeSeconds as a duration.
func (n Node) Uptime() time.Duration { return seconds(n.UptimeSeconds) }

// Link is one link of the node: a mux session over one connection to a
// neighbour.
type Link struct {
	Peer      string    `json:"peer"`                // the neighbour's node id
	PeerName  string    `json:"peer_name,omitempty"` // the neighbour's name, when it has one
	Addr      string    `json:"addr"`                // the connection's remote address, e.g. 10.0.0.2:7000
	Dialer    bool      `json:"dialer"`              // this node dialed it (Join); false: accepted
	UpSince   time.Time `json:"up_since"`            // when the link came up
	RTTMillis float64   `json:"rtt_ms"`              // last keep-alive round trip; 0: not measured yet
	BytesIn   uint64    `json:"bytes_in"`            // bytes received on the link since it came up
	BytesOut  uint64    `json:"bytes_out"`           // bytes sent on it
	Streams   int       `json:"streams"`             // streams open on the link's session now
}

// RTT returns RTTMillis as a duration.
func (l Link) RTT() time.Duration { return seconds(l.RTTMillis / 1e3) }

// Route is the route to one host: the neighbour to send through and the
// length of the path.
type Route struct {
	Host        string `json:"host"` // the destination's node id
	HostName    string `json:"host_name,omitempty"`
	NextHop     string `json:"next_hop"` // the neighbour on the way (Host itself for a neighbour)
	NextHopName string `json:"next_hop_name,omitempty"`
	Hops        int    `json:"hops"` // links on the path
}

// Service is one instance of a service name.
type Service struct {
	Name     string `json:"name"`
	Host     string `json:"host"` // the node id that offers it
	HostName string `json:"host_name,omitempty"`
	Port     uint32 `json:"port"` // its virtual port there
	Hops     int    `json:"hops"` // 0: on this node
}

// Circuit is a circuit this node relays: two link streams spliced
// together, carrying the traffic of two far hosts.
type Circuit struct {
	Source string    `json:"source"` // the host that set it up
	Dest   string    `json:"dest"`   // the host it reaches
	Prev   string    `json:"prev"`   // the neighbour towards Source
	Next   string    `json:"next"`   // the neighbour towards Dest
	Since  time.Time `json:"since"`  // when it was set up
	Bytes  uint64    `json:"bytes"`  // bytes relayed, both ways together
	// The names of Source, Dest, Prev and Next, where they have one.
	SourceName string `json:"source_name,omitempty"`
	DestName   string `json:"dest_name,omitempty"`
	PrevName   string `json:"prev_name,omitempty"`
	NextName   string `json:"next_name,omitempty"`
}

// Graph is the mesh as the node knows it from the link-state records:
// every node and every link both of whose ends list it.
type Graph struct {
	Nodes []GraphNode `json:"nodes"`
	Links []GraphLink `json:"links"`
}

// GraphNode is one node of the Graph.
type GraphNode struct {
	ID           string   `json:"id"`
	Name         string   `json:"name,omitempty"`          // its node name ("": none)
	NameVerified bool     `json:"name_verified,omitempty"` // Name is its certificate's CN
	Relay        bool     `json:"relay"`                   // it relays circuits
	Reachable    bool     `json:"reachable"`               // a route leads to it (or it is this node)
	Hops         int      `json:"hops"`                    // links away from this node (0: itself; -1: unreachable)
	Services     []string `json:"services,omitempty"`      // the service names it offers
	// LastSeen is, for an unreachable node, when this node last saw it
	// reachable (a Recorder's memory; absent: never seen reachable since
	// the node started recording).
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// GraphLink is a link between two nodes of the Graph; A < B.
type GraphLink struct {
	A string `json:"a"`
	B string `json:"b"`
}

// Join is one address the node keeps a link to (--join).
type Join struct {
	Addr  string `json:"addr"`  // as given, e.g. tcp://10.0.0.1:7000
	State string `json:"state"` // "up", "connecting", "redialing" or "refused"
	// Peer and PeerName: the node at the other end while up.
	Peer     string `json:"peer,omitempty"`
	PeerName string `json:"peer_name,omitempty"`
	// Since is when State began.
	Since time.Time `json:"since"`
	// Error is the last error (redialing) or why the far node refused
	// (refused); ErrorTime is when it happened.
	Error     string     `json:"error,omitempty"`
	ErrorTime *time.Time `json:"error_time,omitempty"`
	// NextTry is when the next dial is due (redialing, refused).
	NextTry *time.Time `json:"next_try,omitempty"`
}

// Sidecar is one --expose or --forward of the node.
type Sidecar struct {
	Kind   string `json:"kind"`   // "expose" or "forward"
	Spec   string `json:"spec"`   // the flag's value, e.g. web=127.0.0.1:8080
	Listen string `json:"listen"` // where it accepts: a service name (expose) or a TCP address (forward)
	Open   int    `json:"open"`   // connections open now
	Total  uint64 `json:"total"`  // connections since it started
	// Error is the last error proxying a connection, ErrorTime when.
	Error     string     `json:"error,omitempty"`
	ErrorTime *time.Time `json:"error_time,omitempty"`
}

// Event is one thing that happened on the node or in its view of the
// mesh.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is one of "link-up", "link-down", "node-up", "node-lost",
	// "service-added", "service-withdrawn", "join-error", "join-up".
	Kind string `json:"kind"`
	// Node and NodeName: the node it concerns, if any.
	Node     string `json:"node,omitempty"`
	NodeName string `json:"node_name,omitempty"`
	Text     string `json:"text"` // one line for a person
}

// Provider gives the snapshot Handler serves. A plexus node implements it
// from its mesh.Node; tests give a fake. Status is called once per
// request and may be called from many goroutines at once.
type Provider interface {
	Status(ctx context.Context) (*Status, error)
}

// ProviderFunc is a function that is a Provider.
type ProviderFunc func(ctx context.Context) (*Status, error)

// Status calls f.
func (f ProviderFunc) Status(ctx context.Context) (*Status, error) { return f(ctx) }

// seconds converts seconds to a duration, to the nearest nanosecond.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }
