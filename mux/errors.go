package mux

import (
	"errors"
	"fmt"
	"net"
	"os"
)

// Errors returned by sessions and streams. Test for them with errors.Is;
// deadlines fail with an error for which errors.Is(err, os.ErrDeadlineExceeded)
// holds and which is a net.Error whose Timeout method returns true.
var (
	// ErrSessionClosed: the session is closed, by Close, by the peer, or by
	// a failure that Session.Err reports.
	ErrSessionClosed = errors.New("mux: session closed")
	// ErrStreamClosed: the stream was closed locally (Read after Close,
	// Write after Close or CloseWrite). It is net.ErrClosed too.
	ErrStreamClosed = fmt.Errorf("mux: stream closed: %w", net.ErrClosed)
	// ErrStreamReset: the stream was reset, by the peer or locally. The
	// error is a *StreamError that carries the code.
	ErrStreamReset = errors.New("mux: stream reset")
	// ErrTooManyStreams: opening a stream would exceed Config.MaxStreams,
	// the stream ids are exhausted, or the peer refused the stream.
	ErrTooManyStreams = errors.New("mux: too many streams")
	// ErrNoClass: a class stream (Session.OpenClassStream) on a session
	// where this side or the peer has no class window.
	ErrNoClass = errors.New("mux: the session has no class of streams")
	// ErrGoAway: the session is going away, so no new stream may be opened.
	ErrGoAway = errors.New("mux: session going away")
	// ErrProtocol: the peer broke the protocol; the session is closed.
	ErrProtocol = errors.New("mux: protocol error")
	// ErrKeepAliveTimeout: nothing was received from the peer for
	// Config.KeepAliveTimeout; the session is closed.
	ErrKeepAliveTimeout = errors.New("mux: keep-alive timeout")
	// ErrWriteTimeout: a connection write was blocked for
	// Config.WriteTimeout; the session is closed.
	ErrWriteTimeout = errors.New("mux: connection write timeout")
	// ErrMessageTooLarge: Recv met a message longer than
	// Config.MaxMessageSize; the stream is reset.
	ErrMessageTooLarge = errors.New("mux: message too large")
)

// ErrorCode is carried by RESET and GOAWAY frames. Codes below 0x100 are
// defined by the protocol; applications may use any other value with
// Stream.Reset.
type ErrorCode uint32

// Protocol error codes.
const (
	CodeNoError         ErrorCode = 0x0 // GOAWAY: a graceful shutdown
	CodeProtocol        ErrorCode = 0x1 // the peer broke the protocol
	CodeInternal        ErrorCode = 0x2 // an implementation failure
	CodeFlowControl     ErrorCode = 0x3 // the peer sent more than its credit
	CodeRefused         ErrorCode = 0x4 // stream refused: too many streams or a full accept backlog
	CodeCancel          ErrorCode = 0x5 // the stream is no longer wanted (Reset, data after Close)
	CodeGoingAway       ErrorCode = 0x6 // stream refused: the session is going away
	CodeMessageTooLarge ErrorCode = 0x7 // a message exceeded the receiver's limit
)

var codeNames = map[ErrorCode]string{
	CodeNoError: "no error", CodeProtocol: "protocol error", CodeInternal: "internal error",
	CodeFlowControl: "flow-control error", CodeRefused: "refused", CodeCancel: "cancel",
	CodeGoingAway: "going away", CodeMessageTooLarge: "message too large",
}

func (c ErrorCode) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code %#x", uint32(c))
}

// StreamError reports a reset stream. errors.Is(err, ErrStreamReset) holds
// for it, and so does errors.Is(err, ErrTooManyStreams) when the peer
// refused the stream, ErrGoAway when it refused it because it is going away,
// and ErrMessageTooLarge for CodeMessageTooLarge.
type StreamError struct {
	StreamID uint32
	Code     ErrorCode
	Remote   bool // the peer reset the stream
}

func (e *StreamError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by peer"
	}
	return fmt.Sprintf("mux: stream %d reset %s: %v", e.StreamID, who, e.Code)
}

// Is reports whether target is one of the sentinel errors the code implies.
func (e *StreamError) Is(target error) bool {
	switch target {
	case ErrStreamReset:
		return true
	case ErrTooManyStreams:
		return e.Code == CodeRefused
	case ErrGoAway:
		return e.Code == CodeGoingAway
	case ErrMessageTooLarge:
		return e.Code == CodeMessageTooLarge
	}
	return false
}

// sessionError is what stream and session operations return once the
// session is closed: it is ErrSessionClosed and net.ErrClosed (so that a
// Session serves as a net.Listener), and unwraps to the cause.
type sessionError struct{ cause error }

func (e *sessionError) Error() string {
	if e.cause == nil || e.cause == ErrSessionClosed {
		return ErrSessionClosed.Error()
	}
	return ErrSessionClosed.Error() + ": " + e.cause.Error()
}
func (e *sessionError) Is(target error) bool {
	return target == ErrSessionClosed || target == net.ErrClosed
}
func (e *sessionError) Unwrap() error { return e.cause }

// protocolError is ErrProtocol with a description.
type protocolError struct{ msg string }

func protoErr(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}
func (e *protocolError) Error() string        { return "mux: protocol error: " + e.msg }
func (e *protocolError) Is(target error) bool { return target == ErrProtocol }

// timeoutError is returned when a deadline passes. It is a net.Error.
type timeoutError struct{}

func (timeoutError) Error() string        { return "mux: i/o timeout" }
func (timeoutError) Timeout() bool        { return true }
func (timeoutError) Temporary() bool      { return true }
func (timeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

var errTimeout error = timeoutError{}
