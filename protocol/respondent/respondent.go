// Package respondent is the answering side of the survey protocol (NNG's
// respondent0, SP protocol id 0x63), wire compatible with NNG and
// nanomsg.
//
// What lives where: this package is respondent0's description (Protocol:
// its ids, its header, answers along a path); its handler, which
// remembers the last survey for Send, is protocol/internal/backtrace's
// Replier, shared with rep; the sends, receives, queues and pipes are
// package socket's, the same for every protocol.
//
// A respondent receives surveys from its surveyor peers and may answer
// each one. A received survey's Source path is its backtrace: the pipe it
// came on, the pipes of any devices it crossed, and the survey id. There
// are two ways to answer:
//
//   - SendTo(msg.Source, reply), from any goroutine, at any time;
//   - Send(reply) answers the last survey returned by Recv, RecvMsg or
//     RecvInto, as NNG's respondent does; with none pending it fails with
//     socket.ErrBadState.
//
// An answer whose surveyor has gone fails with socket.ErrBrokenPath and
// never reaches another peer; one that arrives after the survey's
// deadline is dropped by the surveyor. A surveyor that does not read its
// answers holds up no other: answers to it fail with socket.ErrPeerFull
// once its queue is full and it has taken nothing for 100 ms, as for rep.
// SendAll is not part of the pattern and fails with
// socket.ErrInvalidSendType.
package respondent

import (
	"github.com/plexusnet/plexus/protocol/internal/backtrace"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is respondent0: it pairs with surveyor0, receives the survey
// backtrace and answers along it.
var Protocol = socket.Protocol{
	Self:    transport.Proto{ID: 0x63, Name: "respondent"},
	Peer:    transport.Proto{ID: 0x62, Name: "surveyor"},
	Header:  socket.HeaderReply,
	TTL:     8,
	Sends:   socket.SendsPath,
	Handler: func() socket.Handler { return &handler{backtrace.Replier{None: "no survey to answer"}} },
}

// handler is the state of a respondent socket: the last survey received.
type handler struct{ backtrace.Replier }

// New returns a respondent socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}

// NewRaw returns a respondent socket that keeps no state, for devices:
// surveys come up with their backtrace as Source path and answers go out
// along their Destination, as NNG's raw respondent.
func NewRaw(opts ...socket.Option) (socket.Socket, error) {
	p := Protocol
	p.Handler = nil
	return socket.New(append([]socket.Option{socket.WithProtocol(p)}, opts...)...)
}
