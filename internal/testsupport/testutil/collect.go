package testutil

import (
	"runtime"
	"testing"
	"time"
)

// LiveTimersOnOneP runs the rest of the test on one P with n live timers
// armed for hours, so that the timers the test stops stay below a quarter
// of that P's timer heap and the runtime keeps them there, callbacks and
// all, until their original time (see internal/timerref). Both are undone
// when the test ends.
func LiveTimersOnOneP(t testing.TB, n int) {
	prev := runtime.GOMAXPROCS(1)
	fillers := make([]*time.Timer, n)
	for i := range fillers {
		fillers[i] = time.AfterFunc(3*time.Hour, func() {})
	}
	t.Cleanup(func() {
		for _, f := range fillers {
			f.Stop()
		}
		runtime.GOMAXPROCS(prev)
	})
}

// Collected runs the garbage collector until gone reports true (weak
// pointers that are nil now), at most ten times, without waiting on any
// timer, and reports whether it did.
func Collected(gone func() bool) bool {
	for i := 0; i < 10 && !gone(); i++ {
		runtime.GC()
		runtime.Gosched()
	}
	return gone()
}
