// Package pub is the publishing side of the publish/subscribe protocol
// (NNG's pub0, SP protocol id 0x20), wire compatible with NNG and nanomsg.
//
// What lives where: this package is pub0's description (Protocol: its
// ids, no header, every message to every peer, no receives) and the one
// option it has (WithBlocking); the sends, queues and pipes are package
// socket's, the same for every protocol.
//
// Every message goes to every sub peer connected at the time; the
// subscribers filter by topic themselves (package sub), so a publisher
// never learns what they want. As in NNG, publishing never waits for a
// slow subscriber: a subscriber whose queue is full misses the message
// (counted in Stats().Dropped) and Send still succeeds. WithBlocking
// trades that for back-pressure: Send waits until every subscriber has
// room.
//
// A pub socket does not receive: Recv fails with
// socket.ErrInvalidRecvType. SendAll is the same as Send; SendTo is not
// part of the pattern and fails with socket.ErrInvalidSendType.
package pub

import (
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is pub0: it pairs with sub0, sends every message to every
// peer without waiting for slow ones, and never receives.
var Protocol = socket.Protocol{
	Self:     transport.Proto{ID: 0x20, Name: "pub"},
	Peer:     transport.Proto{ID: 0x21, Name: "sub"},
	Header:   socket.HeaderNone,
	TTL:      8,
	Sends:    socket.SendsAll,
	NoRecv:   true,
	DropSlow: true,
	Handler:  func() socket.Handler { return new(handler) },
}

// WithBlocking makes Send wait for room in the queue of every subscriber
// instead of dropping the message for those that are behind (NNG's pub0
// always drops). The send deadlines still apply. It is an option of New
// only: any other socket's New fails with socket.ErrBadOption.
func WithBlocking() socket.Option {
	return socket.HandlerOption("pub.WithBlocking", func(h *handler) error {
		h.blocking = true
		return nil
	})
}

// handler holds the options of a pub socket; a pub keeps no state.
type handler struct{ blocking bool }

// Init implements socket.Handler.
func (h *handler) Init(c socket.Core) error {
	if h.blocking {
		c.WaitForSlowPeers()
	}
	return nil
}

// New returns a pub socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}
