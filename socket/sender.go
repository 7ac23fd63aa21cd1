package socket

import (
	"context"
	"errors"
	"fmt"
)

// The sends. Each method of Sender is here once, for every protocol: the
// protocol's description (Protocol.Sends) says which ways it has, and a
// handler with a SendHook makes the sends without a path.

// Send implements Sender.
func (s *sock) Send(content []byte) error { return s.SendContext(nil, content) }

// SendContext implements Sender.
func (s *sock) SendContext(ctx context.Context, content []byte) error {
	if !s.sendsPlain() {
		return ErrInvalidSendType
	}
	return s.sendPlain(ctx, content, s.sendEvery)
}

// sendsPlain reports whether the socket has sends without a path: to one
// peer or to all, or made by its handler (rep's Send answers along the
// last request's path), unless it sends nothing at all.
func (s *sock) sendsPlain() bool {
	return s.sends&(SendsOne|SendsAll) != 0 || s.sends != 0 && s.hk.send != nil
}

// SendAll implements Sender.
func (s *sock) SendAll(content []byte) error { return s.SendAllContext(nil, content) }

// SendAllContext implements Sender.
func (s *sock) SendAllContext(ctx context.Context, content []byte) error {
	if s.sends&SendsAll == 0 {
		return ErrInvalidSendType
	}
	return s.sendPlain(ctx, content, true)
}

// sendPlain sends content without a path: through the handler if it
// makes such sends, else to every peer (all) or to one.
func (s *sock) sendPlain(ctx context.Context, content []byte, all bool) error {
	if s.isClosing() {
		return ErrClosed
	}
	if s.hk.send != nil {
		return s.hk.send.Send(ctx, content)
	}
	if s.proto.Header == HeaderRequest {
		return errNoBacktrace
	}
	m := outMsg{ttl: s.ttl, content: content}
	if all {
		return s.dropOK(s.put(ctx, toAll, 0, 0, &m))
	}
	return s.put(ctx, toOne, 0, 0, &m)
}

// errNoBacktrace: a HeaderRequest message must carry its backtrace.
var errNoBacktrace = fmt.Errorf("%w: a request or survey must carry its backtrace, ending with its id (a Source path whose last word has EndOfPath)", ErrInvalidSendType)

// dropOK turns the drop for a slow peer of a send to every peer into
// success on a protocol with DropSlow: the drop is counted in Dropped.
func (s *sock) dropOK(err error) error {
	if s.dropSlow && errors.Is(err, ErrMsgDropped) {
		return nil
	}
	return err
}

// SendTo implements Sender.
func (s *sock) SendTo(dest Path, content []byte) error { return s.SendToContext(nil, dest, content) }

// SendToContext implements Sender.
func (s *sock) SendToContext(ctx context.Context, dest Path, content []byte) error {
	if s.sends&SendsPath == 0 {
		return ErrInvalidSendType
	}
	return s.sendTo(ctx, dest, content)
}

// sendTo sends content along dest.
func (s *sock) sendTo(ctx context.Context, dest Path, content []byte) error {
	if len(dest) == 0 {
		s.c.brokenPaths.Add(1)
		return ErrBrokenPath
	}
	m := outMsg{dst: dest[1:], ttl: s.ttl, content: content}
	return s.put(ctx, toPipe, dest[0], 0, &m)
}

// SendMsg implements Sender.
func (s *sock) SendMsg(msg *Message) error { return s.SendMsgContext(nil, msg) }

// SendMsgContext implements Sender.
func (s *sock) SendMsgContext(ctx context.Context, msg *Message) error {
	if len(msg.Destination) > 0 {
		if s.sends&SendsPath == 0 {
			return ErrInvalidSendType
		}
	} else if !s.sendsPlain() {
		return ErrInvalidSendType
	} else if s.hk.send != nil {
		if s.isClosing() {
			return ErrClosed
		}
		return s.hk.send.Send(ctx, msg.Content)
	}
	return s.sendMsg(ctx, msg)
}

// sendMsg sends msg as the protocol sends, without the handler: along its
// Destination, or else to one peer or to all with its Source in the
// header.
func (s *sock) sendMsg(ctx context.Context, msg *Message) error {
	m := outMsg{src: msg.Source, ttl: s.ttl, content: msg.Content}
	if msg.recvd || msg.TTL != 0 {
		m.ttl = msg.TTL
	}
	if len(msg.Destination) > 0 {
		m.dst = msg.Destination[1:]
		return s.put(ctx, toPipe, msg.Destination[0], 0, &m)
	}
	if s.proto.Header == HeaderRequest {
		if n := len(msg.Source); n == 0 || msg.Source[n-1]&EndOfPath == 0 {
			return errNoBacktrace
		}
	}
	if s.sendEvery {
		var except uint32
		if msg.recvd && msg.from == s {
			// Every peer but the one it came from (bus forwarding).
			except = msg.PipeID()
		}
		return s.dropOK(s.put(ctx, toAll, 0, except, &m))
	}
	return s.put(ctx, toOne, 0, 0, &m)
}
