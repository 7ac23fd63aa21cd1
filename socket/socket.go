package socket

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// Connector connects a socket to peers. Dialed peers are redialed with
// exponential backoff when they go away, until the socket is closed.
type Connector interface {
	// Dial connects to url (tcp://host:port, ipc:///path, inproc://name,
	// tls+tcp://host:port, ws://host:port/path, ...: any scheme a
	// transport registered, by the program importing its package or
	// transport/all, or given with WithTransport). The first attempt is
	// made at once and its error returned: a bad URL, an unknown scheme,
	// a refused connection, or a peer of another protocol
	// (ErrProtocolMismatch). After it succeeds, the connection is kept up.
	Dial(url string) error
	// DialContext is Dial with a context bounding the first attempt.
	DialContext(ctx context.Context, url string) error
	// Listen accepts peers on url.
	Listen(url string) error
	// ListenAddr is Listen returning the URL actually bound, e.g.
	// tcp://127.0.0.1:41234 for tcp://127.0.0.1:0.
	ListenAddr(url string) (string, error)
}

// Sender sends messages. All methods are safe for concurrent use; each
// copies content before it returns, so the caller may reuse it at once.
// A send waits for room in the send queue unless the socket is best
// effort (WithSendBestEffort), and gives up at the send deadline. A send
// to one pipe (SendTo, SendMsg along a Destination) waits for that pipe's
// full queue only while the pipe writes: once its connection has taken
// nothing for 100 ms (its peer does not read), sends to it that find its
// queue full fail at once with ErrPeerFull until it has caught up, so one
// peer that does not read never holds up the others for long.
type Sender interface {
	// Send sends content to one peer, chosen fairly among those ready to
	// take it (or to all, with WithSendMode(SendToAll)). While no peer is
	// connected the message waits in the send queue. That is the raw
	// socket's Send; a protocol's is what its pattern says (pub, bus and
	// surveyor send to every peer, rep answers the last request, req
	// sends a request): see its package.
	Send(content []byte) error
	// SendContext is Send bounded by ctx.
	SendContext(ctx context.Context, content []byte) error
	// SendAll sends content to every peer connected now.
	SendAll(content []byte) error
	// SendAllContext is SendAll bounded by ctx.
	SendAllContext(ctx context.Context, content []byte) error
	// SendTo sends content along dest: its first id picks the pipe, the
	// rest travels with the message. SendTo(msg.Source, reply) answers a
	// received message. A pipe that is gone is ErrBrokenPath; a pipe whose
	// queue is full and whose peer does not read is ErrPeerFull (see
	// Sender): the message is dropped, as NNG's raw rep drops a reply to
	// a pipe whose queue is full.
	SendTo(dest Path, content []byte) error
	// SendToContext is SendTo bounded by ctx.
	SendToContext(ctx context.Context, dest Path, content []byte) error
	// SendMsg sends a message: along its Destination if it has one, else
	// as Send does. On a raw socket a received message is forwarded as is
	// (Source kept, TTL counted down), which is what a switch does; a
	// protocol with a handler (req, rep, surveyor, respondent) sends the
	// Content of a message without a Destination as its Send does.
	SendMsg(msg *Message) error
	// SendMsgContext is SendMsg bounded by ctx.
	SendMsgContext(ctx context.Context, msg *Message) error
}

// Receiver receives messages from all peers. All methods are safe for
// concurrent use; each message goes to exactly one caller.
type Receiver interface {
	// Recv returns the content of the next message.
	Recv() ([]byte, error)
	// RecvContext is Recv bounded by ctx: ctx only bounds the wait, so a
	// message already queued is returned even if ctx is done (a done ctx
	// makes it a non-blocking receive).
	RecvContext(ctx context.Context) ([]byte, error)
	// RecvMsg returns the next message with its paths.
	RecvMsg() (*Message, error)
	// RecvMsgContext is RecvMsg bounded by ctx, as RecvContext.
	RecvMsgContext(ctx context.Context) (*Message, error)
	// RecvInto is RecvContext into the caller's buffer: it returns the
	// content as append(buf[:0], content...), so in buf itself when it is
	// large enough; a nil ctx bounds nothing. Once a socket has been
	// received from with RecvInto, it receives into recycled buffers and
	// RecvInto gives each back after the copy, so a caller that hands its
	// buffer back (buf, err = s.RecvInto(ctx, buf)) receives without
	// allocating. On an error it returns buf[:0].
	RecvInto(ctx context.Context, buf []byte) ([]byte, error)
}

// Socket is a message socket: a Connector, a Sender and a Receiver.
type Socket interface {
	Connector
	Sender
	Receiver
	// SetSendDeadline makes sends that would wait past t fail with
	// os.ErrDeadlineExceeded; the zero time removes the deadline.
	SetSendDeadline(t time.Time) error
	// SetRecvDeadline does the same for receives.
	SetRecvDeadline(t time.Time) error
	// Stats returns the socket's counters.
	Stats() Stats
	// Close stops the socket. A Dial in progress fails at once with
	// ErrClosed. Messages still queued are written first, for up to the
	// send stop timeout (WithSendStopTimeout); then every pipe, listener
	// and dialer is closed, and blocked calls return ErrClosed.
	Close() error
}

// Stats are a socket's counters since New. A counter is updated before
// what it counts can be seen: a message is counted as received before a
// receive can return it, and a pipe's close and its reason (Refused,
// IdleTimeouts, Oversize, ProtocolErrors) before the peer sees the
// connection close. MsgsSent and BytesSent are the exception: they count
// a write once it returned, which may be after the peer received it.
type Stats struct {
	Pipes          int    // pipes open now
	PipesOpened    uint64 // pipes ever opened
	PipesClosed    uint64 // pipes ever closed
	Reconnects     uint64 // pipes opened by a dialer after its first
	MsgsSent       uint64 // messages written to pipes
	BytesSent      uint64 // bytes of those messages, headers included
	MsgsRecv       uint64 // messages read from pipes
	BytesRecv      uint64 // bytes of those messages, headers included
	Dropped        uint64 // messages dropped: full queue when best effort or for SendTo (PeerFull), or queued for a pipe that closed
	PeerFull       uint64 // sends to one pipe that failed with ErrPeerFull, its queue being full
	TTLDropped     uint64 // messages received with no hops left (or too long a backtrace)
	Filtered       uint64 // messages discarded by a receive filter, the protocol (a late reply, a topic not subscribed) or WithNoRecv
	BrokenPaths    uint64 // sends whose path led to no pipe
	Oversize       uint64 // pipes closed because the peer sent a message over the size limit
	ProtocolErrors uint64 // pipes closed because the peer broke the wire format
	Refused        uint64 // accepted peers closed at once: over WithMaxPeers or WithMaxPeersPerListener
	IdleTimeouts   uint64 // accepted pipes closed by WithIdleTimeout
}

// counters are the atomic side of Stats.
type counters struct {
	pipesOpened, pipesClosed, reconnects       atomic.Uint64
	msgsSent, bytesSent, msgsRecv, bytesRecv   atomic.Uint64
	dropped, ttlDropped, filtered, brokenPaths atomic.Uint64
	oversize, protocolErrors                   atomic.Uint64
	refused, idleTimeouts, peerFull            atomic.Uint64
}

// sock is the Socket implementation, for every protocol.
type sock struct {
	o     options
	proto Protocol
	ttl   uint8
	tcfg  transport.Config

	// The protocol: its handler and the hooks it has, and how it sends.
	h         Handler
	hk        hooks
	sends     Sends // the protocol's, or none with WithNoSend
	sendEvery bool  // Send goes to every peer
	dropSlow  bool  // sends to every peer drop for slow peers (Protocol.DropSlow)

	// Lifecycle. mu guards endpoints and stopped; wg counts goroutines.
	mu        sync.Mutex
	stopped   bool
	listeners []transport.Listener
	wg        sync.WaitGroup
	closing   chan struct{} // closed when Close starts: sends and receives end
	stopping  chan struct{} // closed after the linger: endpoints and pipes end
	ctx       context.Context
	cancel    context.CancelFunc // after the linger: listeners and redials end
	dialCtx   context.Context    // done when Close starts: first dials end
	dialStop  context.CancelFunc
	closeOnce sync.Once

	sendDeadline atomic.Pointer[time.Time]
	recvDeadline atomic.Pointer[time.Time]

	sq sendQueue
	rq recvQueue
	c  counters

	// single is the socket's only pipe while it has exactly one that can
	// be read directly by receivers; nil otherwise.
	single atomic.Pointer[pipe]

	// recycle is set by the first RecvInto: from then on received
	// messages are copied into buffers of internal/bufpool, which
	// RecvInto gives back.
	recycle atomic.Bool
}

// New returns a socket speaking plexus's raw protocol, or another with
// WithProtocol: every protocol package's New is New with its Protocol.
// It has no peers until Dial or Listen. It fails with an error matching
// ErrBadOption when an option is not for this socket (see there), or
// with the error of the protocol's Handler.
func New(opts ...Option) (Socket, error) {
	s, err := newSock(opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newSock(opts ...Option) (*sock, error) {
	o := defaultOptions()
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.protoSet > 1 {
		return nil, fmt.Errorf("%w: WithProtocol given %d times (a protocol package's New gives its own)", ErrBadOption, o.protoSet)
	}
	p := o.proto
	if p.TTL == 0 {
		p.TTL = DefaultTTL
	}
	if o.sendModeSet {
		if o.sendMode == SendToAll && p.Sends&SendsAll == 0 || o.sendMode == SendToOne && p.Sends&SendsOne == 0 {
			return nil, fmt.Errorf("%w: WithSendMode(%v) on a %s socket, which cannot send that way", ErrBadOption, o.sendMode, p.Self.Name)
		}
	}
	if p.MaxPeers > 0 && (o.maxPeers == 0 || o.maxPeers > p.MaxPeers) {
		o.maxPeers = p.MaxPeers
	}
	o.noRecv = o.noRecv || p.NoRecv
	s := &sock{
		o:        o,
		proto:    p,
		ttl:      p.TTL,
		closing:  make(chan struct{}),
		stopping: make(chan struct{}),
		dropSlow: p.DropSlow,
	}
	if !o.noSend {
		s.sends = p.Sends
	}
	s.sendEvery = s.sends&SendsAll != 0 && (s.sends&SendsOne == 0 || o.sendMode == SendToAll)
	if o.sendTTL != 0 {
		s.ttl = o.sendTTL
	}
	s.tcfg = transport.Config{
		Self:             p.Self,
		Peer:             p.Peer,
		MaxRecvSize:      o.maxRecvSize,
		TLS:              o.tlsConfig,
		HandshakeTimeout: o.handshake,
	}
	s.sq.init(s, firstPipeID())
	s.rq.init(o.recvQueueSize)
	if err := s.setHandler(o.handlerOpts); err != nil {
		return nil, err
	}
	s.o.handlerOpts = nil
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.dialCtx, s.dialStop = context.WithCancel(context.Background())
	return s, nil
}

// firstPipeID picks where a socket's pipe ids start: somewhere random in
// the lower quarter of the 31-bit space, so that ids of different sockets
// seldom coincide, with room for a billion pipes.
func firstPipeID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])&0x1fffffff | 1
}

// Stats implements Socket.
func (s *sock) Stats() Stats {
	s.sq.mu.Lock()
	n := len(s.sq.pipes)
	s.sq.mu.Unlock()
	return Stats{
		Pipes:          n,
		PipesOpened:    s.c.pipesOpened.Load(),
		PipesClosed:    s.c.pipesClosed.Load(),
		Reconnects:     s.c.reconnects.Load(),
		MsgsSent:       s.c.msgsSent.Load(),
		BytesSent:      s.c.bytesSent.Load(),
		MsgsRecv:       s.c.msgsRecv.Load(),
		BytesRecv:      s.c.bytesRecv.Load(),
		Dropped:        s.c.dropped.Load(),
		PeerFull:       s.c.peerFull.Load(),
		TTLDropped:     s.c.ttlDropped.Load(),
		Filtered:       s.c.filtered.Load(),
		BrokenPaths:    s.c.brokenPaths.Load(),
		Oversize:       s.c.oversize.Load(),
		ProtocolErrors: s.c.protocolErrors.Load(),
		Refused:        s.c.refused.Load(),
		IdleTimeouts:   s.c.idleTimeouts.Load(),
	}
}

// SetSendDeadline implements Socket.
func (s *sock) SetSendDeadline(t time.Time) error {
	if s.isClosing() {
		return ErrClosed
	}
	s.sendDeadline.Store(&t)
	return nil
}

// SetRecvDeadline implements Socket.
func (s *sock) SetRecvDeadline(t time.Time) error {
	if s.isClosing() {
		return ErrClosed
	}
	s.recvDeadline.Store(&t)
	return nil
}

// deadline combines an absolute deadline and a per-call timeout.
func deadline(abs *atomic.Pointer[time.Time], timeout time.Duration) time.Time {
	var d time.Time
	if p := abs.Load(); p != nil {
		d = *p
	}
	if timeout > 0 {
		t := time.Now().Add(timeout)
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	return d
}

func (s *sock) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// Close implements Socket.
func (s *sock) Close() error {
	err := ErrClosed
	s.closeOnce.Do(func() {
		err = nil
		close(s.closing)
		s.dialStop()
		if s.hk.close != nil {
			s.hk.close.Close()
		}
		s.rq.close()
		if p := s.single.Load(); p != nil {
			p.readNow() // read again, so that nothing is left unread
		}
		s.sq.linger(s.o.sendStopTimeout)

		s.mu.Lock()
		s.stopped = true
		ls := s.listeners
		s.listeners = nil
		s.mu.Unlock()
		close(s.stopping)
		s.cancel()
		for _, l := range ls {
			l.Close()
		}
		s.sq.closeAll()
		s.wg.Wait()
	})
	return err
}

// goroutine starts f as a socket goroutine unless the socket has stopped.
func (s *sock) goroutine(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func (s *sock) logf(msg string, args ...any) {
	if s.o.logger != nil {
		s.o.logger.Debug(msg, args...)
	}
}
