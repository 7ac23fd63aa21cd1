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
}

// Node describes the node that serves the API.
type Node struct {
	ID            string    `json:"id"`             // node id, 16 hex digits
	Name          string    `json:"name"`           // the mesh name (mesh.WithName)
	Relay         bool      `json:"relay"`          // it relays circuits for others
	Secure        bool      `json:"secure"`         // links are mutual TLS (mesh.WithTLS)
	Started       time.Time `json:"started"`        // when the node started
	UptimeSeconds float64   `json:"uptime_seconds"` // how long it has run
	Listen        []string  `json:"listen"`         // addresses it accepts links on
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
	Peer      string    `json:"peer"`      // the neighbour's node id
	Addr      string    `json:"addr"`      // the connection's remote address, e.g. 10.0.0.2:7000
	Dialer    bool      `json:"dialer"`    // this node dialed it (Join); false: accepted
	UpSince   time.Time `json:"up_since"`  // when the link came up
	RTTMillis float64   `json:"rtt_ms"`    // last keep-alive round trip; 0: not measured yet
	BytesIn   uint64    `json:"bytes_in"`  // bytes received on the link since it came up
	BytesOut  uint64    `json:"bytes_out"` // bytes sent on it
	Streams   int       `json:"streams"`   // streams open on the link's session now
}

// RTT returns RTTMillis as a duration.
func (l Link) RTT() time.Duration { return seconds(l.RTTMillis / 1e3) }

// Route is the route to one host: the neighbour to send through and the
// length of the path.
type Route struct {
	Host    string `json:"host"`     // the destination's node id
	NextHop string `json:"next_hop"` // the neighbour on the way (Host itself for a neighbour)
	Hops    int    `json:"hops"`     // links on the path
}

// Service is one instance of a service name.
type Service struct {
	Name string `json:"name"`
	Host string `json:"host"` // the node id that offers it
	Port uint32 `json:"port"` // its virtual port there
	Hops int    `json:"hops"` // 0: on this node
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
}

// Graph is the mesh as the node knows it from the link-state records:
// every node and every link both of whose ends list it.
type Graph struct {
	Nodes []GraphNode `json:"nodes"`
	Links []GraphLink `json:"links"`
}

// GraphNode is one node of the Graph.
type GraphNode struct {
	ID        string   `json:"id"`
	Relay     bool     `json:"relay"`              // it relays circuits
	Reachable bool     `json:"reachable"`          // a route leads to it (or it is this node)
	Hops      int      `json:"hops"`               // links away from this node (0: itself; -1: unreachable)
	Services  []string `json:"services,omitempty"` // the service names it offers
}

// GraphLink is a link between two nodes of the Graph; A < B.
type GraphLink struct {
	A string `json:"a"`
	B string `json:"b"`
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
