package wire

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// Every stream a node opens on a link's session, or on a circuit's inner
// session, starts with a header whose first byte is its kind. The source of
// a stream is implied by the session: the link's peer, or the circuit's far
// host.
const (
	KindConn      uint8 = 0x01 // a connection to a port or a service; the receiver answers
	KindCircuit   uint8 = 0x02 // a circuit setup (link sessions only)
	KindConnEarly uint8 = 0x03 // a connection whose dialer does not wait: only a refusal is answered
	KindDialBack  uint8 = 0x04 // a request to dial a direct link back (circuits' inner sessions only)
)

// DialBackLen is the length of a dial-back request: kind (1), then 6
// bytes that must be zero. It carries no address: the far end of the
// circuit it travels on dials the addresses that the requester's own
// record advertises. The receiver answers nothing and closes the stream.
const DialBackLen = minHeader

// AppendDialBack encodes a dial-back request.
func AppendDialBack(b []byte) []byte {
	return append(b, KindDialBack, 0, 0, 0, 0, 0, 0)
}

// ConnHeader opens a connection: port (4), env length (1), env, name
// length (1), name. Of kind KindConn, the receiver answers one byte,
// code ok (0), and the stream then carries the connection's bytes; of kind
// KindConnEarly, it answers nothing, and the connection's bytes may follow
// the header at once. A refusal, of either kind, is a reset of the stream
// whose code carries the refusal code (see mesh's refuseConn).
type ConnHeader struct {
	Port uint32 // the virtual port; with a name, the port the service must be on (0: any)
	Env  string
	Name string // the service name; "" to reach a port
}

// AppendConnHeader encodes h, a header of kind KindConn or KindConnEarly.
func AppendConnHeader(b []byte, kind uint8, h ConnHeader) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, h.Port)
	b = append(b, uint8(len(h.Env)))
	b = append(b, h.Env...)
	b = append(b, uint8(len(h.Name)))
	return append(b, h.Name...)
}

// SetupHeader opens a circuit: hop (1), path length n (1), path (n node
// ids of 8 bytes). path[0] is the source, path[n-1] the destination, and
// hop the index in path of the node that receives this setup. Each relay
// checks the setup, forwards it to path[hop+1] with hop+1, and splices the
// two streams. The destination answers two bytes, a code and the index of
// the node that answered (a relay that refuses answers itself), and the
// stream then carries the circuit's inner session.
type SetupHeader struct {
	Hop  int
	Path []uint64
}

// AppendSetupHeader encodes h.
func AppendSetupHeader(b []byte, h SetupHeader) []byte {
	b = append(b, KindCircuit, uint8(h.Hop), uint8(len(h.Path)))
	for _, id := range h.Path {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	return b
}

// Header is a decoded stream header: Conn (of either kind) or Setup.
type Header struct {
	Kind  uint8
	Conn  ConnHeader
	Setup SetupHeader
}

// HeaderBuf is the scratch space ReadHeader reads a header into: one per
// reader of headers, so that a header costs no allocation of its own.
type HeaderBuf [2*base.MaxNameLen + 2]byte

// ReadHeader reads one stream header from r, reading exactly its bytes
// (what follows belongs to the stream), in as few reads as it can: every
// header has at least minHeader bytes. maxPath bounds a setup's path
// length before anything is allocated for it; the rules about the path
// (hop limit, loops, who is where) are checked by CheckSetup. buf is
// scratch space, which the header does not keep (nil: one is allocated).
func ReadHeader(r io.Reader, maxPath int, buf *HeaderBuf) (Header, error) {
	var h Header
	if buf == nil {
		buf = new(HeaderBuf)
	}
	b := buf[:]
	if _, err := io.ReadFull(r, b[:minHeader]); err != nil {
		return h, err // io.EOF: a stream with no header at all
	}
	h.Kind = b[0]
	switch h.Kind {
	case KindConn, KindConnEarly:
		// kind (1), port (4), env length (1), then the env's first byte or,
		// with no env, the name's length.
		h.Conn.Port = binary.BigEndian.Uint32(b[1:5])
		envLen, nameLen := int(b[5]), int(b[6])
		if envLen > base.MaxNameLen {
			return h, fmt.Errorf("%w: stream header: name of %d bytes (at most %d)", base.ErrProtocol, envLen, base.MaxNameLen)
		}
		if envLen > 0 { // the rest of the env, and the name's length
			if _, err := io.ReadFull(r, b[7:7+envLen]); err != nil {
				return h, noEOF(err)
			}
			h.Conn.Env = string(b[6 : 6+envLen])
			nameLen = int(b[6+envLen])
		}
		name, err := readName(r, nameLen, b)
		if err != nil {
			return h, err
		}
		h.Conn.Name = name
		if err := base.CheckEnv(h.Conn.Env); err != nil {
			return h, fmt.Errorf("%w: stream header: %v", base.ErrProtocol, err)
		}
		if name != "" {
			if err := base.CheckName("service", name); err != nil {
				return h, fmt.Errorf("%w: stream header: %v", base.ErrProtocol, err)
			}
		}
	case KindCircuit:
		// kind (1), hop (1), n (1), then the first 4 bytes of the path.
		n := int(b[2])
		h.Setup.Hop = int(b[1])
		if n < 2 {
			return h, fmt.Errorf("%w: circuit setup: path of %d nodes", base.ErrProtocol, n)
		}
		if n > maxPath {
			return h, fmt.Errorf("%w: circuit setup: path of %d nodes (at most %d hops)", base.ErrHopLimit, n, maxPath-1)
		}
		p := make([]byte, 8*n)
		copy(p, b[3:minHeader])
		if _, err := io.ReadFull(r, p[minHeader-3:]); err != nil {
			return h, noEOF(err)
		}
		h.Setup.Path = make([]uint64, n)
		for i := range h.Setup.Path {
			h.Setup.Path[i] = binary.BigEndian.Uint64(p[8*i:])
		}
	case KindDialBack:
		for _, x := range b[1:minHeader] {
			if x != 0 {
				return h, fmt.Errorf("%w: dial-back request: reserved bytes are not zero", base.ErrProtocol)
			}
		}
	default:
		return h, fmt.Errorf("%w: unknown stream kind %#x", base.ErrProtocol, h.Kind)
	}
	return h, nil
}

// ConnHeaderLen returns the length of the connection header (of either
// kind) at the start of b, and whether b holds all of it (ok false: b
// holds less, or does not start with a connection header). It checks
// nothing else: ReadHeader does.
func ConnHeaderLen(b []byte) (n int, ok bool) {
	if len(b) < minHeader || !IsConn(b[0]) {
		return 0, false
	}
	nameAt := 6 + int(b[5]) // where the name's length is
	if len(b) <= nameAt {
		return 0, false
	}
	n = nameAt + 1 + int(b[nameAt])
	return n, len(b) >= n
}

// minHeader is the size of the shortest stream header: a connection header
// with no env and no name (a setup has at least 19 bytes).
const minHeader = 7

// IsConn reports whether a stream of kind carries a connection.
func IsConn(kind uint8) bool { return kind == KindConn || kind == KindConnEarly }

// readName reads a name of n bytes (at most base.MaxNameLen) using buf.
func readName(r io.Reader, n int, buf []byte) (string, error) {
	if n > base.MaxNameLen {
		return "", fmt.Errorf("%w: stream header: name of %d bytes (at most %d)", base.ErrProtocol, n, base.MaxNameLen)
	}
	if n == 0 {
		return "", nil
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return "", noEOF(err)
	}
	return string(buf[:n]), nil
}

// CheckSetup applies the path rules to a setup received by node self from
// its neighbour prev: self is the hop'th node, prev the one before it, the
// path has no zero id and no repeated id, and at most maxHops hops.
func CheckSetup(s SetupHeader, self, prev uint64, maxHops int) error {
	n := len(s.Path)
	switch {
	case n-1 > maxHops:
		return fmt.Errorf("%w: path of %d hops (at most %d)", base.ErrHopLimit, n-1, maxHops)
	case s.Hop < 1 || s.Hop >= n:
		return fmt.Errorf("%w: circuit setup: hop %d of a path of %d nodes", base.ErrProtocol, s.Hop, n)
	case s.Path[s.Hop] != self:
		return fmt.Errorf("%w: circuit setup: hop %d is %s, not this node", base.ErrIDMismatch, s.Hop, base.FormatID(s.Path[s.Hop]))
	case s.Path[s.Hop-1] != prev:
		return fmt.Errorf("%w: circuit setup: hop %d is %s, but the setup came from %s", base.ErrIDMismatch, s.Hop-1, base.FormatID(s.Path[s.Hop-1]), base.FormatID(prev))
	}
	seen := make(map[uint64]struct{}, n)
	for _, id := range s.Path {
		if id == 0 {
			return fmt.Errorf("%w: circuit setup: node id 0 in the path", base.ErrProtocol)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: %s appears twice", base.ErrLoop, base.FormatID(id))
		}
		seen[id] = struct{}{}
	}
	return nil
}

// FormatPath returns a path as ids joined by " > ".
func FormatPath(p []uint64) string {
	s := ""
	for i, id := range p {
		if i > 0 {
			s += " > "
		}
		s += base.FormatID(id)
	}
	return s
}
