//go:build !noplexussock && !plexuspubsub

package sockpeer

// plexusPubSub has nothing until protocol/pub and protocol/sub build (-tags plexuspubsub).
func plexusPubSub() map[Kind]plexusOpener { return nil }
