//go:build !noplexussock && plexuspushpull

package sockpeer

import (
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/socket"
)

func plexusPushPull() map[Kind]plexusOpener {
	return map[Kind]plexusOpener{
		Push: func() (socket.Socket, func([]byte) error, error) { s, err := push.New(); return s, nil, err },
		Pull: func() (socket.Socket, func([]byte) error, error) { s, err := pull.New(); return s, nil, err },
	}
}
