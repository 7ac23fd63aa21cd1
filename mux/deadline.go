package mux

import (
	"sync"
	"time"

	"github.com/plexusnet/plexus/internal/timerref"
)

// deadline is a read or write deadline of a stream, in the manner of
// net.Pipe: a channel that is closed once the deadline has passed. It is
// guarded by the mutex of its stream, which the timer takes too.
type deadline struct {
	at     time.Time // zero: none
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline passed; nil: none yet
	// mu is the stream's mutex, as the timers reach it: cleared when the
	// deadline is set to none or stopped, so that a stopped timer, which
	// the runtime keeps until its original time, holds only d and not the
	// stream (see internal/timerref).
	mu timerref.Ref[sync.Mutex]
}

// set arms d for t (zero: no deadline). mu, the mutex that guards d, must
// be held; the timer takes it to call d.expire.
func (d *deadline) set(t time.Time, mu *sync.Mutex) {
	d.at = t
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	expired := d.cancel != nil && isClosed(d.cancel)
	if t.IsZero() {
		d.cancel = nil // waiters are woken by the caller and see no deadline
		d.mu.Clear()
		return
	}
	if d.cancel == nil || expired {
		d.cancel = make(chan struct{})
	}
	if dur := time.Until(t); dur > 0 {
		ch := d.cancel
		d.mu.Set(mu)
		d.timer = time.AfterFunc(dur, func() {
			if mu := d.mu.Get(); mu != nil {
				mu.Lock()
				d.expire(ch)
				mu.Unlock()
			}
		})
		return
	}
	close(d.cancel)
}

// expire closes ch if it is still d's current, open channel. mu must be held.
func (d *deadline) expire(ch chan struct{}) {
	if d.cancel == ch && !isClosed(ch) {
		close(ch)
	}
}

// wait returns the channel to select on: nil (never ready) without a deadline.
func (d *deadline) wait() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.cancel
}

// exceeded reports whether the deadline has passed (by the clock, even if
// its timer has not fired yet).
func (d *deadline) exceeded() bool {
	return d != nil && d.cancel != nil && (isClosed(d.cancel) || (!d.at.IsZero() && !time.Now().Before(d.at)))
}

// stop releases the timer, and the stream for the timers stopped before.
func (d *deadline) stop() {
	if d != nil {
		if d.timer != nil {
			d.timer.Stop()
			d.timer = nil
		}
		d.mu.Clear()
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
