// Package surveyor is the asking side of the survey protocol (NNG's
// surveyor0, SP protocol id 0x62), wire compatible with NNG and nanomsg.
//
// Send starts a survey: the message goes to every respondent connected at
// the time, carrying a 32-bit survey id with the high bit set, and the
// survey stays open for the survey time (one second by default, as NNG's
// NNG_OPT_SURVEYOR_SURVEYTIME). Recv returns the answers to open surveys
// as they come; a Recv that is waiting when the last open survey's
// deadline passes fails with os.ErrDeadlineExceeded, and a Recv with no
// survey open fails at once with socket.ErrBadState, as in NNG. Answers
// that arrive after their survey's deadline, or answer no survey of this
// socket, are dropped. Each Send first clears the answers waiting in the
// receive queue while no Recv is running, setting aside those to open
// surveys (up to 128, as NNG's receive buffer), so a surveyor that seldom
// calls Recv never stops reading its respondents.
//
// Surveys may overlap: each Send opens one more, with its own deadline,
// and Recv returns the answers to all of them (NNG gives that with one
// context per survey; its socket-level surveyor cancels the previous
// survey instead). RecvMsg tells them apart: msg.Destination[0] is the
// survey id.
//
// As in NNG, a survey never waits for a slow respondent: one whose queue
// is full misses it (counted in Stats().Dropped). SendAll is the same as
// Send; SendTo is not part of the pattern and fails with
// socket.ErrInvalidSendType. Answers find their way back through any
// number of devices (socket.StartSwitch between a NewRaw respondent in
// front and a NewRaw surveyor behind), because every hop adds its pipe
// id to the survey's backtrace.
package surveyor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/plexusnet/plexus/protocol/internal/reqid"
	"github.com/plexusnet/plexus/protocol/internal/sender"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is surveyor0: it pairs with respondent0 and sends the survey
// backtrace.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x62, Name: "surveyor"},
	Peer:   transport.Proto{ID: 0x63, Name: "respondent"},
	Header: socket.HeaderRequest,
	TTL:    8,
}

// DefaultSurveyTime is how long a survey stays open when WithSurveyTime
// is not given (NNG's default).
const DefaultSurveyTime = time.Second

// MaxOpen bounds the surveys open at once; beyond it the oldest is
// closed early.
const MaxOpen = 1024

// maxPending bounds the answers Send sets aside for Recv (the receive
// buffer of an NNG surveyor context, 128); beyond it answers are dropped,
// as NNG's surveyor drops them when its queue is full.
const maxPending = 128

// maxDrain bounds the answers one Send takes out of the receive queue.
const maxDrain = 4096

type surveyTimeKey struct{}

// WithSurveyTime sets how long each survey stays open. Values of zero or
// less keep the default.
func WithSurveyTime(d time.Duration) socket.Option { return socket.WithValue(surveyTimeKey{}, d) }

// NewRaw returns a surveyor socket without survey ids or deadlines, for
// devices: it sends surveys to every peer with their backtrace (their
// Source path) and hands up answers with their Destination path, as NNG's
// raw surveyor.
func NewRaw(opts ...socket.Option) (socket.Socket, error) {
	all := append([]socket.Option{socket.WithProtocol(Protocol), socket.WithSendBestEffort()}, opts...)
	return &raw{socket.New(append(all, socket.WithSendMode(socket.SendToAll))...)}, nil
}

// New returns a surveyor socket with socket options opts.
func New(opts ...socket.Option) (socket.Socket, error) {
	s := &sock{surveyTime: DefaultSurveyTime, open: make(map[uint32]time.Time)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.poll = ctx
	if v, ok := socket.Value(opts, surveyTimeKey{}); ok {
		if d, _ := v.(time.Duration); d > 0 {
			s.surveyTime = d
		}
	}
	s.nextID = reqid.Random()
	all := append([]socket.Option{socket.WithProtocol(Protocol), socket.WithSendBestEffort()}, opts...)
	s.Socket = socket.New(append(all, socket.WithSendMode(socket.SendToAll))...)
	return s, nil
}

// sock is a surveyor socket: it keeps the open surveys and their
// deadlines.
type sock struct {
	socket.Socket

	surveyTime time.Duration

	poll context.Context // cancelled: a receive with it never waits

	mu        sync.Mutex
	nextID    uint32
	open      map[uint32]time.Time // survey id -> deadline
	pending   []*socket.Message    // answers to open surveys, set aside by Send
	receivers int                  // Recv calls waiting in the socket
	closed    bool
}

// Send starts a survey.
func (s *sock) Send(content []byte) error { return s.SendContext(context.Background(), content) }

// SendContext starts a survey; ctx bounds the send, not the survey.
func (s *sock) SendContext(ctx context.Context, content []byte) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return socket.ErrClosed
	}
	now := time.Now()
	s.prune(now)
	s.drain(now)
	if len(s.open) >= MaxOpen {
		s.closeOldest()
	}
	id := s.newID()
	s.open[id] = now.Add(s.surveyTime)
	s.mu.Unlock()
	msg := socket.Message{Content: content, Source: socket.Path{id}}
	err := sender.DropOK(s.Socket.SendMsgContext(ctx, &msg))
	if err != nil {
		s.mu.Lock()
		delete(s.open, id)
		s.mu.Unlock()
	}
	return err
}

// SendAll is Send.
func (s *sock) SendAll(content []byte) error { return s.Send(content) }

// SendAllContext is SendContext.
func (s *sock) SendAllContext(ctx context.Context, content []byte) error {
	return s.SendContext(ctx, content)
}

// SendMsg starts a survey of msg.Content.
func (s *sock) SendMsg(msg *socket.Message) error {
	return s.SendContext(context.Background(), msg.Content)
}

// SendMsgContext starts a survey of msg.Content, bounded by ctx.
func (s *sock) SendMsgContext(ctx context.Context, msg *socket.Message) error {
	return s.SendContext(ctx, msg.Content)
}

// SendTo is not part of surveyor: ErrInvalidSendType.
func (s *sock) SendTo(socket.Path, []byte) error { return socket.ErrInvalidSendType }

// SendToContext is not part of surveyor: ErrInvalidSendType.
func (s *sock) SendToContext(context.Context, socket.Path, []byte) error {
	return socket.ErrInvalidSendType
}

// newID returns a fresh survey id with the high bit set. Called with
// s.mu held.
func (s *sock) newID() uint32 {
	return reqid.Next(&s.nextID, s.open)
}

// prune closes the surveys whose deadline has passed. Called with s.mu
// held.
func (s *sock) prune(now time.Time) {
	for id, dl := range s.open {
		if !now.Before(dl) {
			delete(s.open, id)
		}
	}
}

// drain takes the answers waiting in the receive queue while no Recv is
// running: answers to surveys that are over are dropped, the others set
// aside for Recv. So a surveyor that seldom calls Recv never stops
// reading its respondents because of answers nobody wants (NNG flushes
// them when a new survey starts). Called with s.mu held; the receives
// never wait.
func (s *sock) drain(now time.Time) {
	if s.receivers > 0 {
		return // they take the answers themselves
	}
	for i := 0; i < maxDrain; i++ {
		m, err := s.Socket.RecvMsgContext(s.poll)
		if err != nil {
			return
		}
		if len(m.Destination) == 1 && s.aliveAt(m.Destination[0], now) && len(s.pending) < maxPending {
			s.pending = append(s.pending, m)
		}
	}
}

// closeOldest closes the survey with the earliest deadline. Called with
// s.mu held.
func (s *sock) closeOldest() {
	var (
		old   uint32
		oldDL time.Time
	)
	for id, dl := range s.open {
		if oldDL.IsZero() || dl.Before(oldDL) {
			old, oldDL = id, dl
		}
	}
	delete(s.open, old)
}

// alive reports whether survey id is open now.
func (s *sock) alive(id uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.aliveAt(id, time.Now())
}

// aliveAt reports whether survey id is open at now. Called with s.mu
// held.
func (s *sock) aliveAt(id uint32, now time.Time) bool {
	dl, ok := s.open[id]
	return ok && now.Before(dl)
}

// Recv returns the next answer to an open survey.
func (s *sock) Recv() ([]byte, error) { return s.RecvContext(context.Background()) }

// RecvContext is Recv bounded by ctx.
func (s *sock) RecvContext(ctx context.Context) ([]byte, error) {
	m, err := s.RecvMsgContext(ctx)
	if err != nil {
		return nil, err
	}
	return m.Content, nil
}

// RecvMsg is Recv returning the message; msg.Destination[0] is the id of
// the survey it answers.
func (s *sock) RecvMsg() (*socket.Message, error) { return s.RecvMsgContext(context.Background()) }

// RecvInto is RecvContext into buf (see socket.Receiver). It copies what
// RecvContext returns, so it allocates as Recv does.
func (s *sock) RecvInto(ctx context.Context, buf []byte) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	b, err := s.RecvContext(ctx)
	return append(buf[:0], b...), err
}

// RecvMsgContext is RecvMsg bounded by ctx.
func (s *sock) RecvMsgContext(ctx context.Context) (*socket.Message, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	waited := false
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, socket.ErrClosed
		}
		now := time.Now()
		s.prune(now)
		for len(s.pending) > 0 {
			m := s.pending[0]
			s.pending[0] = nil
			s.pending = s.pending[1:]
			if s.aliveAt(m.Destination[0], now) {
				s.mu.Unlock()
				return m, nil
			}
		}
		var last time.Time
		for _, dl := range s.open {
			if dl.After(last) {
				last = dl
			}
		}
		if !last.IsZero() {
			s.receivers++
		}
		s.mu.Unlock()
		if last.IsZero() {
			if waited {
				// The surveys ended while we waited for answers.
				return nil, os.ErrDeadlineExceeded
			}
			return nil, fmt.Errorf("%w: no survey open", socket.ErrBadState)
		}
		waited = true
		rctx, cancel := context.WithDeadline(ctx, last)
		m, err := s.Socket.RecvMsgContext(rctx)
		cancel()
		s.mu.Lock()
		s.receivers--
		s.mu.Unlock()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				continue // the surveys may have ended; look again
			}
			return nil, err
		}
		if len(m.Destination) == 1 && s.alive(m.Destination[0]) {
			return m, nil
		}
		// A late answer, or one to no survey of ours: drop it.
	}
}

// Close closes the socket and its open surveys.
func (s *sock) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return socket.ErrClosed
	}
	s.closed = true
	clear(s.open)
	s.pending = nil
	s.mu.Unlock()
	return s.Socket.Close()
}

// raw is a raw surveyor: it forwards surveys that already carry their
// backtrace, to all peers, and a drop for a slow peer is not an error.
type raw struct{ socket.Socket }

// Send is not part of a raw surveyor, whose surveys need a backtrace:
// ErrInvalidSendType. Devices forward with SendMsg.
func (r *raw) Send([]byte) error { return socket.ErrInvalidSendType }

// SendContext is not part of a raw surveyor: ErrInvalidSendType.
func (r *raw) SendContext(context.Context, []byte) error { return socket.ErrInvalidSendType }

// SendAll is not part of a raw surveyor: ErrInvalidSendType.
func (r *raw) SendAll([]byte) error { return socket.ErrInvalidSendType }

// SendAllContext is not part of a raw surveyor: ErrInvalidSendType.
func (r *raw) SendAllContext(context.Context, []byte) error { return socket.ErrInvalidSendType }

// SendTo is not part of a raw surveyor: ErrInvalidSendType.
func (r *raw) SendTo(socket.Path, []byte) error { return socket.ErrInvalidSendType }

// SendToContext is not part of a raw surveyor: ErrInvalidSendType.
func (r *raw) SendToContext(context.Context, socket.Path, []byte) error {
	return socket.ErrInvalidSendType
}

// SendMsg sends a survey to every peer with msg.Source as its backtrace,
// which must end with a survey id (a word with the high bit set), as a
// survey received by a raw respondent does. Anything else is
// ErrInvalidSendType.
func (r *raw) SendMsg(msg *socket.Message) error {
	return r.SendMsgContext(context.Background(), msg)
}

// SendMsgContext is SendMsg bounded by ctx.
func (r *raw) SendMsgContext(ctx context.Context, msg *socket.Message) error {
	n := len(msg.Source)
	if n == 0 || msg.Source[n-1]&socket.EndOfPath == 0 || len(msg.Destination) > 0 {
		return socket.ErrInvalidSendType
	}
	return sender.DropOK(r.Socket.SendMsgContext(ctx, msg))
}
