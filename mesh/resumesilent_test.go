package mesh

import (
	"errors"
	"io"
	"testing"
	"time"
)

// TestResumeLinkSilentWindowOver: a path that goes silent (frozen, no way
// back) rather than broken is seen dead by the keep-alive, and past the
// resume window the connection on the link fails with an error wrapping
// ErrResumeTimeout, from the resume layer: never first with the link
// session's own keep-alive timeout (which must outlast the window).
func TestResumeLinkSilentWindowOver(t *testing.T) {
	opts := []Option{WithKeepAlive(50*time.Millisecond, 300*time.Millisecond), WithResumeWindow(500 * time.Millisecond)}
	for i := range 3 { // the two timers raced: a few rounds catch it
		a, b, p := joinedThrough(t, opts, opts)
		c, s := dialed(t, b, a)
		go io.Copy(s, s)
		roundTrip(t, c, "before")
		p.block(true)
		p.freeze()
		c.SetReadDeadline(time.Now().Add(patience))
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, ErrResumeTimeout) {
			t.Fatalf("round %d: read on a silent link past its window: %v, want ErrResumeTimeout", i, err)
		}
		a.Close()
		b.Close()
		p.close()
	}
}
