// Package bufpool recycles byte buffers in power-of-two size classes, from
// 16 bytes to 16 MiB, for the receive paths of mux and socket: a buffer a
// message was received in goes back once its content has been copied out
// (Read, RecvInto), so that a steady stream of messages allocates nothing.
//
// The pools hold a buffer's first byte as a *byte, which an interface
// holds without an allocation; the class gives the length back.
package bufpool

import (
	"math/bits"
	"sync"
	"unsafe"
)

const (
	minShift = 4  // 16 B, the smallest class
	maxShift = 24 // 16 MiB, the largest
	classes  = maxShift - minShift + 1
)

// Max is the largest buffer Get pools; a larger one is allocated and Put drops it.
const Max = 1 << maxShift

var pools [classes]sync.Pool

// class returns the class of a buffer of n bytes (0 < n <= Max).
func class(n int) int { return max(bits.Len(uint(n-1)), minShift) - minShift }

// Get returns a buffer of length n, with a capacity of n rounded up to a
// power of two (at least 16); of more than Max bytes, exactly n.
func Get(n int) []byte {
	if n <= 0 {
		return nil
	}
	if n > Max {
		return make([]byte, n)
	}
	c := class(n)
	size := 1 << (c + minShift)
	if p, _ := pools[c].Get().(*byte); p != nil {
		return unsafe.Slice(p, size)[:n]
	}
	return make([]byte, n, size)
}

// Put gives b, a buffer from Get, back for reuse. The caller must not use b,
// or any slice of it, afterwards. A buffer whose capacity is not a class's
// is dropped.
func Put(b []byte) {
	n := cap(b)
	if n == 0 || n > Max {
		return
	}
	c := class(n)
	if n != 1<<(c+minShift) {
		return
	}
	pools[c].Put(unsafe.SliceData(b[:n]))
}
