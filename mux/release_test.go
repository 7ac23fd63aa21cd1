package mux

import (
	"errors"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// breakableConn is a connection whose writes fail once broken.
type breakableConn struct {
	net.Conn
	broken atomic.Bool
}

func (c *breakableConn) Write(p []byte) (int, error) {
	if c.broken.Load() {
		return 0, errors.New("injected write failure")
	}
	return c.Conn.Write(p)
}

// TestCloseReleases: once Close returns, no timer of the session's or of
// its streams' stays armed, so nothing keeps a closed session, its
// streams and their buffers alive: they are garbage as soon as the
// application drops them (armed timers once kept every closed session of
// a node for up to 30 s).
func TestCloseReleases(t *testing.T) {
	sess, streams, goroutines := closedWithTimersArmed(t)
	for _, done := range goroutines {
		<-done // the reader goroutine, a Read that Close woke
	}
	testutil.Eventually(t, "the closed session and its streams to be collected", func() bool {
		runtime.GC()
		if sess.Value() != nil {
			return false
		}
		for _, st := range streams {
			if st.Value() != nil {
				return false
			}
		}
		return true
	})
}

// closedWithTimersArmed starts a session and arms every timer it and its
// streams have: the health timer, the close-wait timer (a stream closed
// locally whose peer keeps it open), the timer that ends a session whose
// writes failed, and read and write deadlines, of an open stream and of
// one the peer has reset; then it closes the session. It returns weak
// pointers to the session and the streams, and channels closed as the
// goroutines that may still hold them return.
func closedWithTimersArmed(t *testing.T) (weak.Pointer[Session], []weak.Pointer[Stream], []<-chan struct{}) {
	c1, c2 := tcpPipe(t)
	conn := &breakableConn{Conn: c1}
	hour := time.Hour
	cs, err := Client(conn, &Config{StreamCloseTimeout: hour, CloseTimeout: hour,
		KeepAliveInterval: hour, KeepAliveTimeout: 2 * hour, WriteTimeout: hour})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Server(c2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })

	open, _ := streamPair(t, cs, ss)
	open.SetDeadline(time.Now().Add(hour))
	lingering, _ := streamPair(t, cs, ss)
	lingering.Close() // the peer never closes its end: it waits in the close-wait queue
	reset, peerEnd := streamPair(t, cs, ss)
	reset.SetReadDeadline(time.Now().Add(hour))
	peerEnd.Reset(CodeCancel)
	waitFor(t, func() bool { _, err := reset.Read(nil); return err != nil })
	reset.SetWriteDeadline(time.Now().Add(hour)) // on a stream that is over
	read := make(chan struct{})
	go func() {
		defer close(read)
		open.Read(make([]byte, 1)) // blocked until Close
	}()
	waitFor(t, func() bool { return waits(cs, open) == 1 })

	conn.broken.Store(true) // the next write fails: the session ends CloseTimeout later
	open.Write([]byte("x"))
	waitFor(t, func() bool { return cs.life.failTimer.Load() != nil })
	cs.table.mu.Lock()
	armed := cs.table.cw.armed
	cs.table.mu.Unlock()
	if !armed || cs.health.timer.Load() == nil || open.rdl.timer == nil || open.wdl.timer == nil {
		t.Fatal("not every timer is armed")
	}

	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	streams := []weak.Pointer[Stream]{weak.Make(open), weak.Make(lingering), weak.Make(reset)}
	return weak.Make(cs), streams, []<-chan struct{}{cs.life.readerDone, read}
}

// waits returns how many goroutines wait on s (AcceptStream, OpenStream,
// Ping), and on st if not nil: blocked in a Read, Write, Recv or Send, or
// reading the connection for st's Read (lead).
func waits(s *Session, st *Stream) int {
	n := int(s.waiting.Load())
	if st != nil {
		st.mu.Lock()
		n += int(st.waiters)
		st.mu.Unlock()
		if leads(s, st) {
			n++
		}
	}
	return n
}

// leads reports whether st's Read holds s's read token.
func leads(s *Session, st *Stream) bool {
	led := false
	s.rd.token.IfLeading(st, func() { led = true })
	return led
}

// TestCloseReleasesDespiteZombies: a timer that Close stops stays in the
// runtime's timer heap as a zombie, its callback still referenced, until
// the runtime happens to clean that heap: when the zombie reaches the
// head at its original time, when zombies pass a quarter of the heap, or
// when a timer that was re-armed comes due on that P. In a quiet process
// with many live timers none of that happens for long, and a stopped timer
// whose callback held the session kept it alive for as long as it had been
// armed (the mesh soak's "Close left timers holding memory"). Here many
// live timers on the one P keep the zombies below a quarter of its heap,
// and the test does not wait (no sleep, no timer of its own): the closed
// session must be collected by the first collections, as its stopped
// timers hold only cleared references (internal/timerref).
func TestCloseReleasesDespiteZombies(t *testing.T) {
	testutil.LiveTimersOnOneP(t, 1000)
	sess, streams, goroutines := closedWithTimersArmed(t)
	for _, done := range goroutines {
		<-done
	}
	collected := func() bool {
		if sess.Value() != nil {
			return false
		}
		for _, st := range streams {
			if st.Value() != nil {
				return false
			}
		}
		return true
	}
	if !testutil.Collected(collected) {
		t.Fatal("the closed session is not collected: a stopped timer still holds it")
	}
}
