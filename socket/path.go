package socket

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// Path is a route through pipes: a list of 32-bit pipe ids, nearest hop
// first. A received message's Source path starts with the id of the pipe
// it arrived on, followed by the path the sender gave it; SendTo pops the
// first id to choose the pipe and sends the rest along.
//
// On the SP protocols (req/rep, surveyor/respondent) a path is NNG's
// backtrace: its words travel big-endian, pipe ids have the high bit clear,
// and the last word, the request id, has it set.
type Path []uint32

// EndOfPath is the bit that marks the last word of an SP backtrace (the
// request or survey id). Pipe ids never have it.
const EndOfPath = 0x80000000

// Clone returns a copy of p that shares no memory with it.
func (p Path) Clone() Path {
	if p == nil {
		return nil
	}
	return append(Path(make([]uint32, 0, len(p))), p...)
}

// Pop splits off the first hop. ok is false for an empty path.
func (p Path) Pop() (id uint32, rest Path, ok bool) {
	if len(p) == 0 {
		return 0, nil, false
	}
	return p[0], p[1:], true
}

// String formats p as hex words joined by '.', e.g. "0000002a.80000001".
func (p Path) String() string {
	var b strings.Builder
	for i, w := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		s := strconv.FormatUint(uint64(w), 16)
		b.WriteString(strings.Repeat("0", 8-len(s)))
		b.WriteString(s)
	}
	return b.String()
}

// appendWords appends p as big-endian 32-bit words.
func appendWords(b []byte, p Path) []byte {
	for _, w := range p {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	return b
}

// wordsPath appends the big-endian 32-bit words of b to dst and returns
// it; a trailing part shorter than a word is ignored.
func wordsPath(dst Path, b []byte) Path {
	for i := 0; i+4 <= len(b); i += 4 {
		dst = append(dst, binary.BigEndian.Uint32(b[i:]))
	}
	return dst
}
