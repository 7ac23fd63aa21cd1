package mesh

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// swallowEnd is one end of a pipe whose writes, once swallow is set,
// vanish: the link goes silent without either end seeing an error, like a
// cable cut behind a NAT. Closing an end then unblocks only its own reads,
// so that each end has to find out by itself.
type swallowEnd struct {
	r       *io.PipeReader
	w       *io.PipeWriter
	swallow *atomic.Bool
}

func swallowPipe(swallow *atomic.Bool) (io.ReadWriteCloser, io.ReadWriteCloser) {
	r1, w1 := io.Pipe()
	r2, w2 := io.Pipe()
	return swallowEnd{r1, w2, swallow}, swallowEnd{r2, w1, swallow}
}

func (e swallowEnd) Read(p []byte) (int, error) { return e.r.Read(p) }

func (e swallowEnd) Write(p []byte) (int, error) {
	if e.swallow.Load() {
		return len(p), nil
	}
	return e.w.Write(p)
}

func (e swallowEnd) Close() error {
	e.r.Close()
	if !e.swallow.Load() {
		e.w.Close()
	}
	return nil
}

func TestDeadLinkDetectedWithinKeepAliveTimeout(t *testing.T) {
	const every, timeout = 200 * time.Millisecond, time.Second
	a := newNode(t, WithKeepAlive(every, timeout))
	b := newNode(t, WithKeepAlive(every, timeout))
	var swallow atomic.Bool
	p := attachOver(t, a, b, func() (io.ReadWriteCloser, io.ReadWriteCloser) { return swallowPipe(&swallow) })
	waitRoute(t, a, b.ID(), 1)
	waitRoute(t, b, a.ID(), 1)
	swallow.Store(true)
	start := time.Now()
	ea, eb := p.wait()
	for _, err := range []error{ea, eb} {
		if !errors.Is(err, mux.ErrKeepAliveTimeout) {
			t.Fatalf("link ended with %v, want a keep-alive timeout", err)
		}
	}
	d := time.Since(start)
	// Detection takes the timeout plus at most one health period; allow
	// a loaded machine generous slack.
	if d < timeout || d > timeout+3*time.Second {
		t.Fatalf("dead link detected after %v (timeout %v)", d, timeout)
	}
	t.Logf("dead link detected after %v", d)
	if hopsTo(a, b.ID()) != -1 || hopsTo(b, a.ID()) != -1 {
		t.Fatal("routes survive the dead link")
	}
}

// TestNoFalseDeathUnderLoad saturates a link in both directions for longer
// than the keep-alive timeout: the link must stay up.
func TestNoFalseDeathUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 4s")
	}
	a, b := newNode(t), newNode(t) // default keep-alive: 1s, dead after 3s
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.Serve(ln)
	b.Join("tcp", ln.Addr().String())
	waitRoute(t, b, a.ID(), 1)
	waitRoute(t, a, b.ID(), 1)
	sink, _ := a.Listen("", ":1")
	defer sink.Close()
	var wg sync.WaitGroup
	stop := time.Now().Add(DefaultKeepAliveTimeout + time.Second)
	blast := func(c net.Conn) {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for time.Now().Before(stop) {
			if _, err := c.Write(buf); err != nil {
				t.Errorf("write under load: %v", err)
				return
			}
		}
		c.(interface{ CloseWrite() error }).CloseWrite()
	}
	drain := func(c net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("read under load: %v", err)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := sink.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		wg.Add(2)
		go blast(c)
		drain(c)
		// drain returns once the dialer's blast ends; ours ends too, then c
		// closes in the test's deferred cleanup of the node.
	}()
	c, err := b.Dial("", FormatID(a.ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wg.Add(2)
	go blast(c)
	go drain(c)
	wg.Wait()
	if a.Stats().LinkDowns != 0 || b.Stats().LinkDowns != 0 || hopsTo(a, b.ID()) != 1 || hopsTo(b, a.ID()) != 1 {
		t.Fatal("the link was declared dead under load")
	}
}
