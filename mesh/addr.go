package mesh

import (
	"fmt"
	"strconv"
	"strings"
)

// Addr is the address of one end of a mesh connection: a virtual host (a
// node id) and a virtual port. It is a net.Addr.
type Addr struct {
	Host uint64 // the node id
	Port uint32 // the virtual port; 0 for the caller's end of a connection
}

// Network returns "mesh".
func (a Addr) Network() string { return "mesh" }

// String returns "<16 hex digits>:<port>".
func (a Addr) String() string { return FormatID(a.Host) + ":" + strconv.FormatUint(uint64(a.Port), 10) }

// FormatID returns a node id as 16 lower-case hex digits, the form used in
// addresses, logs and URLs.
func FormatID(id uint64) string { return fmt.Sprintf("%016x", id) }

// ParseID parses a node id written as exactly 16 hex digits (either case).
func ParseID(s string) (uint64, error) {
	if !isID(s) {
		return 0, fmt.Errorf("%w: node id %q is not 16 hex digits", ErrBadAddress, s)
	}
	id, err := strconv.ParseUint(s, 16, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%w: node id %q is not a valid id", ErrBadAddress, s)
	}
	return id, nil
}

// isID reports whether s has the shape of a node id: 16 hex digits.
func isID(s string) bool {
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

// maxNameLen bounds service and env names, on the wire and in the API.
const maxNameLen = 64

// checkName reports whether s may be a service name: 1 to 64 letters,
// digits, '-', '_' or '.', not starting with '.', and not shaped like a
// node id (16 hex digits), which would make addresses ambiguous.
func checkName(kind, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s name", ErrBadAddress, kind)
	}
	if err := checkChars(kind, s); err != nil {
		return err
	}
	if isID(s) {
		return fmt.Errorf("%w: %s name %q looks like a node id (16 hex digits)", ErrBadAddress, kind, s)
	}
	return nil
}

// checkEnv reports whether s may be an env name; "" is the default env.
func checkEnv(s string) error {
	if s == "" {
		return nil
	}
	return checkChars("env", s)
}

func checkChars(kind, s string) error {
	if len(s) > maxNameLen {
		return fmt.Errorf("%w: %s name %q is longer than %d bytes", ErrBadAddress, kind, s, maxNameLen)
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

// target is a parsed dial or listen address.
type target struct {
	host    uint64 // 0: this node (a port) or any instance (a service)
	name    string // service name; "" for host:port
	port    uint32
	hasPort bool
}

func (t target) String() string {
	h := t.name
	if h == "" && t.host != 0 {
		h = FormatID(t.host)
	}
	if t.hasPort {
		return h + ":" + strconv.FormatUint(uint64(t.port), 10)
	}
	return h
}

// parseTarget parses "<16 hex>:<port>", ":<port>", "<service>" or
// "<service>:<port>".
func parseTarget(network, address string) (target, error) {
	if network != "" && network != "mesh" {
		return target{}, fmt.Errorf("%w: network %q (want \"\" or \"mesh\")", ErrBadAddress, network)
	}
	var t target
	host := address
	if i := strings.LastIndexByte(address, ':'); i >= 0 {
		host = address[:i]
		p, err := strconv.ParseUint(address[i+1:], 10, 32)
		if err != nil {
			return t, fmt.Errorf("%w: port in %q is not a number from 0 to %d", ErrBadAddress, address, uint32(1<<32-1))
		}
		t.port, t.hasPort = uint32(p), true
	}
	switch {
	case host == "":
		if !t.hasPort {
			return t, fmt.Errorf("%w: empty address", ErrBadAddress)
		}
	case isID(host):
		id, err := ParseID(host)
		if err != nil {
			return t, err
		}
		if !t.hasPort {
			return t, fmt.Errorf("%w: %q names a host but no port", ErrBadAddress, address)
		}
		t.host = id
	default:
		if err := checkName("service", host); err != nil {
			return t, err
		}
		t.name = host
	}
	return t, nil
}
