// Package transport defines how a socket reaches its peers: the Transport,
// Listener and Pipe interfaces, the URL scheme registry, and the frame batch
// format a socket hands to a pipe.
//
// What lives where: transport.go holds the interfaces, the per-socket
// Config and the errors; registry.go the scheme registry and URL parsing;
// frames.go the frame batch format. The transports are packages below:
// inproc, ipc, tcp, tlstcp and ws register their schemes when imported
// (all imports every one of them); mesh is given to a socket with
// socket.WithTransport; spstream is the SP handshake and framing over any
// net.Conn that ipc, tcp, tlstcp and mesh share.
//
// A transport turns a URL (tcp://host:port, ipc:///path, inproc://name, ...)
// into Pipes: established, protocol-checked, message-oriented connections to
// one peer. The socket layer never sees bytes on the wire; the transports that
// run over byte streams (tcp, ipc, tls+tcp and any net.Conn based transport
// added later) share the SP framing of package spstream.
//
// Registering a scheme with Register is the only side effect a transport
// package may have at init time. A socket can also be given a Transport
// directly (socket.WithTransport), which needs no registration at all.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Proto names one side of a scalability protocol: the 16-bit SP protocol
// id carried in the SP handshake and the name used to build websocket
// subprotocol names ("<name>.sp.nanomsg.org").
type Proto struct {
	ID   uint16
	Name string
}

// String returns "name(0xID)".
func (p Proto) String() string { return fmt.Sprintf("%s(0x%02x)", p.Name, p.ID) }

// DefaultMaxRecvSize is the largest message a pipe accepts when
// Config.MaxRecvSize is zero (1 MiB, as NNG's default NNG_OPT_RECVMAXSZ).
const DefaultMaxRecvSize = 1 << 20

// DefaultHandshakeTimeout bounds the setup of one connection (the SP
// handshake, TLS included, or the websocket upgrade) when
// Config.HandshakeTimeout is zero: 5 s, which a healthy peer meets by far
// even over a slow, distant link, and which frees what a silent peer holds
// soon. NNG gives 10 s.
const DefaultHandshakeTimeout = 5 * time.Second

// Config is what a socket tells a transport about one endpoint.
type Config struct {
	// Self is the protocol of the local socket, announced to the peer.
	Self Proto
	// Peer is the only protocol accepted on the other end; a peer that
	// announces another one is refused with ErrProtocolMismatch.
	Peer Proto
	// MaxRecvSize is the largest message payload accepted from the peer,
	// in bytes. A larger message fails the pipe with ErrMsgTooLarge before
	// anything is allocated for it. Zero means DefaultMaxRecvSize.
	MaxRecvSize int
	// TLS configures tls+tcp:// (and wss:// when supported). It is
	// required by those schemes: there is no insecure fallback.
	TLS *tls.Config
	// HandshakeTimeout bounds connection setup (SP handshake, TLS
	// included, or websocket upgrade), dialing and accepting. Zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// MaxRecv returns the effective receive limit.
func (c *Config) MaxRecv() int {
	if c == nil || c.MaxRecvSize <= 0 {
		return DefaultMaxRecvSize
	}
	return c.MaxRecvSize
}

// Handshake returns the effective handshake timeout.
func (c *Config) Handshake() time.Duration {
	if c == nil || c.HandshakeTimeout <= 0 {
		return DefaultHandshakeTimeout
	}
	return c.HandshakeTimeout
}

// Transport dials and listens on the URLs of one scheme.
type Transport interface {
	// Scheme is the URL scheme served, without "://", e.g. "tcp".
	Scheme() string
	// Dial connects to addr and returns a pipe whose peer speaks
	// cfg.Peer. It honours ctx for the whole setup, handshake included.
	Dial(ctx context.Context, addr *url.URL, cfg *Config) (Pipe, error)
	// Listen binds addr and returns a listener of pipes.
	Listen(ctx context.Context, addr *url.URL, cfg *Config) (Listener, error)
}

// Listener yields the pipes of accepted connections, each already
// handshaken and checked against Config.Peer.
type Listener interface {
	// Accept waits for the next pipe. After Close it returns an error
	// that matches ErrClosed.
	Accept() (Pipe, error)
	// Close stops listening, releases the address (an ipc socket file is
	// removed) and unblocks Accept. Pipes already accepted stay open.
	Close() error
	// Addr is the URL actually bound, e.g. tcp://127.0.0.1:41234 after
	// listening on port 0.
	Addr() string
}

// Pipe is an established, message-oriented connection to one peer.
//
// Send and Recv may be called concurrently with each other, but each by one
// goroutine at a time. Close may be called at any time and more than once.
type Pipe interface {
	// Send writes the messages in frames, in order. frames holds zero or
	// more buffers of frames in the batch format (see AppendFrame); Send
	// does not keep any of them after it returns.
	Send(frames ...[]byte) error
	// Recv returns the next message payload. The slice is only valid
	// until the next call to Recv. A message larger than the configured
	// limit fails with ErrMsgTooLarge without being allocated; the pipe
	// is then unusable.
	Recv() ([]byte, error)
	// Buffered reports whether Recv can return a message without
	// waiting for the peer. Readers use it to hand messages on in batches.
	Buffered() bool
	// Peer is the protocol announced by the peer.
	Peer() Proto
	// LocalAddr and RemoteAddr describe the two ends, for logs.
	LocalAddr() string
	RemoteAddr() string
	// Close tears the connection down.
	Close() error
}

// TrySender is implemented by pipes that can write without waiting. A
// socket uses it to write a message from the sending goroutine itself when
// the pipe's writer is idle, saving a goroutine switch on the round-trip
// path.
type TrySender interface {
	// TrySend writes one buffer of frames if the connection takes it at
	// once. When it takes only part of it, or nothing, the pipe keeps the
	// rest, done is false, and the caller must call Send (with no frames
	// if it has nothing else), which writes the rest first. TrySend is a
	// write: it is never called concurrently with Send.
	TrySend(frames []byte) (done bool, err error)
}

// Interrupter is implemented by pipes whose blocked Recv can be cut
// short. A socket uses it to read from the receiving goroutine itself (no
// goroutine switch between the connection and Recv) while it can still
// hand reading back to its reader goroutine, honour contexts and
// deadlines, and notice other pipes.
type Interrupter interface {
	// Interruptible reports whether Interrupt works on this pipe.
	Interruptible() bool
	// Interrupt makes a Recv in progress, or else the next one, return
	// ErrInterrupted at once. No data is lost: the next Recv goes on
	// where the interrupted one stopped. It may be called from any
	// goroutine at any time.
	Interrupt()
}

// Errors returned by transports. Test them with errors.Is.
var (
	// ErrUnknownScheme: no transport is registered for the URL's scheme.
	ErrUnknownScheme = errors.New("transport: unknown URL scheme")
	// ErrBadURL: the URL cannot be parsed or lacks what its scheme needs.
	ErrBadURL = errors.New("transport: bad URL")
	// ErrProtocolMismatch: the peer speaks a protocol we do not pair with.
	ErrProtocolMismatch = errors.New("transport: peer protocol mismatch")
	// ErrBadHandshake: the peer's connection header is not an SP header.
	ErrBadHandshake = errors.New("transport: bad SP handshake")
	// ErrMsgTooLarge: the peer announced a message over the size limit.
	ErrMsgTooLarge = errors.New("transport: message too large")
	// ErrProtocol: the peer broke the framing rules.
	ErrProtocol = errors.New("transport: protocol error")
	// ErrInterrupted: Recv was cut short by Interrupter.Interrupt.
	ErrInterrupted = errors.New("transport: receive interrupted")
	// ErrClosed: the pipe or listener is closed. It matches net.ErrClosed
	// too, as the errors of a closed net.Conn or net.Listener do.
	ErrClosed error = &closedError{"transport: closed"}
	// ErrAddrInUse: the address is already bound (inproc names, ipc paths).
	ErrAddrInUse = errors.New("transport: address in use")
	// ErrConnRefused: nobody listens at the address (inproc).
	ErrConnRefused = errors.New("transport: connection refused")
	// ErrNoTLSConfig: a TLS scheme was used without Config.TLS.
	ErrNoTLSConfig = errors.New("transport: TLS scheme needs a TLS config")
)

// closedError is a "closed" sentinel that matches net.ErrClosed too.
type closedError struct{ msg string }

func (e *closedError) Error() string { return e.msg }

// Is makes errors.Is(err, net.ErrClosed) true.
func (e *closedError) Is(target error) bool { return target == net.ErrClosed }

// MismatchError reports the protocol a peer announced when it is not the
// expected one. It matches ErrProtocolMismatch.
type MismatchError struct {
	Want Proto  // the protocol we pair with
	Got  uint16 // the id the peer announced
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("transport: peer protocol mismatch: want %v, peer announced 0x%02x", e.Want, e.Got)
}

// Is makes errors.Is(err, ErrProtocolMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrProtocolMismatch }
