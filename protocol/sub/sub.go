// Package sub is the subscribing side of the publish/subscribe protocol
// (NNG's sub0, SP protocol id 0x21), wire compatible with NNG and nanomsg.
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
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is sub0: it pairs with pub0.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x21, Name: "sub"},
	Peer:   transport.Proto{ID: 0x20, Name: "pub"},
	Header: socket.HeaderNone,
	TTL:    8,
}

// ErrNotSubscribed is returned by Unsubscribe for a topic that was not
// subscribed (NNG's NNG_ENOENT).
var ErrNotSubscribed = errors.New("sub: not subscribed to this topic")

// Socket is a sub socket: a socket.Socket with topic subscriptions.
type Socket struct {
	socket.Socket

	mu     sync.Mutex // serializes changes to topics
	topics atomic.Pointer[[][]byte]
	closed atomic.Bool
}

// New returns a sub socket, subscribed to nothing yet, with socket
// options opts.
func New(opts ...socket.Option) (*Socket, error) {
	s := &Socket{}
	all := append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)
	all = append(all, socket.WithNoSend(), socket.WithRecvFilter(s.match))
	s.Socket = socket.New(all...)
	return s, nil
}

// match reports whether content starts with a subscribed topic. It runs
// on every received message, without locks.
func (s *Socket) match(content []byte) bool {
	ts := s.topics.Load()
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

// Subscribe adds topic: messages that start with it are received from now
// on. The empty topic matches every message. Subscribing twice to the
// same topic is the same as once.
func (s *Socket) Subscribe(topic []byte) error {
	if s.closed.Load() {
		return socket.ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var old [][]byte
	if p := s.topics.Load(); p != nil {
		old = *p
	}
	for _, t := range old {
		if bytes.Equal(t, topic) {
			return nil
		}
	}
	ts := append(slices.Clip(old), bytes.Clone(topic))
	s.topics.Store(&ts)
	return nil
}

// Unsubscribe removes topic, exactly as it was subscribed; messages
// matching only it are no longer received, even those already queued.
// A topic that was not subscribed is ErrNotSubscribed.
func (s *Socket) Unsubscribe(topic []byte) error {
	if s.closed.Load() {
		return socket.ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.topics.Load()
	if p == nil {
		return ErrNotSubscribed
	}
	i := slices.IndexFunc(*p, func(t []byte) bool { return bytes.Equal(t, topic) })
	if i < 0 {
		return ErrNotSubscribed
	}
	ts := slices.Delete(slices.Clone(*p), i, i+1)
	s.topics.Store(&ts)
	return nil
}

// Recv returns the content of the next message that matches a topic.
func (s *Socket) Recv() ([]byte, error) { return s.RecvContext(context.Background()) }

// RecvContext is Recv bounded by ctx.
func (s *Socket) RecvContext(ctx context.Context) ([]byte, error) {
	for {
		b, err := s.Socket.RecvContext(ctx)
		if err != nil || s.match(b) {
			return b, err
		}
	}
}

// RecvMsg returns the next message that matches a topic.
func (s *Socket) RecvMsg() (*socket.Message, error) {
	return s.RecvMsgContext(context.Background())
}

// RecvInto is RecvContext into buf (see socket.Receiver): messages that
// match no subscription are received into buf and skipped.
func (s *Socket) RecvInto(ctx context.Context, buf []byte) ([]byte, error) {
	for {
		b, err := s.Socket.RecvInto(ctx, buf)
		if err != nil || s.match(b) {
			return b, err
		}
		buf = b
	}
}

// RecvMsgContext is RecvMsg bounded by ctx.
func (s *Socket) RecvMsgContext(ctx context.Context) (*socket.Message, error) {
	for {
		m, err := s.Socket.RecvMsgContext(ctx)
		if err != nil || s.match(m.Content) {
			return m, err
		}
	}
}

// Close closes the socket; Subscribe and Unsubscribe then fail with
// socket.ErrClosed.
func (s *Socket) Close() error {
	s.closed.Store(true)
	return s.Socket.Close()
}
