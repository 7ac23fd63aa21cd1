// Package pull is the receiving side of the pipeline protocol (NNG's
// pull0, SP protocol id 0x51), wire compatible with NNG and nanomsg.
//
// A pull socket receives the messages of any number of push peers, fairly
// from all of them. It does not send: every send fails with
// socket.ErrInvalidSendType.
package pull

import (
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is pull0: it pairs with push0.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x51, Name: "pull"},
	Peer:   transport.Proto{ID: 0x50, Name: "push"},
	Header: socket.HeaderNone,
	TTL:    8,
}

// New returns a pull socket with socket options opts.
func New(opts ...socket.Option) (socket.Socket, error) {
	all := append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)
	return socket.New(append(all, socket.WithNoSend())...), nil
}
