// Package sub is the subscribing side of the publish/subscribe protocol
// (NNG's sub0, SP protocol id 0x21), wire compatible with NNG and nanomsg.
//
// What lives where: this package is sub0's description (Protocol: its
// ids, no header, no sends) and its handler (the topics, which filter
// what the pipes read and what a receive returns); Subscribe and
// Unsubscribe are functions of this package that take the socket New
// returned. The receives, queues and pipes are package socket's, the same
// for every protocol.
//
// A sub socket receives what its pub peers publish and keeps only the
// messages that start with one of its topics: Subscribe adds a topic,
// Unsubscribe removes it, and the empty topic matches everything. With no
// topic at all nothing is received, as in NNG. Filtering happens as
// messages are read, before they take room in the receive queue; a
// message already queued when its topic is unsubscribed is dropped too,
// as NNG purges its queue.
//
// A sub socket does not send: every send fails with
// socket.ErrInvalidSendType.
package sub

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is sub0: it pairs with pub0, never sends, and keeps the
// topics.
var Protocol = socket.Protocol{
	Self:    transport.Proto{ID: 0x21, Name: "sub"},
	Peer:    transport.Proto{ID: 0x20, Name: "pub"},
	Header:  socket.HeaderNone,
	TTL:     8,
	Handler: func() socket.Handler { return new(handler) },
}

// ErrNotSubscribed is returned by Unsubscribe for a topic that was not
// subscribed (NNG's NNG_ENOENT).
var ErrNotSubscribed = errors.New("sub: not subscribed to this topic")

// New returns a sub socket, subscribed to nothing yet.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}

// Subscribe adds topic to the subscriptions of s, a socket of New:
// messages that start with it are received from now on. The empty topic
// matches every message. Subscribing twice to the same topic is the same
// as once. On a closed socket it fails with socket.ErrClosed; on a socket
// that is not a sub socket, with socket.ErrBadOption.
func Subscribe(s socket.Socket, topic []byte) error {
	h, err := handlerOf(s, "Subscribe")
	if err != nil {
		return err
	}
	return h.subscribe(topic)
}

// Unsubscribe removes topic from the subscriptions of s, a socket of New,
// exactly as it was subscribed; messages matching only it are no longer
// received, even those already queued. A topic that was not subscribed is
// ErrNotSubscribed; the other errors are Subscribe's.
func Unsubscribe(s socket.Socket, topic []byte) error {
	h, err := handlerOf(s, "Unsubscribe")
	if err != nil {
		return err
	}
	return h.unsubscribe(topic)
}

// handlerOf returns the handler of s, a sub socket.
func handlerOf(s socket.Socket, op string) (*handler, error) {
	h, ok := socket.HandlerOf[*handler](s)
	if !ok {
		return nil, fmt.Errorf("%w: sub.%s on a socket that is not a sub socket", socket.ErrBadOption, op)
	}
	if h.closed.Load() {
		return nil, socket.ErrClosed
	}
	return h, nil
}

// handler is the state of a sub socket: its topics.
type handler struct {
	mu     sync.Mutex // serializes changes to topics
	topics atomic.Pointer[[][]byte]
	closed atomic.Bool
}

// Init implements socket.Handler.
func (h *handler) Init(socket.Core) error { return nil }

// match reports whether content starts with a subscribed topic. It runs
// on every received message, without locks.
func (h *handler) match(content []byte) bool {
	ts := h.topics.Load()
	if ts == nil {
		return false
	}
	for _, t := range *ts {
		if bytes.HasPrefix(content, t) {
			return true
		}
	}
	return false
}

// Filter implements socket.FilterHook: the pipes keep only what matches a
// topic.
func (h *handler) Filter(in socket.Incoming) bool { return h.match(in.Content) }

// BeforeRecv implements socket.RecvHook: a sub socket always receives.
func (h *handler) BeforeRecv(bool) (time.Time, error) { return time.Time{}, nil }

// Received implements socket.RecvHook: a message queued before its topic
// was unsubscribed is dropped.
func (h *handler) Received(in socket.Incoming) bool { return h.match(in.Content) }

// Close implements socket.CloseHook.
func (h *handler) Close() { h.closed.Store(true) }

func (h *handler) subscribe(topic []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var old [][]byte
	if p := h.topics.Load(); p != nil {
		old = *p
	}
	for _, t := range old {
		if bytes.Equal(t, topic) {
			return nil
		}
	}
	ts := append(slices.Clip(old), bytes.Clone(topic))
	h.topics.Store(&ts)
	return nil
}

func (h *handler) unsubscribe(topic []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.topics.Load()
	if p == nil {
		return ErrNotSubscribed
	}
	i := slices.IndexFunc(*p, func(t []byte) bool { return bytes.Equal(t, topic) })
	if i < 0 {
		return ErrNotSubscribed
	}
	ts := slices.Delete(slices.Clone(*p), i, i+1)
	h.topics.Store(&ts)
	return nil
}
