// Package bus is the many-to-many protocol (NNG's bus0, SP protocol id
// 0x70), wire compatible with NNG and nanomsg.
//
// What lives where: this package is bus0's description (Protocol: its
// ids, no header, every message to every peer); the sends, receives,
// queues and pipes (and forwarding to all but the sender) are package
// socket's, the same for every protocol.
//
// Every message sent goes to every bus peer connected at the time, and
// Recv returns what any of them sent. A bus does not forward on its own:
// for every member to hear every other, connect them all to each other
// (a full mesh), or run a device. Forwarding a received message with
// SendMsg sends it to every peer but the one it came from, as NNG's raw
// bus does, so a single bus socket with a switch to itself
// (socket.StartSwitch(b, b, nil)) is a bus device. Messages carry no
// header and no hop count: devices must not form a loop.
//
// As in NNG, sending never waits for a slow peer: a peer whose queue is
// full misses the message (counted in Stats().Dropped) and Send still
// succeeds. SendTo is not part of the pattern and fails with
// socket.ErrInvalidSendType; SendAll is the same as Send.
package bus

import (
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is bus0: it pairs with itself and sends every message to every
// peer without waiting for slow ones.
var Protocol = socket.Protocol{
	Self:     transport.Proto{ID: 0x70, Name: "bus"},
	Peer:     transport.Proto{ID: 0x70, Name: "bus"},
	Header:   socket.HeaderNone,
	TTL:      8,
	Sends:    socket.SendsAll,
	DropSlow: true,
}

// New returns a bus socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}
