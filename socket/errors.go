package socket

import (
	"errors"
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
	// ErrBrokenPath: SendTo's path leads nowhere: it is empty, or its first
	// hop is not a pipe of this socket (the peer has gone; pipe ids are
	// never reused, so a reply never reaches another peer).
	ErrBrokenPath = errors.New("socket: bad destination: broken path")
	// ErrInvalidSendType: the socket cannot send this way (WithNoSend, or a
	// protocol that does not allow it).
	ErrInvalidSendType = errors.New("socket: invalid send type")
	// ErrInvalidRecvType: the socket does not receive (WithNoRecv).
	ErrInvalidRecvType = errors.New("socket: invalid receive type")
	// ErrBadState: the operation makes no sense now, such as receiving a
	// reply on a req socket with no request outstanding (NNG's ESTATE).
	ErrBadState = errors.New("socket: incorrect state for this operation")
	// ErrClosed: the socket is closed. It matches net.ErrClosed too, as
	// the errors of a closed net.Conn or net.Listener do.
	ErrClosed error = &closedError{"socket: closed"}
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
