package socket

import (
	"context"
	"errors"
	"sync"
	"time"
)

// How a switch retries a receive that failed without the socket closing
// (a receive deadline, a socket in a state where it cannot receive now):
// at once the first time, then no sooner than switchRetryMin after the
// previous attempt began, doubling up to switchRetryMax while the failures
// go on. A receive that waited (a receive timeout) is retried at once.
const (
	switchRetryMin = time.Millisecond
	switchRetryMax = 100 * time.Millisecond
)

// SwitchMiddlewareFunc sees every message a switch forwards. It may
// return the message, a changed or new one, or nil to drop it. It runs on
// the switch's goroutines (one per direction) and must be safe for that.
type SwitchMiddlewareFunc func(msg *Message) *Message

// Switch forwards messages both ways between two sockets.
type Switch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
}

// StartSwitch forwards every message received on back to front and every
// message received on front to back, through mw (nil: forward all). A
// message keeps its Source path and gains a hop, so replies sent back
// along it (SendTo(msg.Source, ...)) cross the switch to the original
// sender, through any number of switches; a message whose TTL runs out is
// dropped by the next receiver. Between a rep-side socket in front (facing
// requesters) and a req-side socket at the back (facing repliers), a
// switch behaves as an NNG device.
//
// The switch runs until Stop is called or either socket is closed; it
// never closes the sockets itself. A receive that fails otherwise (a
// receive deadline, even one in the past) is retried, backing off from
// 1 ms to 100 ms between attempts while the failures go on: a switch never
// spins, and forwards again at most 100 ms after the deadline is lifted.
func StartSwitch(back, front Socket, mw SwitchMiddlewareFunc) *Switch {
	ctx, cancel := context.WithCancel(context.Background())
	sw := &Switch{cancel: cancel, done: make(chan struct{})}
	sw.wg.Add(2)
	go sw.forward(ctx, back, front, mw)
	go sw.forward(ctx, front, back, mw)
	go func() {
		sw.wg.Wait()
		close(sw.done)
	}()
	return sw
}

// forward carries one direction. A socket that cannot receive (push, pub)
// makes its direction carry nothing, and the other goes on; a closed
// socket, or Stop, ends both.
func (sw *Switch) forward(ctx context.Context, from, to Socket, mw SwitchMiddlewareFunc) {
	defer sw.wg.Done()
	var (
		pause time.Duration // while receives fail: the least time between two attempts
		start time.Time     // when the attempt began, measured while pause > 0
	)
	for {
		if pause > 0 {
			start = time.Now()
		}
		m, err := from.RecvMsgContext(ctx)
		if err != nil {
			if errors.Is(err, ErrInvalidRecvType) {
				return
			}
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				sw.cancel()
				return
			}
			// A receive deadline (perhaps in the past) or a state error:
			// keep going, without spinning.
			if pause == 0 {
				pause = switchRetryMin
				continue
			}
			if !sleep(ctx, pause-time.Since(start)) {
				sw.cancel()
				return
			}
			pause = min(2*pause, switchRetryMax)
			continue
		}
		pause = 0
		if mw != nil {
			if m = mw(m); m == nil {
				continue
			}
		}
		if err := to.SendMsgContext(ctx, m); err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				sw.cancel()
				return
			}
			// Broken path, dropped, no send: the sending socket counted it.
		}
	}
}

// sleep waits for d or until ctx ends; it reports false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Stop stops forwarding and waits for the switch's goroutines to end.
func (sw *Switch) Stop() {
	sw.cancel()
	<-sw.done
}

// Done is closed once the switch has stopped.
func (sw *Switch) Done() <-chan struct{} { return sw.done }
