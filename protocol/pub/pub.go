// Package pub is the publishing side of the publish/subscribe protocol
// (NNG's pub0, SP protocol id 0x20), wire compatible with NNG and nanomsg.
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
	"github.com/plexusnet/plexus/protocol/internal/sender"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is pub0: it pairs with sub0.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x20, Name: "pub"},
	Peer:   transport.Proto{ID: 0x21, Name: "sub"},
	Header: socket.HeaderNone,
	TTL:    8,
}

type blockingKey struct{}

// WithBlocking makes Send wait for room in the queue of every subscriber
// instead of dropping the message for those that are behind (NNG's pub0
// always drops). The send deadlines still apply.
func WithBlocking() socket.Option { return socket.WithValue(blockingKey{}, true) }

// New returns a pub socket with socket options opts.
func New(opts ...socket.Option) (socket.Socket, error) {
	all := []socket.Option{socket.WithProtocol(Protocol)}
	if v, _ := socket.Value(opts, blockingKey{}); v != true {
		all = append(all, socket.WithSendBestEffort())
	}
	all = append(all, opts...)
	all = append(all, socket.WithNoRecv(), socket.WithSendMode(socket.SendToAll))
	return &sender.All{Socket: socket.New(all...)}, nil
}
