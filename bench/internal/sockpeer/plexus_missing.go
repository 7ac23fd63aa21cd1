//go:build noplexussock

package sockpeer

// Plexus stands in for plexus socket in a build with -tags noplexussock (for
// when package socket is mid-edit and does not compile); sockbench prints it
// as skipped.
func Plexus() Peer {
	return Peer{Name: "plexus", Unavailable: "built with -tags noplexussock"}
}
