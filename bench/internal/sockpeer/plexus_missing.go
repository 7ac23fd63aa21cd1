//go:build !plexussock

package sockpeer

// Plexus stands in for plexus socket in a build without the plexussock tag
// (before packages socket and protocol/... compiled); sockbench prints it as skipped.
func Plexus() Peer {
	return Peer{Name: "plexus", Unavailable: "built without -tags plexussock (package socket did not build yet)"}
}
