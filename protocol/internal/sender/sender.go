// Package sender holds what the protocols share about the ways of
// sending: DropOK, for those that send to every peer without waiting for
// a slow one (bus0, pub0, surveyor0), and the socket wrappers of the
// stateless protocols, which narrow sending to every peer (All: bus0,
// pub0) or to one peer (One: pair0, push0).
package sender

import (
	"context"
	"errors"

	"github.com/plexusnet/plexus/socket"
)

// DropOK turns the drop for a slow peer (socket.ErrMsgDropped) into
// success: a protocol that sends to every peer never waits for one that
// is behind, and the drop is counted in Stats().Dropped.
func DropOK(err error) error {
	if errors.Is(err, socket.ErrMsgDropped) {
		return nil
	}
	return err
}

// All is a socket every send of which goes to every peer, and a drop for
// a slow peer is not an error. Send and SendAll are the same; SendTo and a
// message with a Destination are socket.ErrInvalidSendType.
type All struct{ socket.Socket }

// Send sends content to every peer.
func (s *All) Send(content []byte) error { return DropOK(s.Socket.SendAll(content)) }

// SendContext is Send bounded by ctx.
func (s *All) SendContext(ctx context.Context, content []byte) error {
	return DropOK(s.Socket.SendAllContext(ctx, content))
}

// SendAll is Send.
func (s *All) SendAll(content []byte) error { return s.Send(content) }

// SendAllContext is SendContext.
func (s *All) SendAllContext(ctx context.Context, content []byte) error {
	return s.SendContext(ctx, content)
}

// SendTo is not part of the pattern: socket.ErrInvalidSendType.
func (s *All) SendTo(socket.Path, []byte) error { return socket.ErrInvalidSendType }

// SendToContext is not part of the pattern: socket.ErrInvalidSendType.
func (s *All) SendToContext(context.Context, socket.Path, []byte) error {
	return socket.ErrInvalidSendType
}

// SendMsg sends msg.Content to every peer, except, for a message this
// socket received, the peer it came from. A message with a Destination is
// socket.ErrInvalidSendType.
func (s *All) SendMsg(msg *socket.Message) error {
	return s.SendMsgContext(context.Background(), msg)
}

// SendMsgContext is SendMsg bounded by ctx.
func (s *All) SendMsgContext(ctx context.Context, msg *socket.Message) error {
	if len(msg.Destination) > 0 {
		return socket.ErrInvalidSendType
	}
	return DropOK(s.Socket.SendMsgContext(ctx, msg))
}

// One is a socket that sends each message to one peer, without the ways
// of sending that need several: SendAll, SendTo and a message with a
// Destination are socket.ErrInvalidSendType.
type One struct{ socket.Socket }

// SendAll is not part of the pattern: socket.ErrInvalidSendType.
func (s *One) SendAll([]byte) error { return socket.ErrInvalidSendType }

// SendAllContext is not part of the pattern: socket.ErrInvalidSendType.
func (s *One) SendAllContext(context.Context, []byte) error { return socket.ErrInvalidSendType }

// SendTo is not part of the pattern: socket.ErrInvalidSendType.
func (s *One) SendTo(socket.Path, []byte) error { return socket.ErrInvalidSendType }

// SendToContext is not part of the pattern: socket.ErrInvalidSendType.
func (s *One) SendToContext(context.Context, socket.Path, []byte) error {
	return socket.ErrInvalidSendType
}

// SendMsg sends msg.Content to one peer, as Send; a message with a
// Destination is socket.ErrInvalidSendType.
func (s *One) SendMsg(msg *socket.Message) error {
	return s.SendMsgContext(context.Background(), msg)
}

// SendMsgContext is SendMsg bounded by ctx.
func (s *One) SendMsgContext(ctx context.Context, msg *socket.Message) error {
	if len(msg.Destination) > 0 {
		return socket.ErrInvalidSendType
	}
	return s.Socket.SendMsgContext(ctx, msg)
}
