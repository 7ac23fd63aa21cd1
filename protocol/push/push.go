// Package push is the sending side of the pipeline protocol (NNG's push0,
// SP protocol id 0x50), wire compatible with NNG and nanomsg.
//
// What lives where: this package is push0's description (Protocol: its
// ids, no header, each message to one peer, no receives); the sends,
// queues and pipes are package socket's, the same for every protocol.
//
// Each message goes to exactly one pull peer, chosen fairly among those
// ready to take it, so that work spreads over all the pullers (a
// load-balanced pipeline). Messages wait in a queue shared by all peers
// until one of them takes them; while no peer is connected, or all are
// behind, Send waits for room in that queue (or drops, with
// socket.WithSendBestEffort).
//
// A push socket does not receive: Recv fails with
// socket.ErrInvalidRecvType. SendAll and SendTo are not part of the
// pattern and fail with socket.ErrInvalidSendType.
package push

import (
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is push0: it pairs with pull0, sends each message to one peer,
// and never receives.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x50, Name: "push"},
	Peer:   transport.Proto{ID: 0x51, Name: "pull"},
	Header: socket.HeaderNone,
	TTL:    8,
	Sends:  socket.SendsOne,
	NoRecv: true,
}

// New returns a push socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}
