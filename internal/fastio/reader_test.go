package fastio

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReadTwo: a scatter read fills its first buffer, then its second; it
// waits for data until the read deadline, and says io.EOF once the peer
// closed.
func TestReadTwo(t *testing.T) {
	if runtime.GOOS != "linux" {
		if NewReader(&net.TCPConn{}) != nil {
			t.Fatal("NewReader returned a Reader on a platform without one")
		}
		t.Skip("scatter reads are made on Linux only")
	}
	if NewReader(struct{ net.Conn }{}) != nil {
		t.Fatal("NewReader returned a Reader for a connection that is neither TCP nor Unix")
	}
	w, c := testutil.TCPPair(t)
	r := NewReader(c)
	if r == nil {
		t.Fatal("NewReader returned nil for a TCP connection")
	}

	// Both buffers filled, in order.
	if _, err := w.Write([]byte("hello world")); err != nil {
		t.Fatal(err)
	}
	a, b := make([]byte, 5), make([]byte, 6)
	got := 0
	for got < 11 {
		n, err := r.ReadTwo(a[min(got, 5):], b[max(got-5, 0):])
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if string(a)+string(b) != "hello world" {
		t.Fatalf("read %q and %q", a, b)
	}

	// Nothing to read: it waits until the deadline.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := r.ReadTwo(a, b); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadTwo with nothing to read returned %d, %v; want 0 and a timeout", n, err)
	}
	c.SetReadDeadline(time.Time{})

	// The peer closed: io.EOF.
	w.Close()
	if n, err := r.ReadTwo(a, b); n != 0 || err != io.EOF {
		t.Fatalf("ReadTwo after the peer closed returned %d, %v; want 0 and io.EOF", n, err)
	}
}

// TestReadTwoReset: a connection reset comes back as a Read of the
// connection reports it: a *net.OpError that is the errno.
func TestReadTwoReset(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("scatter reads are made on Linux only")
	}
	w, c := testutil.TCPPair(t)
	r := NewReader(c)
	w.SetLinger(0) // Close sends a reset
	w.Close()
	var err error
	for err == nil {
		_, err = r.ReadTwo(make([]byte, 4), make([]byte, 4))
	}
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("ReadTwo after a reset: %v (%T); want a *net.OpError that is ECONNRESET", err, err)
	}
}
