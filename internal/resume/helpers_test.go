package resume

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

const patience = testutil.Patience

var eventually = testutil.Eventually

var testKey = []byte("0123456789abcdef0123456789abcdef")

// mkPaths makes the two ends of a new path.
type mkPaths func(t testing.TB) (x, y io.ReadWriteCloser)

func pipePaths(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
	x, y := net.Pipe()
	return x, y
}

func tcpPaths(t testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	x, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	y := <-ch
	if y == nil {
		t.Fatal("accept failed")
	}
	return x, y
}

var pathKinds = []struct {
	name string
	mk   mkPaths
}{{"pipe", pipePaths}, {"tcp", tcpPaths}}

// newPair makes the two ends of a Conn over a new path, keyed, closed at
// the end of the test.
func newPair(t testing.TB, cfg *Config, mk mkPaths) (a, b *Conn) {
	t.Helper()
	x, y := mk(t)
	a, err := New(x, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err = NewPeer(a.ID(), y, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.SetKey(testKey)
	b.SetKey(testKey)
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	return a, b
}

// resumeBoth breaks both ends and resumes them over a new path.
func resumeBoth(t testing.TB, a, b *Conn, mk mkPaths) (errA, errB error) {
	t.Helper()
	a.Break(nil)
	b.Break(nil)
	x, y := mk(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		errB = b.Resume(ctx, y)
	}()
	errA = a.Resume(ctx, x)
	wg.Wait()
	return errA, errB
}

// fastCfg has short timers for the tests.
func fastCfg() *Config {
	return &Config{AckDelay: 5 * time.Millisecond, KeepAliveInterval: 200 * time.Millisecond, KeepAliveTimeout: 5 * time.Second}
}

// countingPath counts the writes on a path.
type countingPath struct {
	io.ReadWriteCloser
	writes atomic.Int64
}

func (p *countingPath) Write(b []byte) (int, error) {
	p.writes.Add(1)
	return p.ReadWriteCloser.Write(b)
}
