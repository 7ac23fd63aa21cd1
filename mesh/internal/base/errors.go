package base

import (
	"errors"
	"fmt"
)

// The errors that mesh's internal packages return; package mesh exports
// them under the same names, and documents what each one means.
var (
	ErrBadAddress    = errors.New("mesh: bad address")
	ErrVersion       = errors.New("mesh: protocol version mismatch")
	ErrIDMismatch    = errors.New("mesh: node id mismatch")
	ErrNotAuthorized = errors.New("mesh: not authorized")
	ErrHopLimit      = errors.New("mesh: hop limit exceeded")
	ErrLoop          = errors.New("mesh: routing loop in circuit path")
	ErrLimit         = errors.New("mesh: limit reached")
	ErrBadRecord     = errors.New("mesh: bad record")
	ErrStaleRecord   = errors.New("mesh: stale record")
	ErrProtocol      = errors.New("mesh: protocol error")
)

// LimitError reports which limit of Limits refused. errors.Is(err,
// ErrLimit) holds for it.
type LimitError struct {
	Limit string // the Limits field, e.g. "MaxRelayedCircuits"
	Max   int    // its value, when known (0 when a peer reported it)
}

// Error says which limit refused, and its value when known.
func (e *LimitError) Error() string {
	if e.Max > 0 {
		return fmt.Sprintf("mesh: limit reached: %s (%d)", e.Limit, e.Max)
	}
	return "mesh: limit reached: " + e.Limit
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// RevokedError refuses a node that the revocation list held names; it is
// ErrNotAuthorized.
type RevokedError struct{ ID uint64 }

func (e *RevokedError) Error() string {
	return "mesh: not authorized: node " + FormatID(e.ID) + " is revoked (revocation list)"
}

// Is makes errors.Is(err, ErrNotAuthorized) true.
func (e *RevokedError) Is(target error) bool { return target == ErrNotAuthorized }

// ErrChainCaps is the refusal of a certificate chain over the caps.
var ErrChainCaps = fmt.Errorf("%w: the certificate chain is over the caps (at most %d certificates, %d bytes)", ErrNotAuthorized, MaxChainCerts, MaxChainBytes)
