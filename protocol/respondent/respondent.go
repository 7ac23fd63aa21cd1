// Package respondent is the answering side of the survey protocol (NNG's
// respondent0, SP protocol id 0x63), wire compatible with NNG and
// nanomsg.
//
// A respondent receives surveys from its surveyor peers and may answer
// each one. A received survey's Source path is its backtrace: the pipe it
// came on, the pipes of any devices it crossed, and the survey id. There
// are two ways to answer:
//
//   - SendTo(msg.Source, reply), from any goroutine, at any time;
//   - Send(reply) answers the last survey returned by Recv or RecvMsg, as
//     NNG's respondent does; with none pending it fails with
//     socket.ErrBadState.
//
// An answer whose surveyor has gone fails with socket.ErrBrokenPath and
// never reaches another peer; one that arrives after the survey's
// deadline is dropped by the surveyor. SendAll is not part of the pattern
// and fails with socket.ErrInvalidSendType.
package respondent

import (
	"context"
	"fmt"
	"sync"

	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is respondent0: it pairs with surveyor0 and receives the
// survey backtrace.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x63, Name: "respondent"},
	Peer:   transport.Proto{ID: 0x62, Name: "surveyor"},
	Header: socket.HeaderReply,
	TTL:    8,
}

// NewRaw returns a respondent socket that keeps no state, for devices:
// surveys come up with their backtrace as Source path and answers go out
// along their Destination, as NNG's raw respondent.
func NewRaw(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...), nil
}

// New returns a respondent socket with socket options opts.
func New(opts ...socket.Option) (socket.Socket, error) {
	s := &sock{}
	s.Socket = socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
	return s, nil
}

// sock is a respondent socket: it remembers the last survey received, for
// Send.
type sock struct {
	socket.Socket

	mu   sync.Mutex
	last socket.Path // backtrace of the last survey received
}

// Recv returns the next survey and makes it the one Send answers.
func (s *sock) Recv() ([]byte, error) { return s.RecvContext(context.Background()) }

// RecvContext is Recv bounded by ctx.
func (s *sock) RecvContext(ctx context.Context) ([]byte, error) {
	m, err := s.RecvMsgContext(ctx)
	if err != nil {
		return nil, err
	}
	return m.Content, nil
}

// RecvMsg returns the next survey with its backtrace (Source) and makes
// it the one Send answers.
func (s *sock) RecvMsg() (*socket.Message, error) { return s.RecvMsgContext(context.Background()) }

// RecvMsgContext is RecvMsg bounded by ctx.
func (s *sock) RecvMsgContext(ctx context.Context) (*socket.Message, error) {
	m, err := s.Socket.RecvMsgContext(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.last = m.Source
	s.mu.Unlock()
	return m, nil
}

// Send answers the last survey received.
func (s *sock) Send(content []byte) error { return s.SendContext(context.Background(), content) }

// SendContext is Send bounded by ctx.
func (s *sock) SendContext(ctx context.Context, content []byte) error {
	s.mu.Lock()
	p := s.last
	s.last = nil
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%w: no survey to answer", socket.ErrBadState)
	}
	return s.Socket.SendToContext(ctx, p, content)
}

// SendMsg sends msg along its Destination, or answers the last survey
// when it has none.
func (s *sock) SendMsg(msg *socket.Message) error {
	return s.SendMsgContext(context.Background(), msg)
}

// SendMsgContext is SendMsg bounded by ctx.
func (s *sock) SendMsgContext(ctx context.Context, msg *socket.Message) error {
	if len(msg.Destination) == 0 {
		return s.SendContext(ctx, msg.Content)
	}
	return s.Socket.SendMsgContext(ctx, msg)
}

// SendAll is not part of respondent: ErrInvalidSendType.
func (s *sock) SendAll([]byte) error { return socket.ErrInvalidSendType }

// SendAllContext is not part of respondent: ErrInvalidSendType.
func (s *sock) SendAllContext(context.Context, []byte) error { return socket.ErrInvalidSendType }
