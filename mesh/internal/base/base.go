// Package base holds what package mesh and its internal packages share:
// node ids and names (FormatID, CheckName, CheckEnv), the errors they
// return, the caps on a certificate chain, and a decoder of big-endian
// fields. Package mesh re-exports the errors (its ErrBadRecord is
// ErrBadRecord here, its LimitError an alias of LimitError), and documents
// what each one means. It imports only pure parts of the standard library,
// so that linkstate and wire, which import it, stay pure too.
package base

import "fmt"

// FormatID returns a node id as 16 lower-case hex digits, the form used in
// addresses, logs and URLs.
func FormatID(id uint64) string { return fmt.Sprintf("%016x", id) }

// IsID reports whether s has the shape of a node id: 16 hex digits.
func IsID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// MaxNameLen bounds service and env names, on the wire and in the API.
const MaxNameLen = 64

// CheckName reports whether s may be a service name: 1 to 64 letters,
// digits, '-', '_' or '.', not starting with '.', and not shaped like a
// node id (16 hex digits), which would make addresses ambiguous. kind
// names what s is in the error ("service", "group").
func CheckName(kind, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s name", ErrBadAddress, kind)
	}
	if err := checkChars(kind, s); err != nil {
		return err
	}
	if IsID(s) {
		return fmt.Errorf("%w: %s name %q looks like a node id (16 hex digits)", ErrBadAddress, kind, s)
	}
	return nil
}

// MaxNodeNameLen bounds a node name (see CheckNodeName).
const MaxNodeNameLen = 63

// CheckNodeName reports whether s may be a node's name: 1 to 63 of
// a-z, 0-9, '-' and '.', starting with a letter or a digit, and not
// shaped like a node id (16 hex digits), so that a name never reads as an
// id.
func CheckNodeName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty node name", ErrBadAddress)
	case len(s) > MaxNodeNameLen:
		return fmt.Errorf("%w: node name %q is longer than %d bytes", ErrBadAddress, s, MaxNodeNameLen)
	case s[0] == '-' || s[0] == '.':
		return fmt.Errorf("%w: node name %q starts with %q", ErrBadAddress, s, s[0])
	case IsID(s):
		return fmt.Errorf("%w: node name %q looks like a node id (16 hex digits)", ErrBadAddress, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%w: node name %q has the character %q (allowed: a-z, 0-9, '-', '.')", ErrBadAddress, s, c)
		}
	}
	return nil
}

// CheckEnv reports whether s may be an env name; "" is the default env.
func CheckEnv(s string) error {
	if s == "" {
		return nil
	}
	return checkChars("env", s)
}

func checkChars(kind, s string) error {
	if len(s) > MaxNameLen {
		return fmt.Errorf("%w: %s name %q is longer than %d bytes", ErrBadAddress, kind, s, MaxNameLen)
	}
	if s[0] == '.' {
		return fmt.Errorf("%w: %s name %q starts with '.'", ErrBadAddress, kind, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: %s name %q has the character %q (allowed: letters, digits, '-', '_', '.')", ErrBadAddress, kind, s, c)
		}
	}
	return nil
}

// Caps on a certificate chain that a peer presents, on a link, in a
// circuit's end-to-end TLS or in a record: checked before any signature,
// so that the CPU a chain costs is bounded whatever a peer sends (x509
// would otherwise try every certificate named like the mesh CA as a
// parent, up to 100 signature checks of the peer's choosing).
const (
	MaxChainCerts = 3       // the leaf and at most 2 intermediates
	MaxChainBytes = 8 << 10 // DER bytes of the whole chain
)

// Caps on the addresses a node advertises in its record, where it accepts
// links (see CheckAdvertise).
const (
	MaxAdvertise    = 4  // addresses in one record
	MaxAdvertiseLen = 64 // bytes of one address
)

// CheckAdvertise reports whether s may be an address a node advertises:
// HOST:PORT of at most MaxAdvertiseLen bytes, where HOST is a DNS name or
// an IPv4 address (letters, digits, '-' and '.', not starting with '-' or
// '.') or an IPv6 address in brackets (hex digits, ':' and '.', with a
// ':'), and PORT a decimal port from 1 to 65535 without leading zeros.
// It checks the shape only: a dial resolves and parses the host.
func CheckAdvertise(s string) error {
	if s == "" || len(s) > MaxAdvertiseLen {
		return fmt.Errorf("%w: advertised address %q: want HOST:PORT of 1 to %d bytes", ErrBadAddress, s, MaxAdvertiseLen)
	}
	i := len(s) - 1
	for i >= 0 && s[i] != ':' {
		i--
	}
	if i <= 0 {
		return fmt.Errorf("%w: advertised address %q: want HOST:PORT", ErrBadAddress, s)
	}
	host, port := s[:i], s[i+1:]
	p := 0
	for j := 0; j < len(port) && p <= 65535; j++ {
		if port[j] < '0' || port[j] > '9' {
			p = -1
			break
		}
		p = 10*p + int(port[j]-'0')
	}
	if port == "" || port[0] == '0' || p < 1 || p > 65535 {
		return fmt.Errorf("%w: advertised address %q: port %q is not a decimal from 1 to 65535", ErrBadAddress, s, port)
	}
	if host[0] == '[' {
		colon := false
		ok := len(host) >= 4 && host[len(host)-1] == ']'
		for j := 1; ok && j < len(host)-1; j++ {
			c := host[j]
			colon = colon || c == ':'
			ok = isHex(c) || c == ':' || c == '.'
		}
		if !ok || !colon {
			return fmt.Errorf("%w: advertised address %q: %q is not an IPv6 address in brackets", ErrBadAddress, s, host)
		}
		return nil
	}
	if host[0] == '-' || host[0] == '.' {
		return fmt.Errorf("%w: advertised address %q: host %q starts with %q", ErrBadAddress, s, host, host[0])
	}
	for j := 0; j < len(host); j++ {
		if c := host[j]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%w: advertised address %q: host %q has the character %q", ErrBadAddress, s, host, c)
		}
	}
	return nil
}
