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
	"github.com/plexusnet/plexus/protocol/internal/reply"
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
//
// Recv and RecvMsg make the request they return the one Send answers;
// SendMsg sends along the message's Destination, or answers the last
// request when it has none; SendAll fails with socket.ErrInvalidSendType.
type Socket = reply.Socket

// New returns a rep socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	s := socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
	return reply.New(s, "no request to reply to"), nil
}
