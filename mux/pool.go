package mux

import "github.com/plexusnet/plexus/internal/bufpool"

// Received payloads of poolMin bytes or more are read into buffers of
// internal/bufpool, and so are smaller ones on a stream read with Read or
// RecvInto (Stream.recycle), but for those of up to slabMaxPayload bytes,
// which are cut from slabs (slab.go); they go back to the pool once Read or RecvInto
// has copied them out, or a message assembled from several frames has, so
// that a bulk transfer, or a stream of small messages read with Read or
// RecvInto, allocates nothing in the steady state. A small payload on a
// stream read only with Recv gets a buffer of its own, exactly its size,
// which Recv hands over as it is, as before there was a pool. Recv hands a
// large message that arrived in one frame to its caller as it is (it never
// goes back to the pool), and a small pooled or slab one as an exact copy.
const poolMin = 8 << 10

// getPayload returns a buffer of length n (n > 0) and whether it belongs
// to the pool.
func getPayload(n int, recycle bool) ([]byte, bool) {
	if n < poolMin && !recycle {
		return make([]byte, n), false
	}
	return bufpool.Get(n), n <= bufpool.Max
}

// putPayload returns a buffer that getPayload took from the pool. The
// caller must not use b, or any slice of it, afterwards.
func putPayload(b []byte) { bufpool.Put(b) }
