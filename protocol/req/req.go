// Package req is the requester side of the request/reply protocol (NNG's
// req0, SP protocol id 0x30), wire compatible with NNG and nanomsg.
//
// What lives where: this package is req0's description (Protocol: its
// ids, its header, one peer per request) and its handler (request ids,
// resends, the check that a reply answers a request outstanding); the
// sends, receives, queues and pipes are package socket's, the same for
// every protocol, and the request ids are protocol/internal/backtrace's,
// shared with surveyor.
//
// Each request carries a 32-bit request id with the high bit set; the
// reply carries it back, and Recv only returns replies to requests still
// outstanding. A request that gets no reply within the resend interval
// (one minute by default, as NNG) is sent again, to whichever peer is
// ready; it is also sent again at once when the peer that took it goes
// away (only then: a request held by a peer still connected is not
// duplicated, as in NNG). Replies find their way back through any number
// of devices (socket.StartSwitch) because every hop adds its pipe id to
// the request's backtrace.
//
// Many requests may be outstanding at once and any number of goroutines
// may call Send and Recv; Recv returns whichever reply comes first. Use
// RecvMsg to see which request a reply answers (msg.Destination[0] is the
// request id). SendAll, SendTo and SendMsg of a message with a
// Destination are not part of the pattern and fail with
// socket.ErrInvalidSendType.
package req

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/plexusnet/plexus/internal/timerref"
	"github.com/plexusnet/plexus/protocol/internal/backtrace"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is req0: it pairs with rep0, sends each request to one peer
// with its backtrace, and keeps the outstanding requests.
var Protocol = socket.Protocol{
	Self:    transport.Proto{ID: 0x30, Name: "req"},
	Peer:    transport.Proto{ID: 0x31, Name: "rep"},
	Header:  socket.HeaderRequest,
	TTL:     8,
	Sends:   socket.SendsOne,
	Handler: func() socket.Handler { return newHandler() },
}

// DefaultResendInterval is how long a request waits for its reply before
// it is sent again (NNG_OPT_REQ_RESENDTIME's default).
const DefaultResendInterval = time.Minute

// MaxOutstanding bounds the requests waiting for a reply; beyond it the
// oldest is forgotten.
const MaxOutstanding = 4096

// WithResendInterval sets the resend interval; zero or less never resends
// on a timer (requests are still resent when the peer that took them goes
// away). It is an option of New only: any other socket's New fails with
// socket.ErrBadOption.
func WithResendInterval(d time.Duration) socket.Option {
	return socket.HandlerOption("req.WithResendInterval", func(h *handler) error {
		h.resend = d
		return nil
	})
}

// New returns a req socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...)
}

// NewRaw returns a req socket without request ids or resending, for
// devices: it forwards requests (their backtrace is their Source path,
// which SendMsg requires) and hands up replies with their Destination
// path, as NNG's raw req.
func NewRaw(opts ...socket.Option) (socket.Socket, error) {
	p := Protocol
	p.Handler = nil
	return socket.New(append([]socket.Option{socket.WithProtocol(p)}, opts...)...)
}

// epoch is where clock counts from.
var epoch = time.Now()

// clock reads the monotonic clock, once (time.Now reads the wall clock
// too): it is read for every request.
func clock() time.Duration { return time.Since(epoch) + 1 } // never zero

// handler is the state of a req socket: the requests outstanding.
type handler struct {
	c      socket.Core
	resend time.Duration

	asks    backtrace.Asks[*request] // guards the fields below too
	wg      sync.WaitGroup           // resends under way
	timer   *time.Timer              // fires when the earliest request is due
	self    *timerref.Ref[handler]   // h as the timer reaches it; Close clears it (see internal/timerref)
	armedAt time.Duration            // when it fires (clock); zero while it is not armed
}

// request is an outstanding request; msg is what is (re)sent.
type request struct {
	id     uint32
	due    time.Duration // when it is sent again (clock)
	pipe   uint32        // the pipe that took it last; zero while none has
	msg    socket.Message
	src    [1]uint32
	inline [inlineContent]byte // a short request's copy, in the same allocation
}

// inlineContent is the longest request kept without an allocation of its
// own.
const inlineContent = 64

func newHandler() *handler {
	h := &handler{resend: DefaultResendInterval}
	h.asks.Init()
	return h
}

// Init implements socket.Handler.
func (h *handler) Init(c socket.Core) error {
	h.c = c
	return nil
}

// Send implements socket.SendHook: it sends a request.
func (h *handler) Send(ctx context.Context, content []byte) error {
	r := new(request)
	if len(content) <= inlineContent {
		r.msg.Content = append(r.inline[:0], content...)
	} else {
		r.msg.Content = append([]byte(nil), content...)
	}
	h.asks.Lock()
	if h.asks.Closed {
		h.asks.Unlock()
		return socket.ErrClosed
	}
	if len(h.asks.Open) >= MaxOutstanding {
		if old, ok := h.asks.Oldest(); ok {
			delete(h.asks.Open, old)
		}
	}
	r.id = h.asks.Add(r)
	r.src[0] = r.id
	r.msg.Source = r.src[:]
	if h.resend > 0 {
		r.due = clock() + h.resend
		h.arm(r.due)
	}
	h.asks.Unlock()
	err := h.c.SendMsg(ctx, &r.msg)
	if err != nil {
		h.forget(r.id)
	}
	return err
}

// BeforeRecv implements socket.RecvHook: a reply needs a request
// outstanding.
func (h *handler) BeforeRecv(bool) (time.Time, error) {
	h.asks.Lock()
	defer h.asks.Unlock()
	if h.asks.Closed {
		return time.Time{}, socket.ErrClosed
	}
	if len(h.asks.Open) == 0 {
		return time.Time{}, fmt.Errorf("%w: no request outstanding", socket.ErrBadState)
	}
	return time.Time{}, nil
}

// Received implements socket.RecvHook: a reply answers its request once;
// a late or duplicate reply, or one to no request of ours, is dropped.
func (h *handler) Received(in socket.Incoming) bool {
	id, ok := backtrace.ID(in)
	return ok && h.forget(id)
}

// forget drops a request; it reports whether it was outstanding.
func (h *handler) forget(id uint32) bool {
	h.asks.Lock()
	defer h.asks.Unlock()
	if _, ok := h.asks.Open[id]; !ok {
		return false
	}
	delete(h.asks.Open, id)
	return true
}

// arm makes the resend timer fire no later than at. Called with h.asks
// locked. One timer serves all requests: with a fixed interval each new
// request is due after those before it, so it seldom needs touching.
func (h *handler) arm(at time.Duration) {
	if h.armedAt != 0 && at >= h.armedAt {
		return
	}
	h.armedAt = at
	d := at - clock()
	if h.timer == nil {
		h.self = timerref.New(h)
		h.timer = timerref.AfterFunc(d, h.self, (*handler).resendDue)
	} else {
		h.timer.Reset(d)
	}
}

// resendDue runs when the timer fires: it resends the requests that are
// due and arms the timer for the next one.
func (h *handler) resendDue() {
	h.asks.Lock()
	h.armedAt = 0
	if h.asks.Closed {
		h.asks.Unlock()
		return
	}
	now := clock()
	var due []*request
	var next time.Duration
	for _, r := range h.asks.Open {
		if r.due <= now {
			r.due = now + h.resend
			due = append(due, r)
		}
		if next == 0 || r.due < next {
			next = r.due
		}
	}
	if next != 0 {
		h.arm(next)
	}
	if len(due) == 0 {
		h.asks.Unlock()
		return
	}
	h.wg.Add(1)
	h.asks.Unlock()
	defer h.wg.Done()
	h.resendAll(due)
}

// resendAll sends again those of rs still outstanding.
func (h *handler) resendAll(rs []*request) {
	for _, r := range rs {
		if h.isPending(r) {
			_ = h.c.SendMsg(nil, &r.msg)
		}
	}
}

// Taken implements socket.TakeHook: it records which pipe took a request.
func (h *handler) Taken(pipeID, id uint32) {
	h.asks.Lock()
	if r := h.asks.Open[id]; r != nil {
		r.pipe = pipeID
	}
	h.asks.Unlock()
}

// PipeAdded implements socket.PipeHook.
func (h *handler) PipeAdded(uint32) {}

// PipeRemoved implements socket.PipeHook: it resends at once the
// outstanding requests that the peer going away took along, as NNG's req0
// does (req0_pipe_close). Requests held by peers still connected are left
// to them.
func (h *handler) PipeRemoved(pipeID uint32) {
	h.asks.Lock()
	if h.asks.Closed || len(h.asks.Open) == 0 {
		h.asks.Unlock()
		return
	}
	var rs []*request
	for _, r := range h.asks.Open {
		if r.pipe == pipeID {
			r.pipe = 0
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		h.asks.Unlock()
		return
	}
	h.wg.Add(1)
	h.asks.Unlock()
	go func() {
		defer h.wg.Done()
		h.resendAll(rs)
	}()
}

func (h *handler) isPending(r *request) bool {
	h.asks.Lock()
	defer h.asks.Unlock()
	return !h.asks.Closed && h.asks.Open[r.id] == r
}

// Close implements socket.CloseHook: it forgets the outstanding requests
// and waits for the resends under way.
func (h *handler) Close() {
	h.asks.Lock()
	h.asks.Close()
	if h.timer != nil {
		h.timer.Stop()
		h.self.Clear() // the stopped timer stays in the runtime's heap: not with h
	}
	h.asks.Unlock()
	h.wg.Wait()
}
