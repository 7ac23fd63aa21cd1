//go:build !noplexussock && plexuspubsub

package sockpeer

import (
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
)

func plexusPubSub() map[Kind]plexusOpener {
	return map[Kind]plexusOpener{
		Pub: func() (socket.Socket, func([]byte) error, error) { s, err := pub.New(); return s, nil, err },
		Sub: func() (socket.Socket, func([]byte) error, error) {
			s, err := sub.New()
			if err != nil {
				return nil, nil, err
			}
			return s, s.Subscribe, nil
		},
	}
}
