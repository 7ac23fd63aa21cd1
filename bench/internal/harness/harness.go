// Package harness holds what every benchmark in bench/ shares: the warm-up
// and measurement window, sharded counters, allocation and memory sampling.
package harness

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Window is how long a workload warms up before it is measured, and how long it is measured.
type Window struct {
	Warmup   time.Duration
	Duration time.Duration
}

// Counter is a set of padded counters, one per goroutine, so that counting
// millions of events per second does not itself become the bottleneck.
type Counter struct {
	shards []shard
}

type shard struct {
	n atomic.Uint64
	_ [56]byte
}

// NewCounter returns a counter with n shards.
func NewCounter(n int) *Counter { return &Counter{shards: make([]shard, n)} }

// Add adds d to shard i.
func (c *Counter) Add(i int, d uint64) { c.shards[i].n.Add(d) }

// Ptr returns the address of shard i, for code (e.g. C loops) that counts by itself.
func (c *Counter) Ptr(i int) *uint64 {
	// atomic.Uint64 is a struct holding one uint64; its address is the value's.
	return (*uint64)(unsafePointer(&c.shards[i].n))
}

// Sum returns the total of all shards.
func (c *Counter) Sum() uint64 {
	var s uint64
	for i := range c.shards {
		s += c.shards[i].n.Load()
	}
	return s
}

// Sample is what was counted during the measured part of a window.
type Sample struct {
	Count   uint64        // events (bytes, messages, round trips...) in the window
	Elapsed time.Duration // length of the measured window
	Mallocs uint64        // heap allocations of the whole process in the window
	CPU     time.Duration // CPU time of the whole process in the window (0 where unknown)
}

// Rate returns events per second.
func (s Sample) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Count) / s.Elapsed.Seconds()
}

// AllocsPer returns heap allocations per event (whole process: both ends and the harness).
func (s Sample) AllocsPer() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Mallocs) / float64(s.Count)
}

// CPUPer returns the process's CPU time per event.
func (s Sample) CPUPer() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.CPU / time.Duration(s.Count)
}

// ErrNoProgress reports a workload that counted nothing during its window.
var ErrNoProgress = errors.New("no progress during the measured window")

// Measure waits out the warm-up, then counts for the window's duration.
// It returns early with the error if failed delivers one first.
func Measure(w Window, count func() uint64, failed <-chan error) (Sample, error) {
	wait := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case err := <-failed:
			if err == nil {
				err = errors.New("workload ended early")
			}
			return err
		}
	}
	if err := waitFirst(count, failed); err != nil {
		return Sample{}, err
	}
	if err := wait(w.Warmup); err != nil {
		return Sample{}, fmt.Errorf("during warm-up: %w", err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m0, c0, t0, cpu0 := ms.Mallocs, count(), time.Now(), CPUTime()
	if err := wait(w.Duration); err != nil {
		return Sample{}, err
	}
	c1, t1, cpu1 := count(), time.Now(), CPUTime()
	runtime.ReadMemStats(&ms)
	s := Sample{Count: c1 - c0, Elapsed: t1.Sub(t0), Mallocs: ms.Mallocs - m0, CPU: cpu1 - cpu0}
	if s.Count == 0 {
		return s, ErrNoProgress
	}
	return s, nil
}

// RetainedMemory returns the bytes in use by the heap and goroutine stacks
// after two garbage collections.
func RetainedMemory() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// Group runs goroutines and collects the first error; Wait waits at most a
// timeout so that a peer that hangs on close cannot hang the whole run.
type Group struct {
	wg   sync.WaitGroup
	errc chan error
}

// NewGroup returns an empty group.
func NewGroup() *Group { return &Group{errc: make(chan error, 1)} }

// Go runs f in a goroutine; its non-nil error is delivered on Failed (first one only).
func (g *Group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			select {
			case g.errc <- err:
			default:
			}
		}
	}()
}

// Failed delivers the first error of any goroutine of the group.
func (g *Group) Failed() <-chan error { return g.errc }

// Wait waits for all goroutines, at most d; it reports whether they all ended.
func (g *Group) Wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// Loopback listens on a fresh TCP port of 127.0.0.1.
func Loopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// DialPair dials ln once and returns both ends of that TCP connection.
func DialPair(ln net.Listener) (client, server net.Conn, err error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	r := <-ch
	if err != nil || r.err != nil {
		if client != nil {
			client.Close()
		}
		if r.c != nil {
			r.c.Close()
		}
		return nil, nil, errors.Join(err, r.err)
	}
	return client, r.c, nil
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := Loopback()
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFirst waits until count reports progress, so that a slow start (a
// connect, a child process, senders filling socket buffers before the
// first message is read) is not taken for the warm-up or, with a short
// window, for no progress at all.
func waitFirst(count func() uint64, failed <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for count() == 0 {
		select {
		case err := <-failed:
			if err == nil {
				err = errors.New("workload ended early")
			}
			return err
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("nothing arrived within 10 s")
		}
	}
	return nil
}
