//go:build !noplexussock && !plexuspushpull

package sockpeer

// plexusPushPull has nothing until protocol/push and protocol/pull build (-tags plexuspushpull).
func plexusPushPull() map[Kind]plexusOpener { return nil }
