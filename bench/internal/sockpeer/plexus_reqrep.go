//go:build !noplexussock

package sockpeer

import (
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/socket"
)

func plexusReqRep() map[Kind]plexusOpener {
	return map[Kind]plexusOpener{
		Req: func() (socket.Socket, func([]byte) error, error) { s, err := req.New(); return s, nil, err },
		Rep: func() (socket.Socket, func([]byte) error, error) { s, err := rep.New(); return s, nil, err },
	}
}
