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
	"context"

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
	return &sock{socket.New(all...)}, nil
}

// sock is a pair socket: a socket.Socket without the ways of sending that
// need several peers.
type sock struct{ socket.Socket }

// SendAll is not part of pair: ErrInvalidSendType.
func (s *sock) SendAll([]byte) error { return socket.ErrInvalidSendType }

// SendAllContext is not part of pair: ErrInvalidSendType.
func (s *sock) SendAllContext(context.Context, []byte) error { return socket.ErrInvalidSendType }

// SendTo is not part of pair: ErrInvalidSendType.
func (s *sock) SendTo(socket.Path, []byte) error { return socket.ErrInvalidSendType }

// SendToContext is not part of pair: ErrInvalidSendType.
func (s *sock) SendToContext(context.Context, socket.Path, []byte) error {
	return socket.ErrInvalidSendType
}

// SendMsg sends msg.Content to the peer; a message with a Destination is
// ErrInvalidSendType.
func (s *sock) SendMsg(msg *socket.Message) error {
	return s.SendMsgContext(context.Background(), msg)
}

// SendMsgContext is SendMsg bounded by ctx.
func (s *sock) SendMsgContext(ctx context.Context, msg *socket.Message) error {
	if len(msg.Destination) > 0 {
		return socket.ErrInvalidSendType
	}
	return s.Socket.SendMsgContext(ctx, msg)
}
