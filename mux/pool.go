package mux

import (
	"math/bits"
	"sync"
)

// Received payloads of poolMin bytes or more are read into pooled buffers,
// in power-of-two size classes, and go back to the pool once Read has
// copied them out, or a message assembled from several frames has, so a
// bulk transfer allocates almost nothing. Smaller payloads get buffers of
// their own. A message that arrived in one frame is handed to the caller
// of Recv as it is, pooled or not, and never goes back to the pool.
const (
	poolMinShift = 13 // 8 KiB
	poolMin      = 1 << poolMinShift
	poolClasses  = 24 - poolMinShift + 1 // up to 16 MiB, the largest frame
)

var payloadPools [poolClasses]sync.Pool

func poolClass(n int) int { return bits.Len(uint(n-1)) - poolMinShift }

// getPayload returns a buffer of length n and whether it came from the pool.
func getPayload(n int) ([]byte, bool) {
	if n < poolMin {
		return make([]byte, n), false
	}
	c := poolClass(n)
	if p, _ := payloadPools[c].Get().(*[]byte); p != nil {
		return (*p)[:n], true
	}
	return make([]byte, n, 1<<(c+poolMinShift)), true
}

// putPayload returns a buffer that getPayload took from the pool.
func putPayload(b []byte) {
	c := poolClass(cap(b))
	if c < 0 || c >= poolClasses || cap(b) != 1<<(c+poolMinShift) {
		return
	}
	b = b[:cap(b)]
	payloadPools[c].Put(&b)
}
