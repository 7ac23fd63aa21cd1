// Package reqid hands out the ids that the asking sides of the SP
// protocols (req0 and surveyor0) put at the end of a backtrace: 32-bit,
// with the high bit set (socket.EndOfPath), counting up from a random
// start, and never one still in use.
package reqid

import (
	"crypto/rand"
	"encoding/binary"

	"github.com/plexusnet/plexus/socket"
)

// Random returns a random starting point for Next.
func Random() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// Next advances *last and returns the first id after it, with the high
// bit set, that busy does not hold.
func Next[V any](last *uint32, busy map[uint32]V) uint32 {
	for {
		*last++
		id := *last | socket.EndOfPath
		if _, ok := busy[id]; !ok {
			return id
		}
	}
}
