// Package rep is the replier side of the request/reply protocol (NNG's
// rep0, SP protocol id 0x31), wire compatible with NNG and nanomsg.
//
// A received request's Source path is its backtrace: the pipe it came on,
// the pipes of any devices it crossed, and its request id. There are two
// ways to answer:
//
//   - SendTo(msg.Source, reply), from any goroutine, at any time: the way
//     to serve requests concurrently;
//   - Send(reply) answers the last request returned by Recv or RecvMsg, as
//     NNG's rep does; with none pending it fails with socket.ErrBadState.
//
// A reply whose requester has gone fails with socket.ErrBrokenPath and
// never reaches another peer.
package rep

import (
	"context"
	"fmt"
	"sync"

	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is rep0: it pairs with req0 and receives the request backtrace.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x31, Name: "rep"},
	Peer:   transport.Proto{ID: 0x30, Name: "req"},
	Header: socket.HeaderReply,
	TTL:    8,
}

// NewRaw returns a rep socket that keeps no state, for devices: requests
// come up with their backtrace as Source path and replies go out along
// their Destination, as NNG's raw rep.
func NewRaw(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...), nil
}

// Socket is a rep socket. New returns one as a socket.Socket.
type Socket struct {
	socket.Socket

	mu   sync.Mutex
	last socket.Path // backtrace of the last request received
}

// New returns a rep socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	s := &Socket{}
	s.Socket = socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
	return s, nil
}

// Recv returns the next request and makes it the one Send answers.
func (s *Socket) Recv() ([]byte, error) { return s.RecvContext(context.Background()) }

// RecvContext is Recv bounded by ctx.
func (s *Socket) RecvContext(ctx context.Context) ([]byte, error) {
	m, err := s.RecvMsgContext(ctx)
	if err != nil {
		return nil, err
	}
	return m.Content, nil
}

// RecvMsg returns the next request with its backtrace (Source) and makes
// it the one Send answers.
func (s *Socket) RecvMsg() (*socket.Message, error) { return s.RecvMsgContext(context.Background()) }

// RecvMsgContext is RecvMsg bounded by ctx.
func (s *Socket) RecvMsgContext(ctx context.Context) (*socket.Message, error) {
	m, err := s.Socket.RecvMsgContext(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.last = m.Source
	s.mu.Unlock()
	return m, nil
}

// Send answers the last request received.
func (s *Socket) Send(content []byte) error { return s.SendContext(context.Background(), content) }

// SendContext is Send bounded by ctx.
func (s *Socket) SendContext(ctx context.Context, content []byte) error {
	s.mu.Lock()
	p := s.last
	s.last = nil
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%w: no request to reply to", socket.ErrBadState)
	}
	return s.Socket.SendToContext(ctx, p, content)
}

// SendMsg sends msg along its Destination, or answers the last request
// when it has none.
func (s *Socket) SendMsg(msg *socket.Message) error {
	return s.SendMsgContext(context.Background(), msg)
}

// SendMsgContext is SendMsg bounded by ctx.
func (s *Socket) SendMsgContext(ctx context.Context, msg *socket.Message) error {
	if len(msg.Destination) == 0 {
		return s.SendContext(ctx, msg.Content)
	}
	return s.Socket.SendMsgContext(ctx, msg)
}

// SendAll is not part of rep: ErrInvalidSendType.
func (s *Socket) SendAll([]byte) error { return socket.ErrInvalidSendType }

// SendAllContext is not part of rep: ErrInvalidSendType.
func (s *Socket) SendAllContext(context.Context, []byte) error { return socket.ErrInvalidSendType }
