package mesh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mux"
)

// Errors returned by a Node, its listeners and its connections. Test for
// them with errors.Is: the errors returned carry details (which peer, which
// rule, which limit) and wrap one of these.
var (
	// ErrNoRoute: no path to the host is known, or a relay on the path
	// found its next hop gone.
	ErrNoRoute = errors.New("mesh: no route to host")
	// ErrNoService: no reachable node offers the service (in this env).
	ErrNoService = errors.New("mesh: no such service")
	// ErrConnRefused: the host is reachable but nothing listens on the port.
	ErrConnRefused = errors.New("mesh: connection refused")
	// ErrAddrInUse: the port or service name is already bound on this node
	// (in this env).
	ErrAddrInUse = errors.New("mesh: address already in use")
	// ErrBadAddress: an address, node id, service or env name is malformed.
	ErrBadAddress = base.ErrBadAddress
	// ErrMeshMismatch: the peer of a link belongs to a mesh of another name.
	ErrMeshMismatch = errors.New("mesh: mesh name mismatch")
	// ErrVersion: the peer of a link speaks another protocol version.
	ErrVersion = base.ErrVersion
	// ErrIDMismatch: a peer announced an id that is not the one its
	// certificate proves, or that we expected, or that is our own.
	ErrIDMismatch = base.ErrIDMismatch
	// ErrNotAuthorized: the peer has no valid certificate of the mesh CA,
	// one end of a link is secured and the other is not, a record's
	// signature or certificate does not hold, a listener admits only
	// some groups (AllowGroups) and the caller's certificate names none,
	// a revocation list is not signed by a root CA of the mesh pool, or
	// the revocation list held names the peer.
	ErrNotAuthorized = base.ErrNotAuthorized
	// ErrNotRelay: a circuit asked a node that does not relay to relay.
	ErrNotRelay = errors.New("mesh: node does not relay")
	// ErrHopLimit: a circuit's path is longer than the hop limit.
	ErrHopLimit = base.ErrHopLimit
	// ErrLoop: a circuit's path visits a node twice.
	ErrLoop = base.ErrLoop
	// ErrLimit: a limit of Limits refused; the error is a *LimitError
	// that names it.
	ErrLimit = base.ErrLimit
	// ErrBadRecord: a routing record is malformed, expired or too far in
	// the future, or a revocation list is malformed.
	ErrBadRecord = base.ErrBadRecord
	// ErrStaleRecord: a routing record, or a revocation list, is not newer
	// than the one held (a replay, or a copy that arrived late).
	ErrStaleRecord = base.ErrStaleRecord
	// ErrCircuitLost: a resumable circuit (WithResume) broke and its far
	// host no longer has it (it restarted, or its resume window is over),
	// so it cannot be resumed: its streams fail with an error wrapping
	// this.
	ErrCircuitLost = errors.New("mesh: circuit lost: the far host no longer has it")
	// ErrProtocol: the peer broke the mesh protocol.
	ErrProtocol = base.ErrProtocol
	// ErrClosed: the node or listener is closed. It is net.ErrClosed too.
	ErrClosed = fmt.Errorf("mesh: closed: %w", net.ErrClosed)
)

// errTimeout is the error of a dial that ran out of time: as in package
// net, a net.Error whose Timeout is true, and errors.Is(err,
// os.ErrDeadlineExceeded) and errors.Is(err, context.DeadlineExceeded)
// hold for it.
var errTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "mesh: i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded || target == context.DeadlineExceeded
}

// LimitError reports which limit of Limits refused. errors.Is(err,
// ErrLimit) holds for it.
//
//	type LimitError struct {
//		Limit string // the Limits field, e.g. "MaxRelayedCircuits"
//		Max   int    // its value, when known (0 when a peer reported it)
//	}
//
// Its Error method says which limit refused, and its value when known; its
// Is method makes errors.Is(err, ErrLimit) true.
type LimitError = base.LimitError

// code is a refusal on the wire: in a link handshake's refusal, in the
// verdict on a stream and in the verdict on a circuit setup.
type code uint8

const (
	codeOK            code = 0x00 // accepted
	codeRefused       code = 0x01 // nothing listens on the port
	codeNoService     code = 0x02 // no such service (in that env), or not on that port
	codeNoRoute       code = 0x03 // the next hop of the path is not a live neighbour
	codeNotRelay      code = 0x04 // asked to relay, but does not
	codeHopLimit      code = 0x05 // the path is longer than the hop limit
	codeLoop          code = 0x06 // the path visits a node twice
	codeNotAuthorized code = 0x07 // certificate or signature check failed
	codeMeshMismatch  code = 0x08 // link handshake: other mesh name
	codeVersion       code = 0x09 // link handshake: other protocol version
	codeIDMismatch    code = 0x0a // an id does not match what was proved or expected
	codeProtocol      code = 0x0b // malformed message
	codeClosed        code = 0x0c // the node is closing
	codeNoCircuit     code = 0x0d // a circuit resume: no such circuit here (restarted, or its window is over)
	codeLimitBase     code = 0x40 // codeLimitBase+i: limit limitNames[i] refused

	codeFull code = 0xff // a listener's backlog is full (internal: never sent)
)

// resetRefused is where the mux error codes that refuse a connection or
// a circuit setup start: a node refuses by resetting the stream with
// resetRefused, plus the refusing node's index in the circuit's path
// times 256 (0 for a connection, or when not known), plus the refusal
// code ("ms", the index, the code).
const resetRefused mux.ErrorCode = 0x6d730000

// resetCode returns the reset code that refuses with v, by the node at
// index hop of a circuit's path (0: a connection, or not known).
func resetCode(v code, hop int) mux.ErrorCode {
	return resetRefused + mux.ErrorCode(hop&0xff)<<8 + mux.ErrorCode(v)
}

var codeErrs = map[code]error{
	codeRefused: ErrConnRefused, codeNoService: ErrNoService, codeNoRoute: ErrNoRoute,
	codeNotRelay: ErrNotRelay, codeHopLimit: ErrHopLimit, codeLoop: ErrLoop,
	codeNotAuthorized: ErrNotAuthorized, codeMeshMismatch: ErrMeshMismatch,
	codeVersion: ErrVersion, codeIDMismatch: ErrIDMismatch, codeProtocol: ErrProtocol,
	codeClosed: ErrClosed, codeNoCircuit: ErrCircuitLost,
}

// err returns the sentinel (or *LimitError) a code stands for.
func (c code) err() error {
	if e, ok := codeErrs[c]; ok {
		return e
	}
	if c >= codeLimitBase && int(c-codeLimitBase) < len(limitNames) {
		return &LimitError{Limit: limitNames[c-codeLimitBase]}
	}
	return fmt.Errorf("%w: unknown refusal code %#x", ErrProtocol, uint8(c))
}

// codeOf returns the wire code for err, the inverse of code.err; codeOK
// for nil.
func codeOf(err error) code {
	if err == nil {
		return codeOK
	}
	var le *LimitError
	if errors.As(err, &le) {
		for i, n := range limitNames {
			if n == le.Limit {
				return codeLimitBase + code(i)
			}
		}
	}
	for c, e := range codeErrs {
		if errors.Is(err, e) {
			return c
		}
	}
	return codeProtocol
}

// refusal is what a peer told us when it refused: the rule (a sentinel or
// *LimitError), who refused and why.
type refusal struct {
	op     string // what was refused: "link", "dial", "circuit"
	by     uint64 // the node that refused; 0 if unknown
	err    error
	reason string
	cause  error // the reset that carried it, if any
	// proved: the refusing node said so inside end-to-end TLS, so no
	// relay can have forged it.
	proved bool
	hop    int // of a circuit setup refused by a reset: the refusing node's index in the path, 0 if not known
}

func (e *refusal) Error() string {
	s := "mesh: " + e.op + " refused"
	if e.by != 0 {
		s += " by " + FormatID(e.by)
	}
	msg := e.err.Error()
	if len(msg) > 6 && msg[:6] == "mesh: " {
		msg = msg[6:]
	}
	s += ": " + msg
	switch {
	case e.reason == "":
	case e.reason[0] == '(':
		s += " " + e.reason // a limit's value at the node that refused
	default:
		s += ": " + e.reason
	}
	return s
}

// Unwrap returns the rule, and the stream reset that carried the refusal
// if there was one (so errors.Is(err, mux.ErrStreamReset) holds then).
func (e *refusal) Unwrap() []error {
	if e.cause != nil {
		return []error{e.err, e.cause}
	}
	return []error{e.err}
}
