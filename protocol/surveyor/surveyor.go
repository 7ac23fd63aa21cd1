// Package surveyor is the asking side of the survey protocol (NNG's
// surveyor0, SP protocol id 0x62), wire compatible with NNG and nanomsg.
//
// What lives where: this package is surveyor0's description (Protocol:
// its ids, its header, every survey to every peer) and its handler (the
// open surveys and their deadlines); the sends, receives, queues and
// pipes are package socket's, the same for every protocol, and the survey
// ids are protocol/internal/backtrace's, shared with req.
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
// receive queue, keeping the oldest of those to open surveys (up to 128,
// as NNG's receive buffer, and at most half the receive queue), so a
// surveyor that seldom calls Recv never stops reading its respondents.
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
	"fmt"
	"os"
	"time"

	"github.com/plexusnet/plexus/protocol/internal/backtrace"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is surveyor0: it pairs with respondent0, sends each survey to
// every peer with its backtrace, and keeps the open surveys.
var Protocol = socket.Protocol{
	Self:     transport.Proto{ID: 0x62, Name: "surveyor"},
	Peer:     transport.Proto{ID: 0x63, Name: "respondent"},
	Header:   socket.HeaderRequest,
	TTL:      8,
	Sends:    socket.SendsAll,
	DropSlow: true,
	Handler:  func() socket.Handler { return newHandler() },
}

// DefaultSurveyTime is how long a survey stays open when WithSurveyTime
// is not given (NNG's default).
const DefaultSurveyTime = time.Second

// MaxOpen bounds the surveys open at once; beyond it the oldest is
// closed early.
const MaxOpen = 1024

// maxPending bounds the answers to open surveys that Send keeps in the
// receive queue (the receive buffer of an NNG surveyor context, 128);
// beyond it answers are dropped, as NNG's surveyor drops them when its
// queue is full.
const maxPending = 128

// WithSurveyTime sets how long each survey stays open. Values of zero or
// less keep the default. It is an option of New only: any other socket's
// New fails with socket.ErrBadOption.
func WithSurveyTime(d time.Duration) socket.Option {
	return socket.HandlerOption("surveyor.WithSurveyTime", func(h *handler) error {
		if d > 0 {
			h.surveyTime = d
		}
		return nil
	})
}

// New returns a surveyor socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}

// NewRaw returns a surveyor socket without survey ids or deadlines, for
// devices: it sends surveys to every peer with their backtrace (their
// Source path, which must end with a survey id, as a survey received by a
// raw respondent does) and hands up answers with their Destination path,
// as NNG's raw surveyor. Only SendMsg sends; Send and SendAll, which have
// no backtrace, are socket.ErrInvalidSendType.
func NewRaw(opts ...socket.Option) (socket.Socket, error) {
	p := Protocol
	p.Handler = nil
	return socket.New(append([]socket.Option{socket.WithProtocol(p)}, opts...)...)
}

// handler is the state of a surveyor socket: the open surveys and their
// deadlines.
type handler struct {
	c          socket.Core
	surveyTime time.Duration
	keep       func(socket.Incoming) bool // h.keepAnswer, made once

	asks backtrace.Asks[time.Time] // survey id -> deadline; guards now
	now  time.Time                 // the time keep compares with
}

func newHandler() *handler {
	h := &handler{surveyTime: DefaultSurveyTime}
	h.asks.Init()
	h.keep = h.keepAnswer
	return h
}

// Init implements socket.Handler.
func (h *handler) Init(c socket.Core) error {
	h.c = c
	return nil
}

// Send implements socket.SendHook: it starts a survey; ctx bounds the
// send, not the survey.
func (h *handler) Send(ctx context.Context, content []byte) error {
	h.asks.Lock()
	if h.asks.Closed {
		h.asks.Unlock()
		return socket.ErrClosed
	}
	h.now = time.Now()
	h.prune(h.now)
	// Clear the answers nobody read, so that they never stop the pipes
	// (NNG flushes them when a new survey starts).
	h.c.Purge(h.keep, maxPending)
	if len(h.asks.Open) >= MaxOpen {
		if old, ok := h.asks.Oldest(); ok {
			delete(h.asks.Open, old)
		}
	}
	id := h.asks.Add(h.now.Add(h.surveyTime))
	h.asks.Unlock()
	src := [1]uint32{id}
	msg := socket.Message{Content: content, Source: src[:]}
	err := h.c.SendMsg(ctx, &msg)
	if err != nil {
		h.asks.Lock()
		delete(h.asks.Open, id)
		h.asks.Unlock()
	}
	return err
}

// keepAnswer reports whether an answer waiting in the receive queue
// answers a survey open at h.now. Called by Purge, with h.asks locked.
func (h *handler) keepAnswer(in socket.Incoming) bool {
	id, ok := backtrace.ID(in)
	return ok && h.aliveAt(id, h.now)
}

// prune closes the surveys whose deadline has passed. Called with h.asks
// locked.
func (h *handler) prune(now time.Time) {
	for id, dl := range h.asks.Open {
		if !now.Before(dl) {
			delete(h.asks.Open, id)
		}
	}
}

// aliveAt reports whether survey id is open at now. Called with h.asks
// locked.
func (h *handler) aliveAt(id uint32, now time.Time) bool {
	dl, ok := h.asks.Open[id]
	return ok && now.Before(dl)
}

// BeforeRecv implements socket.RecvHook: an answer needs a survey open,
// and the wait for one ends with the last open survey.
func (h *handler) BeforeRecv(waited bool) (time.Time, error) {
	h.asks.Lock()
	defer h.asks.Unlock()
	if h.asks.Closed {
		return time.Time{}, socket.ErrClosed
	}
	h.prune(time.Now())
	var last time.Time
	for _, dl := range h.asks.Open {
		if dl.After(last) {
			last = dl
		}
	}
	if last.IsZero() {
		if waited {
			// The surveys ended while we waited for answers.
			return time.Time{}, os.ErrDeadlineExceeded
		}
		return time.Time{}, fmt.Errorf("%w: no survey open", socket.ErrBadState)
	}
	return last, nil
}

// Received implements socket.RecvHook: a late answer, or one to no
// survey of ours, is dropped.
func (h *handler) Received(in socket.Incoming) bool {
	id, ok := backtrace.ID(in)
	if !ok {
		return false
	}
	h.asks.Lock()
	defer h.asks.Unlock()
	return h.aliveAt(id, time.Now())
}

// Close implements socket.CloseHook: the open surveys end.
func (h *handler) Close() {
	h.asks.Lock()
	h.asks.Close()
	h.asks.Unlock()
}
