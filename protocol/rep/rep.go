// Package rep is the replier side of the request/reply protocol (NNG's
// rep0, SP protocol id 0x31), wire compatible with NNG and nanomsg.
//
// What lives where: this package is rep0's description (Protocol: its
// ids, its header, replies along a path); its handler, which remembers
// the last request for Send, is protocol/internal/backtrace's Replier,
// shared with respondent; the sends, receives, queues and pipes are
// package socket's, the same for every protocol.
//
// A received request's Source path is its backtrace: the pipe it came on,
// the pipes of any devices it crossed, and its request id. There are two
// ways to answer:
//
//   - SendTo(msg.Source, reply), from any goroutine, at any time: the way
//     to serve requests concurrently;
//   - Send(reply) answers the last request returned by Recv, RecvMsg or
//     RecvInto, as NNG's rep does; with none pending it fails with
//     socket.ErrBadState. SendMsg of a message without a Destination does
//     the same; with one, it sends along it.
//
// A reply whose requester has gone fails with socket.ErrBrokenPath and
// never reaches another peer. SendAll is not part of the pattern and
// fails with socket.ErrInvalidSendType.
//
// A requester that sends requests and does not read its replies cannot
// stall the server, even one that answers from a single loop: once that
// requester's queue is full and its connection has taken nothing for
// 100 ms, replies to it fail at once with socket.ErrPeerFull (counted in
// Stats().PeerFull) until it reads again; its req socket resends what it
// still wants after its resend interval. NNG's raw rep (xrep0) drops a
// reply to a pipe whose 64-message queue is full, silently; its cooked rep0
// makes the context's send wait for the busy pipe, up to the send timeout
// (none by default), so a server answering from one context stalls behind
// such a requester.
package rep

import (
	"github.com/plexusnet/plexus/protocol/internal/backtrace"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is rep0: it pairs with req0, receives the request backtrace and
// replies along it.
var Protocol = socket.Protocol{
	Self:    transport.Proto{ID: 0x31, Name: "rep"},
	Peer:    transport.Proto{ID: 0x30, Name: "req"},
	Header:  socket.HeaderReply,
	TTL:     8,
	Sends:   socket.SendsPath,
	Handler: func() socket.Handler { return &handler{backtrace.Replier{None: "no request to reply to"}} },
}

// handler is the state of a rep socket: the last request received.
type handler struct{ backtrace.Replier }

// New returns a rep socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}

// NewRaw returns a rep socket that keeps no state, for devices: requests
// come up with their backtrace as Source path and replies go out along
// their Destination (or SendTo's path), as NNG's raw rep; Send, with no
// path, is socket.ErrInvalidSendType.
func NewRaw(opts ...socket.Option) (socket.Socket, error) {
	p := Protocol
	p.Handler = nil
	return socket.New(append([]socket.Option{socket.WithProtocol(p)}, opts...)...)
}
