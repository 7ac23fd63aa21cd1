package mux

import "github.com/plexusnet/plexus/internal/bufpool"

// Received payloads are read into buffers of internal/bufpool and go back
// to it once Read or RecvInto has copied them out, or a message assembled
// from several frames has, so that a bulk transfer, or a stream of small
// messages read with Read or RecvInto, allocates nothing in the steady
// state. Recv hands a message that arrived in one frame to its caller: a
// large one as it is (it never goes back to the pool), a small one (under
// poolMin bytes) as an exact copy, so that what the caller keeps is no
// larger than the message.
const poolMin = 8 << 10

// getPayload returns a buffer of length n (n > 0) and whether it belongs
// to the pool.
func getPayload(n int) ([]byte, bool) { return bufpool.Get(n), n <= bufpool.Max }

// putPayload returns a buffer that getPayload took from the pool. The
// caller must not use b, or any slice of it, afterwards.
func putPayload(b []byte) { bufpool.Put(b) }
