package harness

import (
	"sync/atomic"
	"unsafe"
)

func unsafePointer(p *atomic.Uint64) unsafe.Pointer { return unsafe.Pointer(p) }
