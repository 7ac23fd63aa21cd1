// Package pull is the receiving side of the pipeline protocol (NNG's
// pull0, SP protocol id 0x51), wire compatible with NNG and nanomsg.
//
// What lives where: this package is pull0's description (Protocol: its
// ids, no header, no sends); the receives, queues and pipes are package
// socket's, the same for every protocol.
//
// A pull socket receives the messages of any number of push peers, fairly
// from all of them. It does not send: every send fails with
// socket.ErrInvalidSendType.
package pull

import (
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is pull0: it pairs with push0 and never sends.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x51, Name: "pull"},
	Peer:   transport.Proto{ID: 0x50, Name: "push"},
	Header: socket.HeaderNone,
	TTL:    8,
}

// New returns a pull socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}
