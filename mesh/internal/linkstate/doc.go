// Package linkstate is the mesh's link state: the record each node
// originates and floods (record.go: its encoding and structural checks),
// and the routing state machine of one node (routing.go): the database of
// the records held, the shortest paths through the relays they describe,
// and the records to send when links, services, received records, the
// revocation list (revoke.go) or the time change. view.go is what the
// node's introspection reads of it.
//
// It is pure: it starts no goroutine and does no I/O, and its only clock
// is the time each call is given, so it is unit-tested directly and
// simulated at scale (routing_sim_test.go). Package mesh drives it
// (flood.go), verifies the records' signatures before they get here, and
// re-exports Route. It imports only pure parts of the standard library and
// mesh/internal/base.
package linkstate
