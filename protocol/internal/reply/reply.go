// Package reply is what the answering sides of the request/reply and survey
// protocols (rep0 and respondent0) share: a socket that remembers the
// backtrace of the last request it received, so that Send can answer it
// along that path, as NNG's rep and respondent do.
package reply

import (
	"context"
	"fmt"
	"sync"

	"github.com/plexusnet/plexus/socket"
)

// Socket is a socket.Socket that answers the last request received: Recv
// and RecvMsg remember the request's backtrace (its Source path), and Send
// sends along it, once. SendTo answers any request, from any goroutine, at
// any time; SendAll is not part of the pattern.
type Socket struct {
	socket.Socket

	none string // why Send fails with no request pending, e.g. "no request to reply to"

	mu   sync.Mutex
	last socket.Path // backtrace of the last request received
}

// New returns s answering the last request received. none completes the
// socket.ErrBadState of a Send with no request pending.
func New(s socket.Socket, none string) *Socket { return &Socket{Socket: s, none: none} }

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

// RecvInto is RecvContext into buf (see socket.Receiver). It copies what
// RecvContext returns, so it allocates as Recv does.
func (s *Socket) RecvInto(ctx context.Context, buf []byte) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	b, err := s.RecvContext(ctx)
	return append(buf[:0], b...), err
}

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

// Send answers the last request received; with none pending it fails
// with socket.ErrBadState.
func (s *Socket) Send(content []byte) error { return s.SendContext(context.Background(), content) }

// SendContext is Send bounded by ctx.
func (s *Socket) SendContext(ctx context.Context, content []byte) error {
	s.mu.Lock()
	p := s.last
	s.last = nil
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%w: %s", socket.ErrBadState, s.none)
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

// SendAll is not part of the pattern: socket.ErrInvalidSendType.
func (s *Socket) SendAll([]byte) error { return socket.ErrInvalidSendType }

// SendAllContext is not part of the pattern: socket.ErrInvalidSendType.
func (s *Socket) SendAllContext(context.Context, []byte) error { return socket.ErrInvalidSendType }
