//go:build noplexusmux

package muxpeer

// Plexus stands in for plexus mux in a build with -tags noplexusmux (for when
// package mux is mid-edit and does not compile); muxbench prints it as skipped.
func Plexus() Peer {
	return Peer{Name: "plexus", Unavailable: "built with -tags noplexusmux"}
}
