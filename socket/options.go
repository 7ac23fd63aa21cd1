package socket

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// Option configures a socket at New.
type Option func(*options)

// Defaults of the options, multisocket's where it had them.
const (
	DefaultRecvQueueSize   = 64
	DefaultSendQueueSize   = 64
	DefaultSendStopTimeout = 5 * time.Second
	DefaultReconnectMin    = 100 * time.Millisecond
	DefaultReconnectMax    = 30 * time.Second
	// DefaultMaxPeersPerListener is how many pipes each listener of a
	// socket keeps open at a time unless WithMaxPeersPerListener says
	// otherwise. It bounds what peers can make a listening socket hold
	// (file descriptors, goroutines, buffers: about 15 KiB for an idle
	// peer, up to twice the message size limit for a busy one).
	DefaultMaxPeersPerListener = 1024
)

// PipeEvent is what WithPipeHook reports.
type PipeEvent uint8

const (
	// PipeAdded: a pipe was connected and is ready.
	PipeAdded PipeEvent = iota + 1
	// PipeRemoved: a pipe was closed; its id will never be used again.
	PipeRemoved
)

// SendMode is what Send and SendMsg without a Destination do.
type SendMode uint8

// String returns SendToOne or SendToAll.
func (m SendMode) String() string {
	if m == SendToAll {
		return "SendToAll"
	}
	return "SendToOne"
}

const (
	// SendToOne sends to one peer, chosen fairly among those ready to take
	// it; while there is no peer, messages wait in the send queue.
	SendToOne SendMode = iota
	// SendToAll sends to every peer, as SendAll.
	SendToAll
)

type options struct {
	proto           Protocol
	noRecv          bool
	recvQueueSize   int
	noSend          bool
	sendQueueSize   int
	sendTTL         uint8
	sendBestEffort  bool
	sendStopTimeout time.Duration
	sendTimeout     time.Duration
	recvTimeout     time.Duration
	maxRecvSize     int
	maxPeers        int
	maxLnPeers      int
	idleTimeout     time.Duration
	handshake       time.Duration
	sendMode        SendMode
	sendModeSet     bool
	reconnectMin    time.Duration
	reconnectMax    time.Duration
	tlsConfig       *tls.Config
	transports      []transport.Transport
	recvFilter      func([]byte) bool
	pipeHooks       []func(PipeEvent, uint32)
	sendHooks       []func(pipeID, tag uint32)
	logger          *slog.Logger
	protoSet        int             // WithProtocol options given
	handlerOpts     []handlerOption // HandlerOption options given
}

func defaultOptions() options {
	return options{
		proto:           RawProtocol,
		recvQueueSize:   DefaultRecvQueueSize,
		sendQueueSize:   DefaultSendQueueSize,
		sendStopTimeout: DefaultSendStopTimeout,
		maxRecvSize:     transport.DefaultMaxRecvSize,
		maxLnPeers:      DefaultMaxPeersPerListener,
		reconnectMin:    DefaultReconnectMin,
		reconnectMax:    DefaultReconnectMax,
	}
}

// WithProtocol makes the socket speak p instead of RawProtocol. Protocol
// packages use it in their New; applications use those packages. Given
// more than once (to a protocol package's New, say), New fails with
// ErrBadOption.
func WithProtocol(p Protocol) Option {
	return func(o *options) {
		o.proto = p
		o.protoSet++
	}
}

// WithNoRecv discards every received message (the "none" Receiver):
// useful for protocols that only send, such as push and pub. Pipes are
// still read, so that peers are never blocked, and Recv fails at once
// with ErrInvalidRecvType.
func WithNoRecv() Option { return func(o *options) { o.noRecv = true } }

// WithRecvQueueSize sets how many received messages wait for Recv before
// the pipes stop reading (default 64). Values below 1 mean 1.
func WithRecvQueueSize(n int) Option {
	return func(o *options) { o.recvQueueSize = max(n, 1) }
}

// WithNoSend makes every send fail with ErrInvalidSendType (the "none"
// Sender): useful for protocols that only receive, such as pull and sub.
func WithNoSend() Option { return func(o *options) { o.noSend = true } }

// WithSendQueueSize sets how many messages may wait to be written, in the
// queue shared by all peers and in each peer's own queue (default 64).
// Values below 1 mean 1.
func WithSendQueueSize(n int) Option {
	return func(o *options) { o.sendQueueSize = max(n, 1) }
}

// WithSendTTL sets the TTL of messages sent (default: the protocol's,
// 16 for raw sockets and 8 for SP backtraces). Zero keeps the default.
func WithSendTTL(ttl uint8) Option { return func(o *options) { o.sendTTL = ttl } }

// WithSendBestEffort makes a send on a full queue drop the message and
// return ErrMsgDropped at once instead of waiting.
func WithSendBestEffort() Option { return func(o *options) { o.sendBestEffort = true } }

// WithSendStopTimeout sets how long Close waits for queued messages to be
// written (default 5 s). Zero closes at once, dropping them.
func WithSendStopTimeout(d time.Duration) Option {
	return func(o *options) { o.sendStopTimeout = max(d, 0) }
}

// WithSendTimeout bounds how long a send waits for room in a queue; past
// it the send fails with os.ErrDeadlineExceeded. Zero (the default) waits
// as long as needed.
func WithSendTimeout(d time.Duration) Option { return func(o *options) { o.sendTimeout = max(d, 0) } }

// WithRecvTimeout bounds how long Recv waits for a message; past it Recv
// fails with os.ErrDeadlineExceeded. Zero (the default) waits as long as
// needed.
func WithRecvTimeout(d time.Duration) Option { return func(o *options) { o.recvTimeout = max(d, 0) } }

// WithMaxRecvSize sets the largest message accepted from a peer (default
// 1 MiB). A peer that announces a larger one has its pipe closed before
// anything is allocated for the message. Values below 1 keep the default.
func WithMaxRecvSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxRecvSize = n
		}
	}
}

// WithMaxPeers limits the socket to n pipes at a time (the Connector's
// "at most N"); further connections are refused. Zero, the default, means
// any number. A protocol's own limit (pair's one peer) holds whatever n
// says.
func WithMaxPeers(n int) Option { return func(o *options) { o.maxPeers = max(n, 0) } }

// WithMaxPeersPerListener limits each listener of the socket to n pipes
// at a time (default DefaultMaxPeersPerListener, 1024); a peer beyond it
// is closed right after its handshake, is counted in Stats.Refused, and
// affects no other peer. It applies to each listener on its own, on top
// of WithMaxPeers. Zero or less means any number.
func WithMaxPeersPerListener(n int) Option {
	return func(o *options) { o.maxLnPeers = max(n, 0) }
}

// WithIdleTimeout closes a pipe that a listener of the socket accepted
// when its peer has sent no whole message for d (counting from the
// handshake), and counts it in Stats.IdleTimeouts. While the socket's
// receive queue is full the reader does not read, and that wait does not
// count. Dialed pipes are not affected. Zero, the default, never closes a
// pipe for its silence: SP has no keep-alive, and many peers
// legitimately send nothing for a long time (sub and pull peers never
// send; a req peer sends only when it has a request). Use it on a
// listener whose peers are expected to talk, to shed peers that connect
// and hold a connection without using it.
func WithIdleTimeout(d time.Duration) Option {
	return func(o *options) { o.idleTimeout = max(d, 0) }
}

// WithHandshakeTimeout bounds the setup of every connection of the
// socket, dialed or accepted: the SP handshake (with TLS on tls+tcp://)
// or the websocket upgrade. A peer that has not completed it by then is
// dropped; a Dial fails. The default is transport.DefaultHandshakeTimeout
// (5 s); values below or equal to zero keep it.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *options) { o.handshake = max(d, 0) }
}

// WithSendMode sets what Send does (default SendToOne) on a socket whose
// protocol has both ways (the raw protocol). Given to a socket whose
// protocol cannot send that way (SendToAll to a push, SendToOne to a pub),
// New fails with ErrBadOption.
func WithSendMode(m SendMode) Option {
	return func(o *options) { o.sendMode, o.sendModeSet = m, true }
}

// WithReconnectInterval sets the backoff of dialers: the first redial
// waits min, each failure doubles the wait up to max (defaults 100 ms and
// 30 s).
func WithReconnectInterval(min, max time.Duration) Option {
	return func(o *options) {
		if min > 0 {
			o.reconnectMin = min
		}
		if max >= o.reconnectMin {
			o.reconnectMax = max
		} else {
			o.reconnectMax = o.reconnectMin
		}
	}
}

// WithTLSConfig gives tls+tcp:// (and other TLS transports) their
// configuration: certificates to listen, roots and server name to dial.
// Without it those schemes fail; there is no insecure fallback.
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tlsConfig = c } }

// WithTransport adds a transport for this socket only, taking precedence
// over the registered one of the same scheme. It is how a transport that
// needs its own state (an overlay node, a private inproc namespace) is
// used without registering it.
func WithTransport(t transport.Transport) Option {
	return func(o *options) { o.transports = append(o.transports, t) }
}

// WithRecvFilter installs f on the receive path: a message whose content
// f rejects is discarded before it takes room in the receive queue.
// f runs on the pipes' reader goroutines (or a receiver reading a pipe
// directly), concurrently, and must be quick and must not call the
// socket. (A protocol's handler filters with FilterHook.)
func WithRecvFilter(f func(content []byte) bool) Option {
	return func(o *options) { o.recvFilter = f }
}

// WithPipeHook calls f when a pipe is added or removed. f runs on the
// goroutine that made the change and must not block. Hooks add up: each
// WithPipeHook installs one more. (A protocol's handler is told with
// PipeHook.)
func WithPipeHook(f func(ev PipeEvent, pipeID uint32)) Option {
	return func(o *options) {
		if f != nil {
			o.pipeHooks = append(o.pipeHooks, f)
		}
	}
}

// WithSendHook calls f each time a pipe takes a message sent to one peer
// chosen by the socket (Send, or SendMsg without a Destination) from the
// queue shared by all peers: pipeID is that pipe, and tag the last word
// of the message's Source path (zero if it has none), which on req is the
// request id. It is how the sender learns which peer holds which message
// (req's handler, with TakeHook, resends only the requests held by a peer
// that goes away). f runs
// with the socket's send queue locked, so that it happens before the
// pipe can be reported removed: it must be quick and must not call the
// socket. Hooks add up: each WithSendHook installs one more.
func WithSendHook(f func(pipeID, tag uint32)) Option {
	return func(o *options) {
		if f != nil {
			o.sendHooks = append(o.sendHooks, f)
		}
	}
}

// WithLogger makes the socket log connection events (nil: no logging).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }
