package resume

import (
	"errors"
	"fmt"
	"net"
	"os"
)

// Errors returned by a Conn. Test for them with errors.Is; deadlines fail
// with an error for which errors.Is(err, os.ErrDeadlineExceeded) holds and
// which is a net.Error whose Timeout method returns true.
var (
	// ErrClosed: the Conn was closed locally. It is net.ErrClosed too.
	ErrClosed = fmt.Errorf("resume: conn closed: %w", net.ErrClosed)
	// ErrPeerClosed: the peer closed the Conn gracefully (a CLOSE frame);
	// Write fails with it, Read returns io.EOF once the data is read.
	ErrPeerClosed = errors.New("resume: closed by the peer")
	// ErrResumeTimeout: no resume succeeded within Config.ResumeWindow
	// after a break; the Conn has failed.
	ErrResumeTimeout = errors.New("resume: no resume within the resume window")
	// ErrResumeRefused: a resume exchange was refused (bad MAC, wrong id,
	// stale generation, impossible offset, malformed message). The error
	// wraps the reason; the Conn stays suspended.
	ErrResumeRefused = errors.New("resume: resume refused")
	// ErrNoKey: Resume was called before SetKey.
	ErrNoKey = errors.New("resume: no resume key (SetKey)")
	// ErrNotSuspended: Resume was called on a Conn whose path is attached
	// (call Break first), or another Resume succeeded during its exchange.
	ErrNotSuspended = errors.New("resume: conn not suspended")
	// ErrProtocol: the peer broke the framing protocol; the path is broken.
	ErrProtocol = errors.New("resume: protocol error")
	// ErrKeepAliveTimeout: nothing arrived on the path for
	// Config.KeepAliveTimeout; the path is broken.
	ErrKeepAliveTimeout = errors.New("resume: keep-alive timeout")
	// ErrBroken: the default cause of Break(nil).
	ErrBroken = errors.New("resume: path broken")
)

// errTakenOver is why Accept breaks an attached path: the peer, proved,
// resumed over another.
var errTakenOver = errors.New("resume: the peer resumed over a new path")

// Reasons for a refusal, wrapped with ErrResumeRefused.
var (
	errMalformed = errors.New("malformed resume message")
	errWrongID   = errors.New("wrong conn id")
	errReflected = errors.New("reflected hello (our own nonce)")
	errBadMAC    = errors.New("bad MAC")
	errStaleGen  = errors.New("stale generation")
	errBadOffset = errors.New("received offset out of range")
)

// refused wraps a reason with ErrResumeRefused.
func refused(reason error) error { return fmt.Errorf("%w: %w", ErrResumeRefused, reason) }

// timeoutError is a deadline's error: a net.Error that is
// os.ErrDeadlineExceeded.
type timeoutError struct{}

func (timeoutError) Error() string   { return "resume: i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }
