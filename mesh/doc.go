// Package mesh is a secure overlay network on top of package mux: a flat
// network of virtual hosts (uint64 node ids, printed as 16 hex digits),
// virtual ports (uint32) and service names, reached through any number of
// relays, with the API of package net.
//
//	n, err := mesh.New(mesh.WithName("prod"), mesh.WithTLS(cfg)) // or mesh.WithInsecure()
//	n.ListenAndServe("tcp", ":7000")               // accept links
//	n.Join("tcp", "10.0.0.1:7000")                 // keep a link up
//	ln, err := n.Listen("", "billing")             // a service name (or ":80", "billing:80")
//	c, err := n.Dial("", "billing")                // the nearest instance, through any relays
//	c, err := n.Dial("", "00c0ffee00c0ffee:80")    // a port of a host
//	client := &http.Client{Transport: n.HTTPTransport()} // http://billing/
//
// What lives where: node.go, options.go, limits.go and errors.go hold the
// Node and its configuration; link.go and serve.go the links and what
// they accept; dial.go, conn.go, listener.go and services.go connections;
// flood.go drives routing; circuit.go, relay.go and avoid.go circuits,
// direct.go the direct upgrade of relayed pairs;
// identity.go, policy.go, revoke.go and reload.go security; introspect.go
// and stats.go what a node reports, ping.go its round trips and paths. The pure parts are internal packages
// that do no I/O: mesh/internal/linkstate (the routing records and the
// routing state machine), mesh/internal/wire (the link handshake and the
// stream headers) and mesh/internal/base (node ids, names and errors);
// this package re-exports what they define of its API (Route, Version,
// LimitError, ErrBadRecord and the other errors).
//
// A link is one mux session per physical connection between two
// neighbours; its first stream carries the handshake (version, mesh name,
// node id; mutual TLS 1.3 first when secured) and then link-state records.
// Every node originates one record (its live neighbours, its services,
// whether it relays), signed when secured; records flood, the newest
// sequence wins, and every node computes shortest paths. A host that is
// not a neighbour is reached through a circuit: a source-routed chain of
// link streams spliced at each relay (mux.Splice: no goroutine or buffer
// per circuit), carrying one inner mux session (end to end TLS when
// secured) for every stream between the two hosts.
//
// A dial opens a stream on the session that reaches the host. The first
// dial to a port or service on a session waits for its verdict, so that
// it fails fast with ErrConnRefused or ErrNoService; later dials to a
// destination that has accepted return at once, as a mux open does, and a
// refusal then comes with the connection's first Read (see
// Node.DialContext).
//
// A revocation list signed by the mesh CA (SignRevocationList) names node
// ids that a secured node refuses: links, records, services, circuits; it
// is loaded (WithRevocationList, Node.SetRevocationList) and floods like
// a record, the highest sequence number winning (revoke.go).
//
// Every peer-controlled quantity is bounded by Limits, and the mux sessions
// of links and circuits run with bounded windows (WithLinkConfig,
// WithCircuitConfig); errors are values to test with errors.Is.
//
// docs/mesh.md explains the concepts and security set-up,
// docs/protocol.md specifies the wire formats.
package mesh
