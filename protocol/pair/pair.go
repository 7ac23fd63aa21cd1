// Package pair is the one-to-one protocol (NNG's pair0, SP protocol id
// 0x10), wire compatible with NNG and nanomsg.
//
// A pair socket has at most one peer and talks to it both ways: Send
// queues for the peer (waiting while there is none, as NNG's pair0 does)
// and Recv returns what it sent. While a peer is connected every other
// connection is refused: a listening pair closes it right after the SP
// handshake, as NNG's pair0 does (NNG_EBUSY, "already paired"), and Dial
// on a pair that already has its peer fails with socket.ErrTooManyPeers.
//
// Messages carry no header on the wire. SendAll and SendTo make no sense
// with one peer and fail with socket.ErrInvalidSendType.
package pair

import (
	"github.com/plexusnet/plexus/protocol/internal/sender"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is pair0: it pairs with itself.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x10, Name: "pair"},
	Peer:   transport.Proto{ID: 0x10, Name: "pair"},
	Header: socket.HeaderNone,
	TTL:    8,
}

// New returns a pair socket. opts are socket options; the limit of one
// peer and sending to one peer are not negotiable.
func New(opts ...socket.Option) (socket.Socket, error) {
	all := append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)
	all = append(all, socket.WithMaxPeers(1), socket.WithSendMode(socket.SendToOne))
	return &sender.One{Socket: socket.New(all...)}, nil
}
