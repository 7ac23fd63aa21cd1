// Package status is the read-only window of a plexus node: the JSON API
// it serves about itself and the mesh as it sees it, and the live page
// that draws that API as a graph with tables beside it.
//
// Handler serves both from a Provider:
//
//	GET /                 the status page (embedded: no CDN, works offline)
//	GET /static/...       its script and style sheet
//	GET /api/v1/status    a Status, as JSON
//	GET /api/v1/ping      ?target=T&count=N&interval=D: a PingResult (when the provider is a Pinger)
//	GET /api/v1/trace     ?target=T: a TraceResult (when the provider is a Pinger)
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
	"errors"
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
	// Relayed are the far hosts this node talks to through relays: the
	// circuits that end here. A host it talks to directly is a link
	// (Links; Link.Direct when the direct upgrade made it).
	Relayed  []RelayedPair `json:"relayed"`
	Graph    Graph         `json:"graph"`    // every node and link the node knows of
	Joins    []Join        `json:"joins"`    // the addresses it keeps a link to (--join), with their state
	Sidecars []Sidecar     `json:"sidecars"` // its --expose and --forward sidecars
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
	// Direct: the link is the direct upgrade of a relayed pair, dialed to
	// an address one end advertises (plexus node --advertise), by either
	// end; false for a link of --join or --listen.
	Direct bool `json:"direct,omitempty"`
	// Suspended: a resumable link (plexus node --resume) whose connection
	// broke, waiting for a resume over a new connection within the resume
	// window; routing has it down meanwhile. SuspendedSince is when its
	// connection broke (absent while the link is up).
	Suspended      bool       `json:"suspended,omitempty"`
	SuspendedSince *time.Time `json:"suspended_since,omitempty"`
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

// RelayedPair is a circuit that ends at the node: the far host, and the
// relays between them.
type RelayedPair struct {
	Host     string    `json:"host"` // the far host's node id
	HostName string    `json:"host_name,omitempty"`
	Via      []Hop     `json:"via"`     // the relays, from this node to Host
	Dialed   bool      `json:"dialed"`  // this node set the circuit up
	Streams  int       `json:"streams"` // connections open on it now
	Bytes    uint64    `json:"bytes"`   // carried, both ways together
	Since    time.Time `json:"since"`   // when it was set up
	// Resumable: the circuit survives the loss of its path (WithResume);
	// Resumes counts the new paths it took.
	Resumable bool   `json:"resumable,omitempty"`
	Resumes   uint64 `json:"resumes,omitempty"`
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

// The ping and trace API: a node measures round trips to another through
// the mesh, for plexus ping and plexus trace. It is answered only by a
// Provider that is also a Pinger (501 otherwise), and bounded so that it
// cannot be used to flood the mesh: a request's probes go one after
// another (at most MaxPingCount of them, within the handler's ping
// timeout, 30s unless WithPingTimeout says otherwise, each within
// ProbeTimeout), and at most MaxPingRequests ping and trace requests run
// at once (429 Too Many Requests beyond). The target is what a person
// types: a node id (16 hex digits), a node name or a service name; one
// that matches no node is a 404, one that matches several a 409 whose
// error lists them, a malformed one a 400. Errors are JSON
// {"error": "..."}, as for the Status.

// Paths of the ping and trace API.
const (
	PingPath  = "/api/v1/ping"
	TracePath = "/api/v1/trace"
)

// Bounds of the ping and trace API.
const (
	MaxPingCount    = 100              // probes per ping request (count)
	MaxPingInterval = 10 * time.Second // between two probes of a request (interval)
	MaxPingRequests = 4                // ping and trace requests running at once
	ProbeTimeout    = 5 * time.Second  // the longest one probe waits for its answer
)

// Hop is a node as the ping and trace API names it.
type Hop struct {
	ID   string `json:"id"`             // node id, 16 hex digits
	Name string `json:"name,omitempty"` // its node name ("": none known)
	// NameVerified: a certificate of the mesh CA vouches for Name.
	NameVerified bool `json:"name_verified,omitempty"`
}

// Probe is one round trip of a PingResult: its RTT, or why it failed.
type Probe struct {
	Seq       int     `json:"seq"`              // from 1
	RTTMillis float64 `json:"rtt_ms,omitempty"` // the round trip, when answered
	Error     string  `json:"error,omitempty"`  // why not, when not
}

// RTT returns RTTMillis as a duration.
func (p Probe) RTT() time.Duration { return seconds(p.RTTMillis / 1e3) }

// PingResult is the answer to GET /api/v1/ping: count probes to the
// target, count-1 intervals apart, and the path they take.
type PingResult struct {
	Target Hop `json:"target"`
	// Path is the relays between the node and the target, in order from
	// the node (empty for a neighbour or the node itself): those of the
	// circuit the probes went over, or that a new one would take.
	Path []Hop `json:"path"`
	// Hops is the number of links on the way (0: the node itself; 1: a
	// neighbour), -1 when no route reaches the target.
	Hops     int     `json:"hops"`
	Probes   []Probe `json:"probes"`
	Sent     int     `json:"sent"`
	Received int     `json:"received"`
	// The least, mean and greatest round trip of the probes answered.
	MinMillis float64 `json:"min_ms,omitempty"`
	AvgMillis float64 `json:"avg_ms,omitempty"`
	MaxMillis float64 `json:"max_ms,omitempty"`
}

// TraceHop is one hop of a TraceResult: a relay on the path, or the
// target, and the round trip to it, measured by a probe of its own (a
// relay is a host too: the probe goes over the link to a neighbour, or
// over a circuit to the relay itself).
type TraceHop struct {
	Hop  int    `json:"hop"` // from 1; the target's is the last
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// NameVerified: a certificate of the mesh CA vouches for Name.
	NameVerified bool    `json:"name_verified,omitempty"`
	RTTMillis    float64 `json:"rtt_ms,omitempty"` // the round trip, when answered
	Error        string  `json:"error,omitempty"`  // why not, when not
}

// RTT returns RTTMillis as a duration.
func (h TraceHop) RTT() time.Duration { return seconds(h.RTTMillis / 1e3) }

// TraceResult is the answer to GET /api/v1/trace: the path to the target
// hop by hop.
type TraceResult struct {
	Target Hop `json:"target"`
	// Hops is the relays in order from the node, then the target; empty
	// when no route reaches it (Reachable false).
	Hops      []TraceHop `json:"hops"`
	Reachable bool       `json:"reachable"`
}

// Pinger is what a Provider implements to answer the ping and trace API.
// Its methods may be called from many goroutines at once.
type Pinger interface {
	// Resolve returns the node a person means by target; its errors
	// about the target are TargetErrors.
	Resolve(target string) (Hop, error)
	// Path returns the relays between the node and id, in order from the
	// node (those of the circuit in use, else those a new one would take),
	// and the number of links on the way: 0 for the node itself, 1 for a
	// neighbour, -1 when no route reaches id.
	Path(id string) (relays []Hop, hops int)
	// Ping measures one round trip to id through the mesh.
	Ping(ctx context.Context, id string) (time.Duration, error)
}

// Errors of a Pinger's Resolve, each answered with its HTTP status.
var (
	ErrNoSuchTarget    = errors.New("status: no such node")          // 404 Not Found
	ErrAmbiguousTarget = errors.New("status: the name is ambiguous") // 409 Conflict
	ErrBadTarget       = errors.New("status: not a node id or name") // 400 Bad Request
)

// TargetError returns err, an error about the target of a ping or trace,
// marked as kind (ErrNoSuchTarget, ErrAmbiguousTarget or ErrBadTarget): it
// reads as err, and errors.Is finds both.
func TargetError(kind, err error) error { return &targetError{kind: kind, err: err} }

type targetError struct{ kind, err error }

func (e *targetError) Error() string   { return e.err.Error() }
func (e *targetError) Unwrap() []error { return []error{e.kind, e.err} }
