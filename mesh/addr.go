package mesh

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/plexusnet/plexus/mesh/internal/base"
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
func FormatID(id uint64) string { return base.FormatID(id) }

// ParseID parses a node id written as exactly 16 hex digits (either case).
func ParseID(s string) (uint64, error) {
	if !base.IsID(s) {
		return 0, fmt.Errorf("%w: node id %q is not 16 hex digits", ErrBadAddress, s)
	}
	id, err := strconv.ParseUint(s, 16, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%w: node id %q is not a valid id", ErrBadAddress, s)
	}
	return id, nil
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
	case base.IsID(host):
		id, err := ParseID(host)
		if err != nil {
			return t, err
		}
		if !t.hasPort {
			return t, fmt.Errorf("%w: %q names a host but no port", ErrBadAddress, address)
		}
		t.host = id
	default:
		if err := base.CheckName("service", host); err != nil {
			return t, err
		}
		t.name = host
	}
	return t, nil
}
