package socket

import (
	"context"
	"errors"
	"sync"
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
// never closes the sockets itself.
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
	for {
		m, err := from.RecvMsgContext(ctx)
		if err != nil {
			if errors.Is(err, ErrInvalidRecvType) {
				return
			}
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				sw.cancel()
				return
			}
			continue // a receive deadline: keep going
		}
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

// Stop stops forwarding and waits for the switch's goroutines to end.
func (sw *Switch) Stop() {
	sw.cancel()
	<-sw.done
}

// Done is closed once the switch has stopped.
func (sw *Switch) Done() <-chan struct{} { return sw.done }
