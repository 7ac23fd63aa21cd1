//go:build !cgo

package sockpeer

const noCgo = "built without cgo (CGO_ENABLED=0); libzmq and NNG are loaded through cgo"

// ZMQ stands in for libzmq in a build without cgo.
func ZMQ() Peer { return Peer{Name: "libzmq", Unavailable: noCgo} }

// NNG stands in for NNG in a build without cgo.
func NNG() Peer { return Peer{Name: "NNG", Unavailable: noCgo} }
