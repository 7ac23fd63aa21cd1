package socket

import (
	"context"
	"fmt"
	"time"
)

// Handler is the state of one socket of a protocol that keeps some (req,
// rep, sub, surveyor, respondent): Protocol.Handler makes one for each new
// socket. The core implements every method of Socket, once for every
// protocol; where the protocol has something to say it calls the
// handler's hooks, which are the optional interfaces below:
//
//   - SendHook: the sends without a path go to the handler, which sends
//     them through its Core (req adds a request id, rep answers along the
//     backtrace of the last request);
//   - RecvHook: every receive asks it first (req refuses with no request
//     outstanding) and shows it the message it is about to return, which
//     it may drop (a late reply);
//   - FilterHook: the pipes' readers ask it about each message before the
//     message takes room in the receive queue (sub's topics);
//   - PipeHook and TakeHook: pipes joining and leaving, and which pipe
//     took which message (req resends what a lost peer held);
//   - CloseHook: the socket closes.
//
// A handler's own options are HandlerOption values, applied before Init;
// a protocol's operations that are not sends or receives are functions of
// its package that find the handler with HandlerOf (sub.Subscribe).
type Handler interface {
	// Init is called once, by New, after the handler's options and before
	// the socket has a pipe. c is the socket as the handler uses it: its
	// sends do not go through the hooks.
	Init(c Core) error
}

// SendHook is a Handler that makes the sends that have no path: Send,
// SendContext, SendMsg and SendMsgContext of a message without a
// Destination, and SendAll and SendAllContext when the protocol has
// SendsAll. Each calls Send with the content; the handler sends it
// through its Core (with a header path: a request id, a backtrace) or
// fails. It runs on the sending goroutine, after the core checked that the
// protocol has such a send and that the socket is open. Sends along a path
// (SendTo, SendMsg with a Destination) never reach it: the protocol has
// them (SendsPath) or not.
type SendHook interface {
	Send(ctx context.Context, content []byte) error
}

// RecvHook is a Handler that takes part in every receive (Recv, RecvMsg,
// RecvInto and their Context variants), on the receiving goroutine.
type RecvHook interface {
	// BeforeRecv is called at the start of the receive, and again after
	// the deadline it gave passed: an error ends the receive with it (req
	// with no request outstanding: ErrBadState); a deadline other than
	// zero bounds the wait for a message (the surveyor's survey deadline).
	// waited is false on the first call of a receive, true after it has
	// waited (the surveyor then says os.ErrDeadlineExceeded where it said
	// ErrBadState before).
	BeforeRecv(waited bool) (deadline time.Time, err error)
	// Received is called with each message the receive is about to
	// return: false drops it (counted in Stats.Filtered) and the receive
	// goes on with the next. in is valid only during the call.
	Received(in Incoming) bool
}

// FilterHook is a Handler that sees each message on the pipes' reader
// goroutines, before it takes room in the receive queue: false discards
// it (counted in Stats.Filtered). Filter runs concurrently on every pipe,
// perhaps with the receive queue locked, and must be quick and must not
// call the socket; in is valid only during the call. It works as
// WithRecvFilter does, with the whole message.
type FilterHook interface {
	Filter(in Incoming) bool
}

// PipeHook is a Handler told of each pipe that joins and leaves, as
// WithPipeHook is: on the goroutine that made the change, which it must
// not block. A pipe's id is never used again after PipeRemoved.
type PipeHook interface {
	PipeAdded(id uint32)
	PipeRemoved(id uint32)
}

// TakeHook is a Handler told, as WithSendHook is, each time a pipe takes
// a message sent to one peer chosen by the socket: tag is the last word
// of the message's Source path (req's request id). It runs with the
// socket's send queue locked, before the pipe can be reported removed:
// it must be quick and must not call the socket.
type TakeHook interface {
	Taken(pipeID, tag uint32)
}

// CloseHook is a Handler told that its socket closes: Close is called
// once, by the first Socket.Close, after sends and receives have started
// to fail with ErrClosed and before the pipes close. It may wait for the
// handler's own goroutines.
type CloseHook interface {
	Close()
}

// Core is a socket as its Handler uses it: sends that do not go through
// the handler's hooks, and the receive queue. The handler gets it in
// Init.
type Core struct{ s *sock }

// SendMsg sends m as a socket of the handler's protocol without a
// SendHook would: along m.Destination if it has one (SendsPath), else to
// one peer or to all as the protocol sends, with m.Source in the header
// (for HeaderRequest, the backtrace: a request id).
func (c Core) SendMsg(ctx context.Context, m *Message) error {
	return c.s.sendMsg(ctx, m)
}

// SendTo sends content along dest, as Socket.SendTo.
func (c Core) SendTo(ctx context.Context, dest Path, content []byte) error {
	return c.s.sendTo(ctx, dest, content)
}

// Purge goes through the messages waiting in the receive queue, oldest
// first, and keeps those keep accepts, at most max of them and at most
// half the queue (so that the pipes' readers always find room after it);
// it discards the others (counted in Stats.Filtered) and returns how
// many. keep runs
// with the receive queue locked and must not call the socket. The
// surveyor purges at each new survey, so that answers nobody reads never
// stall its respondents.
func (c Core) Purge(keep func(in Incoming) bool, max int) int {
	return c.s.purge(keep, max)
}

// WaitForSlowPeers makes the sends to every peer of a protocol with
// DropSlow wait for room at each peer instead (pub.WithBlocking). Call it
// from Init only.
func (c Core) WaitForSlowPeers() { c.s.dropSlow = false }

// Incoming is a received message as a handler's hooks see it, without
// copying it: it is valid only during the hook's call.
type Incoming struct {
	// Content is the message's content.
	Content []byte
	// Pipe is the id of the pipe it came on: the first word of its Source.
	Pipe uint32
	// TTL is how many more hops it may take.
	TTL uint8

	f   HeaderFormat
	hdr []byte
	h   parsedHeader
}

// AppendSource appends the message's Source path (Message.Source: its pipe,
// then the path from its header) to p and returns it.
func (in Incoming) AppendSource(p Path) Path {
	src, _ := in.h.split(in.f, in.hdr)
	return wordsPath(append(p, in.Pipe), src)
}

// AppendDestination appends the message's Destination path
// (Message.Destination: for HeaderRequest, the backtrace of a reply) to p
// and returns it.
func (in Incoming) AppendDestination(p Path) Path {
	_, dst := in.h.split(in.f, in.hdr)
	return wordsPath(p, dst)
}

// incoming is e as the hooks see it.
func (s *sock) incoming(e *entry) Incoming {
	return Incoming{Content: e.buf[e.h.len:], Pipe: e.pipe, TTL: e.h.ttl, f: s.proto.Header, hdr: e.buf[:e.h.len], h: e.h}
}

// handlerOption is an option of a handler (HandlerOption), applied by New
// once the handler is made.
type handlerOption struct {
	name  string
	apply func(Handler) (ok bool, err error)
}

// HandlerOption returns an option for the sockets whose Handler is an H:
// New calls set with the handler it made, before Init, and fails with the
// error set returns. Given to a socket whose handler is not an H (a socket
// of another protocol, a raw one), New fails with an error matching
// ErrBadOption that says so; name, the option's name as its package
// exports it (e.g. "req.WithResendInterval"), is in that error. It is how
// a protocol package makes its own options, typed and checked:
//
//	func WithResendInterval(d time.Duration) socket.Option {
//		return socket.HandlerOption("req.WithResendInterval", func(h *handler) error {
//			h.resend = d
//			return nil
//		})
//	}
func HandlerOption[H Handler](name string, set func(h H) error) Option {
	return func(o *options) {
		o.handlerOpts = append(o.handlerOpts, handlerOption{name: name, apply: func(h Handler) (bool, error) {
			hh, ok := h.(H)
			if !ok {
				return false, nil
			}
			return true, set(hh)
		}})
	}
}

// HandlerOf returns the Handler of s if s is a socket made by New and its
// handler is an H. A protocol package uses it for the operations of its
// sockets that are not sends or receives (sub.Subscribe).
func HandlerOf[H Handler](s Socket) (H, bool) {
	var zero H
	ss, ok := s.(*sock)
	if !ok || ss.h == nil {
		return zero, false
	}
	h, ok := ss.h.(H)
	return h, ok
}

// hooks are the hooks a socket's handler has, each nil if it has not.
type hooks struct {
	send   SendHook
	recv   RecvHook
	filter FilterHook
	pipe   PipeHook
	take   TakeHook
	close  CloseHook
}

// setHandler makes and initializes the handler of s, applying its options.
func (s *sock) setHandler(opts []handlerOption) error {
	if s.proto.Handler != nil {
		s.h = s.proto.Handler()
	}
	for _, o := range opts {
		ok := false
		var err error
		if s.h != nil {
			ok, err = o.apply(s.h)
		}
		if !ok {
			return fmt.Errorf("%w: %s is not an option of a %s socket", ErrBadOption, o.name, s.describe())
		}
		if err != nil {
			return fmt.Errorf("socket: %s: %w", o.name, err)
		}
	}
	if s.h == nil {
		return nil
	}
	s.hk.send, _ = s.h.(SendHook)
	s.hk.recv, _ = s.h.(RecvHook)
	s.hk.filter, _ = s.h.(FilterHook)
	s.hk.pipe, _ = s.h.(PipeHook)
	s.hk.take, _ = s.h.(TakeHook)
	s.hk.close, _ = s.h.(CloseHook)
	return s.h.Init(Core{s})
}

// describe names the socket's protocol for errors: "req", "raw req".
func (s *sock) describe() string {
	name := s.proto.Self.Name
	if name == "" {
		name = fmt.Sprintf("0x%x", s.proto.Self.ID)
	}
	if s.proto.Handler == nil && (s.proto.Header == HeaderRequest || s.proto.Header == HeaderReply) {
		return "raw " + name
	}
	return name
}
