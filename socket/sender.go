package socket

import "context"

// Send implements Sender.
func (s *sock) Send(content []byte) error { return s.SendContext(nil, content) }

// SendContext implements Sender.
func (s *sock) SendContext(ctx context.Context, content []byte) error {
	if s.o.noSend {
		return ErrInvalidSendType
	}
	m := outMsg{ttl: s.ttl, content: content}
	if s.o.sendMode == SendToAll {
		return s.put(ctx, toAll, 0, 0, &m)
	}
	return s.put(ctx, toOne, 0, 0, &m)
}

// SendAll implements Sender.
func (s *sock) SendAll(content []byte) error { return s.SendAllContext(nil, content) }

// SendAllContext implements Sender.
func (s *sock) SendAllContext(ctx context.Context, content []byte) error {
	if s.o.noSend {
		return ErrInvalidSendType
	}
	m := outMsg{ttl: s.ttl, content: content}
	return s.put(ctx, toAll, 0, 0, &m)
}

// SendTo implements Sender.
func (s *sock) SendTo(dest Path, content []byte) error { return s.SendToContext(nil, dest, content) }

// SendToContext implements Sender.
func (s *sock) SendToContext(ctx context.Context, dest Path, content []byte) error {
	if s.o.noSend {
		return ErrInvalidSendType
	}
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
	if s.o.noSend {
		return ErrInvalidSendType
	}
	m := outMsg{src: msg.Source, ttl: s.ttl, content: msg.Content}
	if msg.recvd || msg.TTL != 0 {
		m.ttl = msg.TTL
	}
	if len(msg.Destination) > 0 {
		m.dst = msg.Destination[1:]
		return s.put(ctx, toPipe, msg.Destination[0], 0, &m)
	}
	if s.o.sendMode == SendToAll {
		var except uint32
		if msg.recvd && msg.from == s {
			// Every peer but the one it came from (bus forwarding).
			except = msg.PipeID()
		}
		return s.put(ctx, toAll, 0, except, &m)
	}
	return s.put(ctx, toOne, 0, 0, &m)
}
