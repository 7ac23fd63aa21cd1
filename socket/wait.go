package socket

import (
	"context"
	"os"
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
			*tm = time.NewTimer(d)
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

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
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
