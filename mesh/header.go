package mesh

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Every stream a node opens on a link's session, or on a circuit's inner
// session, starts with a header whose first byte is its kind. The source of
// a stream is implied by the session: the link's peer, or the circuit's far
// host.
const (
	kindConn      uint8 = 0x01 // a connection to a port or a service; the receiver answers
	kindCircuit   uint8 = 0x02 // a circuit setup (link sessions only)
	kindConnEarly uint8 = 0x03 // a connection whose dialer does not wait: only a refusal is answered
)

// connHeader opens a connection: port (4), env length (1), env, name
// length (1), name. Of kind kindConn, the receiver answers one byte,
// codeOK, and the stream then carries the connection's bytes; of kind
// kindConnEarly, it answers nothing, and the connection's bytes may follow
// the header at once. A refusal, of either kind, is a reset of the stream
// whose code carries the refusal code (see refuseConn).
type connHeader struct {
	port uint32 // the virtual port; with a name, the port the service must be on (0: any)
	env  string
	name string // the service name; "" to reach a port
}

func appendConnHeader(b []byte, kind uint8, h connHeader) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, h.port)
	b = append(b, uint8(len(h.env)))
	b = append(b, h.env...)
	b = append(b, uint8(len(h.name)))
	return append(b, h.name...)
}

// setupHeader opens a circuit: hop (1), path length n (1), path (n node
// ids of 8 bytes). path[0] is the source, path[n-1] the destination, and
// hop the index in path of the node that receives this setup. Each relay
// checks the setup, forwards it to path[hop+1] with hop+1, and splices the
// two streams. The destination answers two bytes, a code and the index of
// the node that answered (a relay that refuses answers itself), and the
// stream then carries the circuit's inner session.
type setupHeader struct {
	hop  int
	path []uint64
}

func appendSetupHeader(b []byte, h setupHeader) []byte {
	b = append(b, kindCircuit, uint8(h.hop), uint8(len(h.path)))
	for _, id := range h.path {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	return b
}

// header is a decoded stream header: conn (of either kind) or setup.
type header struct {
	kind  uint8
	conn  connHeader
	setup setupHeader
}

// readHeader reads one stream header from r, reading exactly its bytes
// (what follows belongs to the stream), in as few reads as it can: every
// header has at least minHeader bytes. maxPath bounds a setup's path
// length before anything is allocated for it; the rules about the path
// (hop limit, loops, who is where) are checked by checkSetup.
func readHeader(r io.Reader, maxPath int) (header, error) {
	var h header
	var b [2*maxNameLen + 2]byte
	if _, err := io.ReadFull(r, b[:minHeader]); err != nil {
		return h, err // io.EOF: a stream with no header at all
	}
	h.kind = b[0]
	switch h.kind {
	case kindConn, kindConnEarly:
		// kind (1), port (4), env length (1), then the env's first byte or,
		// with no env, the name's length.
		h.conn.port = binary.BigEndian.Uint32(b[1:5])
		envLen, nameLen := int(b[5]), int(b[6])
		if envLen > maxNameLen {
			return h, fmt.Errorf("%w: stream header: name of %d bytes (at most %d)", ErrProtocol, envLen, maxNameLen)
		}
		if envLen > 0 { // the rest of the env, and the name's length
			if _, err := io.ReadFull(r, b[7:7+envLen]); err != nil {
				return h, noEOF(err)
			}
			h.conn.env = string(b[6 : 6+envLen])
			nameLen = int(b[6+envLen])
		}
		name, err := readName(r, nameLen, b[:])
		if err != nil {
			return h, err
		}
		h.conn.name = name
		if err := checkEnv(h.conn.env); err != nil {
			return h, fmt.Errorf("%w: stream header: %v", ErrProtocol, err)
		}
		if name != "" {
			if err := checkName("service", name); err != nil {
				return h, fmt.Errorf("%w: stream header: %v", ErrProtocol, err)
			}
		}
	case kindCircuit:
		// kind (1), hop (1), n (1), then the first 4 bytes of the path.
		n := int(b[2])
		h.setup.hop = int(b[1])
		if n < 2 {
			return h, fmt.Errorf("%w: circuit setup: path of %d nodes", ErrProtocol, n)
		}
		if n > maxPath {
			return h, fmt.Errorf("%w: circuit setup: path of %d nodes (at most %d hops)", ErrHopLimit, n, maxPath-1)
		}
		p := make([]byte, 8*n)
		copy(p, b[3:minHeader])
		if _, err := io.ReadFull(r, p[minHeader-3:]); err != nil {
			return h, noEOF(err)
		}
		h.setup.path = make([]uint64, n)
		for i := range h.setup.path {
			h.setup.path[i] = binary.BigEndian.Uint64(p[8*i:])
		}
	default:
		return h, fmt.Errorf("%w: unknown stream kind %#x", ErrProtocol, h.kind)
	}
	return h, nil
}

// minHeader is the size of the shortest stream header: a connection header
// with no env and no name (a setup has at least 19 bytes).
const minHeader = 7

// isConn reports whether a stream of kind carries a connection.
func isConn(kind uint8) bool { return kind == kindConn || kind == kindConnEarly }

// readName reads a name of n bytes (at most maxNameLen) using buf.
func readName(r io.Reader, n int, buf []byte) (string, error) {
	if n > maxNameLen {
		return "", fmt.Errorf("%w: stream header: name of %d bytes (at most %d)", ErrProtocol, n, maxNameLen)
	}
	if n == 0 {
		return "", nil
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return "", noEOF(err)
	}
	return string(buf[:n]), nil
}

// checkSetup applies the path rules to a setup received by node self from
// its neighbour prev: self is the hop'th node, prev the one before it, the
// path has no zero id and no repeated id, and at most maxHops hops.
func checkSetup(s setupHeader, self, prev uint64, maxHops int) error {
	n := len(s.path)
	switch {
	case n-1 > maxHops:
		return fmt.Errorf("%w: path of %d hops (at most %d)", ErrHopLimit, n-1, maxHops)
	case s.hop < 1 || s.hop >= n:
		return fmt.Errorf("%w: circuit setup: hop %d of a path of %d nodes", ErrProtocol, s.hop, n)
	case s.path[s.hop] != self:
		return fmt.Errorf("%w: circuit setup: hop %d is %s, not this node", ErrIDMismatch, s.hop, FormatID(s.path[s.hop]))
	case s.path[s.hop-1] != prev:
		return fmt.Errorf("%w: circuit setup: hop %d is %s, but the setup came from %s", ErrIDMismatch, s.hop-1, FormatID(s.path[s.hop-1]), FormatID(prev))
	}
	seen := make(map[uint64]struct{}, n)
	for _, id := range s.path {
		if id == 0 {
			return fmt.Errorf("%w: circuit setup: node id 0 in the path", ErrProtocol)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: %s appears twice", ErrLoop, FormatID(id))
		}
		seen[id] = struct{}{}
	}
	return nil
}

// formatPath returns a path as ids joined by " > ".
func formatPath(p []uint64) string {
	s := ""
	for i, id := range p {
		if i > 0 {
			s += " > "
		}
		s += FormatID(id)
	}
	return s
}
