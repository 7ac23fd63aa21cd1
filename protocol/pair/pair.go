// Package pair is the one-to-one protocol (NNG's pair0, SP protocol id
// 0x10), wire compatible with NNG and nanomsg.
//
// What lives where: this package is pair0's description (Protocol: its
// ids, no header, one peer); the sends, receives, queues and pipes are
// package socket's, the same for every protocol.
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
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is pair0: it pairs with itself and has one peer at most.
var Protocol = socket.Protocol{
	Self:     transport.Proto{ID: 0x10, Name: "pair"},
	Peer:     transport.Proto{ID: 0x10, Name: "pair"},
	Header:   socket.HeaderNone,
	TTL:      8,
	Sends:    socket.SendsOne,
	MaxPeers: 1,
}

// New returns a pair socket. The limit of one peer holds whatever the
// options say (socket.WithMaxPeers may not raise it).
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}
