package socket

import (
	"errors"
	"fmt"
	"net"

	"github.com/plexusnet/plexus/transport"
)

// Errors returned by sockets. Test them with errors.Is. Deadlines give
// os.ErrDeadlineExceeded and a cancelled context its own error.
var (
	// ErrMsgDropped: the message was not sent, because the queue was full
	// and the socket is best effort (WithSendBestEffort), or because a
	// broadcast could not reach a slow peer.
	ErrMsgDropped = errors.New("socket: message dropped")
	// ErrPeerFull: a send to one pipe (SendTo, SendMsg along a
	// Destination) found that pipe's own queue full while the pipe is
	// lagging: its connection took nothing for 100 ms, its peer does not
	// read. Sends to a lagging pipe do not wait, so that one slow peer
	// cannot hold up sends to the others; the message is dropped and
	// counted in Stats.PeerFull (and Stats.Dropped). It matches
	// ErrMsgDropped too.
	ErrPeerFull = fmt.Errorf("%w: the peer's send queue is full", ErrMsgDropped)
	// ErrBrokenPath: SendTo's path leads nowhere: it is empty, or its first
	// hop is not a pipe of this socket (the peer has gone; pipe ids are
	// never reused, so a reply never reaches another peer).
	ErrBrokenPath = errors.New("socket: bad destination: broken path")
	// ErrInvalidSendType: the socket cannot send this way (WithNoSend, or a
	// protocol that does not have it, see Protocol.Sends).
	ErrInvalidSendType = errors.New("socket: invalid send type")
	// ErrInvalidRecvType: the socket does not receive (WithNoRecv, or a
	// protocol with NoRecv).
	ErrInvalidRecvType = errors.New("socket: invalid receive type")
	// ErrBadState: the operation makes no sense now, such as receiving a
	// reply on a req socket with no request outstanding (NNG's ESTATE).
	ErrBadState = errors.New("socket: incorrect state for this operation")
	// ErrClosed: the socket is closed. It matches net.ErrClosed too, as
	// the errors of a closed net.Conn or net.Listener do.
	ErrClosed error = &closedError{"socket: closed"}
	// ErrBadOption: New was given an option that is not for its socket: an
	// option of another protocol (req.WithResendInterval to rep.New), a
	// second WithProtocol, a send mode the protocol does not have; or a
	// protocol's operation was applied to a socket of another protocol
	// (sub.Subscribe on a pub socket). The error says which.
	ErrBadOption = errors.New("socket: option or operation not for this socket")
	// ErrTooManyPeers: the socket already has WithMaxPeers pipes.
	ErrTooManyPeers = errors.New("socket: too many peers")
	// ErrProtocolMismatch: the peer speaks a protocol this socket does not
	// pair with (the same value as transport.ErrProtocolMismatch).
	ErrProtocolMismatch = transport.ErrProtocolMismatch
)

// closedError is a "closed" sentinel that matches net.ErrClosed too.
type closedError struct{ msg string }

func (e *closedError) Error() string { return e.msg }

// Is makes errors.Is(err, net.ErrClosed) true.
func (e *closedError) Is(target error) bool { return target == net.ErrClosed }
