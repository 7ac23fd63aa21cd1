package socket

import (
	"context"
	"os"
	"sync"
	"time"
)

// wait blocks until ch is closed, the socket starts closing, the deadline
// passes or ctx ends. tm holds a timer reused across the waits of one call;
// the caller stops it.
func wait(ctx context.Context, ch, closing <-chan struct{}, dl time.Time, tm **time.Timer) error {
	var tc <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		if *tm == nil {
			*tm = getTimer(d)
		} else {
			(*tm).Reset(d)
		}
		tc = (*tm).C
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-ch:
		return nil
	case <-closing:
		return ErrClosed
	case <-tc:
		return os.ErrDeadlineExceeded
	case <-done:
		return ctx.Err()
	}
}

// timers recycles the timers of waits with a deadline, so that a receive
// with one (a surveyor's) allocates nothing. Since Go 1.23 a timer that
// was stopped or reset delivers no stale tick.
var timers sync.Pool

// getTimer returns a timer that fires after d.
func getTimer(d time.Duration) *time.Timer {
	if t, _ := timers.Get().(*time.Timer); t != nil {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

// putTimer stops t, a timer of getTimer or nil, and keeps it for reuse.
func putTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
		timers.Put(t)
	}
}

// broadcast wakes everyone waiting on *ch and forgets it; the next waiter
// makes a new one.
func broadcast(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// waitChan returns the channel to wait on, making it if needed.
func waitChan(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

// signal wakes the one goroutine that may wait on c (capacity 1).
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// epoch is where mono counts from.
var epoch = time.Now()

// mono reads the monotonic clock: nanoseconds since epoch. It reads the
// clock once, where time.Now reads it twice (the wall clock too), which
// shows on the paths that read it for every message.
func mono() int64 { return int64(time.Since(epoch)) }
