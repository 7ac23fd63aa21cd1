//go:build !plexusmux

package muxpeer

// Plexus stands in for plexus mux in a build without the plexusmux tag
// (before package mux compiled); muxbench prints it as skipped.
func Plexus() Peer {
	return Peer{Name: "plexus", Unavailable: "built without -tags plexusmux (package mux did not build yet)"}
}
