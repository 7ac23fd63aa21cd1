// Package req is the requester side of the request/reply protocol (NNG's
// req0, SP protocol id 0x30), wire compatible with NNG and nanomsg.
//
// Each request carries a 32-bit request id with the high bit set; the
// reply carries it back, and Recv only returns replies to requests still
// outstanding. A request that gets no reply within the resend interval
// (one minute by default, as NNG) is sent again, to whichever peer is
// ready; it is also sent again at once when the peer that took it goes
// away (only then: a request held by a peer still connected is not
// duplicated, as in NNG). Replies find their way back through any number of devices (socket.StartSwitch)
// because every hop adds its pipe id to the request's backtrace.
//
// Many requests may be outstanding at once and any number of goroutines
// may call Send and Recv; Recv returns whichever reply comes first. Use
// RecvMsg to see which request a reply answers (msg.Destination[0] is the
// request id).
package req

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/plexusnet/plexus/protocol/internal/reqid"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
)

// Protocol is req0: it pairs with rep0 and sends the request backtrace.
var Protocol = socket.Protocol{
	Self:   transport.Proto{ID: 0x30, Name: "req"},
	Peer:   transport.Proto{ID: 0x31, Name: "rep"},
	Header: socket.HeaderRequest,
	TTL:    8,
}

// DefaultResendInterval is how long a request waits for its reply before
// it is sent again (NNG_OPT_REQ_RESENDTIME's default).
const DefaultResendInterval = time.Minute

// MaxOutstanding bounds the requests waiting for a reply; beyond it the
// oldest is forgotten.
const MaxOutstanding = 4096

type resendKey struct{}

// WithResendInterval sets the resend interval; zero or less never resends
// on a timer (requests are still resent when the peer that took them goes
// away).
func WithResendInterval(d time.Duration) socket.Option { return socket.WithValue(resendKey{}, d) }

// NewRaw returns a req socket without request ids or resending, for
// devices: it forwards requests (their backtrace is their Source path) and
// hands up replies with their Destination path, as NNG's raw req.
func NewRaw(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)...), nil
}

// Socket is a req socket. New returns one as a socket.Socket.
type Socket struct {
	socket.Socket

	resend time.Duration

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]*request
	closed  bool
	wg      sync.WaitGroup
	timer   *time.Timer // fires when the earliest request is due
	armedAt time.Time   // zero while the timer is not armed
}

// request is an outstanding request; msg is what is (re)sent.
type request struct {
	id   uint32
	due  time.Time
	pipe uint32 // the pipe that took it last; zero while none has
	msg  socket.Message
	src  [1]uint32
}

func newRequest(id uint32, content []byte) *request {
	r := &request{id: id}
	r.src[0] = id
	r.msg.Source = r.src[:]
	r.msg.Content = append([]byte(nil), content...)
	return r
}

// New returns a req socket.
func New(opts ...socket.Option) (socket.Socket, error) {
	s := &Socket{resend: DefaultResendInterval, pending: make(map[uint32]*request)}
	if v, ok := socket.Value(opts, resendKey{}); ok {
		s.resend = v.(time.Duration)
	}
	s.nextID = reqid.Random()
	all := append([]socket.Option{socket.WithProtocol(Protocol)}, opts...)
	all = append(all, socket.WithPipeHook(s.pipeEvent), socket.WithSendHook(s.taken))
	s.Socket = socket.New(all...)
	return s, nil
}

// newID returns a fresh request id with the high bit set.
func (s *Socket) newID() uint32 {
	return reqid.Next(&s.nextID, s.pending)
}

// Send sends a request.
func (s *Socket) Send(content []byte) error { return s.SendContext(context.Background(), content) }

// SendContext sends a request, bounded by ctx.
func (s *Socket) SendContext(ctx context.Context, content []byte) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return socket.ErrClosed
	}
	if len(s.pending) >= MaxOutstanding {
		s.forgetOldest()
	}
	r := newRequest(s.newID(), content)
	s.pending[r.id] = r
	if s.resend > 0 {
		r.due = time.Now().Add(s.resend)
		s.arm(r.due)
	}
	s.mu.Unlock()
	err := s.Socket.SendMsgContext(ctx, &r.msg)
	if err != nil {
		s.forget(r.id)
	}
	return err
}

// SendMsg sends msg.Content as a request.
func (s *Socket) SendMsg(msg *socket.Message) error {
	return s.SendContext(context.Background(), msg.Content)
}

// SendMsgContext sends msg.Content as a request, bounded by ctx.
func (s *Socket) SendMsgContext(ctx context.Context, msg *socket.Message) error {
	return s.SendContext(ctx, msg.Content)
}

// SendAll is not part of req: ErrInvalidSendType.
func (s *Socket) SendAll([]byte) error { return socket.ErrInvalidSendType }

// SendAllContext is not part of req: ErrInvalidSendType.
func (s *Socket) SendAllContext(context.Context, []byte) error { return socket.ErrInvalidSendType }

// SendTo is not part of req: ErrInvalidSendType.
func (s *Socket) SendTo(socket.Path, []byte) error { return socket.ErrInvalidSendType }

// SendToContext is not part of req: ErrInvalidSendType.
func (s *Socket) SendToContext(context.Context, socket.Path, []byte) error {
	return socket.ErrInvalidSendType
}

// Recv returns the next reply to an outstanding request. With none
// outstanding it fails at once with socket.ErrBadState.
func (s *Socket) Recv() ([]byte, error) { return s.RecvContext(context.Background()) }

// RecvContext is Recv bounded by ctx.
func (s *Socket) RecvContext(ctx context.Context) ([]byte, error) {
	m, err := s.RecvMsgContext(ctx)
	if err != nil {
		return nil, err
	}
	return m.Content, nil
}

// RecvMsg is Recv returning the message; its Destination is the request
// id.
func (s *Socket) RecvMsg() (*socket.Message, error) { return s.RecvMsgContext(context.Background()) }

// RecvInto is RecvContext into buf (see socket.Receiver). It copies what
// RecvContext returns, so it allocates as Recv does.
func (s *Socket) RecvInto(ctx context.Context, buf []byte) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	b, err := s.RecvContext(ctx)
	return append(buf[:0], b...), err
}

// RecvMsgContext is RecvMsg bounded by ctx.
func (s *Socket) RecvMsgContext(ctx context.Context) (*socket.Message, error) {
	s.mu.Lock()
	n, closed := len(s.pending), s.closed
	s.mu.Unlock()
	if closed {
		return nil, socket.ErrClosed
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no request outstanding", socket.ErrBadState)
	}
	for {
		m, err := s.Socket.RecvMsgContext(ctx)
		if err != nil {
			return nil, err
		}
		if len(m.Destination) != 1 {
			continue // not a reply to us
		}
		if s.forget(m.Destination[0]) {
			return m, nil
		}
		// A late or duplicate reply: drop it.
	}
}

// forget drops a request; it reports whether it was outstanding.
func (s *Socket) forget(id uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[id]; !ok {
		return false
	}
	delete(s.pending, id)
	return true
}

// forgetOldest drops the request sent longest ago (ids grow with time).
func (s *Socket) forgetOldest() {
	var old *request
	for _, r := range s.pending {
		if old == nil || int32(r.id-s.nextID) < int32(old.id-s.nextID) {
			old = r
		}
	}
	if old != nil {
		delete(s.pending, old.id)
	}
}

// arm makes the resend timer fire no later than at. Called with s.mu held.
// One timer serves all requests: with a fixed interval each new request
// is due after those before it, so it seldom needs touching.
func (s *Socket) arm(at time.Time) {
	if !s.armedAt.IsZero() && !at.Before(s.armedAt) {
		return
	}
	s.armedAt = at
	d := time.Until(at)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.resendDue)
	} else {
		s.timer.Reset(d)
	}
}

// resendDue runs when the timer fires: it resends the requests that are
// due and arms the timer for the next one.
func (s *Socket) resendDue() {
	s.mu.Lock()
	s.armedAt = time.Time{}
	if s.closed {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	var due []*request
	var next time.Time
	for _, r := range s.pending {
		if !r.due.After(now) {
			r.due = now.Add(s.resend)
			due = append(due, r)
		}
		if next.IsZero() || r.due.Before(next) {
			next = r.due
		}
	}
	if !next.IsZero() {
		s.arm(next)
	}
	if len(due) == 0 {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	for _, r := range due {
		if s.isPending(r) {
			_ = s.Socket.SendMsg(&r.msg)
		}
	}
}

// taken records which pipe took a request (socket.WithSendHook).
func (s *Socket) taken(pipeID, id uint32) {
	s.mu.Lock()
	if r := s.pending[id]; r != nil {
		r.pipe = pipeID
	}
	s.mu.Unlock()
}

// pipeEvent resends at once the outstanding requests that the peer going
// away took along, as NNG's req0 does (req0_pipe_close). Requests held by
// peers still connected are left to them.
func (s *Socket) pipeEvent(ev socket.PipeEvent, pipeID uint32) {
	if ev != socket.PipeRemoved {
		return
	}
	s.mu.Lock()
	if s.closed || len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	var rs []*request
	for _, r := range s.pending {
		if r.pipe == pipeID {
			r.pipe = 0
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		for _, r := range rs {
			if s.isPending(r) {
				_ = s.Socket.SendMsg(&r.msg)
			}
		}
	}()
}

func (s *Socket) isPending(r *request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.pending[r.id] == r
}

// Close closes the socket and forgets outstanding requests.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return socket.ErrClosed
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	clear(s.pending)
	s.mu.Unlock()
	err := s.Socket.Close()
	s.wg.Wait()
	return err
}
