package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/limit"
	"github.com/plexusnet/plexus/bench/internal/muxpeer"
	"github.com/plexusnet/plexus/bench/internal/report"
)

type config struct {
	win     harness.Window
	streams int // idle workload
}

type workload struct {
	name   string
	unit   string
	higher bool
	mode   func(config) string
	run    func(muxpeer.Peer, config) report.Result
}

// bulkSizes are the write and read sizes the bulk workload tries; each peer
// is shown at its best, so raw TCP, the reference, is the physical limit of
// this machine and not one size's (64 KiB writes move far less than 1 MiB
// writes over loopback).
var bulkSizes = limit.BulkSizes

const (
	msgSize    = 64
	msgStreams = 8
	rttSize    = 32
	openSize   = 32
)

var workloads = []workload{
	{"bulk", "MB/s", true, fixed("1 stream, best of 64 KiB and 1 MiB writes"), runBulk},
	{"msgs", "msg/s", true, fixed("64 B msgs, 8 streams"), runMsgs},
	{"rtt", "µs", false, fixed("32 B round trip, 1 stream"), runRTT},
	{"open", "streams/s", true, fixed("open+write 32 B+close"), runOpen},
	{"idle", "B/stream", false, func(c config) string { return fmt.Sprintf("%d idle streams, both ends", c.streams) }, runIdle},
}

func fixed(s string) func(config) string { return func(config) string { return s } }

func failed(err error) report.Result { return report.Result{Skipped: "failed: " + err.Error()} }

// setup listens on loopback and connects a pair of sessions of p.
func setup(p muxpeer.Peer, o muxpeer.Options) (client, server muxpeer.Session, cleanup func(), err error) {
	ln, err := harness.Loopback()
	if err != nil {
		return nil, nil, nil, err
	}
	client, server, err = p.Pair(ln, o)
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	return client, server, func() {
		client.Close()
		server.Close()
		ln.Close()
	}, nil
}

// session is one measured run of a workload over a pair of sessions: the
// workload's goroutines run in g, count in cnt, and end once stop is set.
type session struct {
	client, server muxpeer.Session
	ctx            context.Context
	stop           atomic.Bool
	cnt            *harness.Counter
	g              *harness.Group
}

// ignoreAfter turns the error of a goroutine stopped by the harness (by
// closing the sessions) into nil.
func (r *session) ignoreAfter(err error) error {
	if r.stop.Load() || errors.Is(err, net.ErrClosed) && r.stop.Load() {
		return nil
	}
	return err
}

// measure connects a pair of sessions of p, lets start start the
// workload's goroutines (counting in shards counters), measures it over
// c's window, then stops it. hang is a note when goroutines did not end.
func measure(p muxpeer.Peer, c config, shards int, start func(r *session)) (s harness.Sample, hang string, err error) {
	client, server, cleanup, err := setup(p, muxpeer.Options{})
	if err != nil {
		return harness.Sample{}, "", err
	}
	r := &session{client: client, server: server, ctx: context.Background(), cnt: harness.NewCounter(shards), g: harness.NewGroup()}
	start(r)
	s, err = harness.Measure(c.win, r.cnt.Sum, r.g.Failed())
	hang = finish(r.g, &r.stop, cleanup)
	return s, hang, err
}

// finish stops the workload: it sets stop, closes the sessions and waits for the goroutines.
func finish(g *harness.Group, stop *atomic.Bool, cleanup func()) string {
	stop.Store(true)
	cleanup()
	if !g.Wait(10 * time.Second) {
		return "goroutines still blocked 10 s after close"
	}
	return ""
}

func note(parts ...string) string {
	s := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if s != "" {
			s += "; "
		}
		s += p
	}
	return s
}

// runBulk measures one stream at each of bulkSizes (each for the whole
// window) and returns the best, with the others in the note.
func runBulk(p muxpeer.Peer, c config) report.Result {
	var best report.Result
	var notes []string
	for _, size := range bulkSizes {
		r := runBulkSize(p, c, size)
		if r.Skipped != "" {
			return r
		}
		notes = append(notes, fmt.Sprintf("%s: %s", sizeName(size), report.FormatValue(r.Value)))
		if r.Value > best.Value {
			best = r
			best.Note = note("best at " + sizeName(size))
			if r.Note != "" {
				best.Note = note(best.Note, r.Note)
			}
		}
	}
	best.Note = note(best.Note, strings.Join(notes, ", "))
	return best
}

var sizeName = limit.SizeName

// runBulkSize is one stream, the client writing size-byte buffers and the
// server reading into a size-byte buffer.
func runBulkSize(p muxpeer.Peer, c config, size int) report.Result {
	s, hang, err := measure(p, c, 1, func(r *session) {
		r.g.Go(func() error {
			st, err := r.server.AcceptStream(r.ctx)
			if err != nil {
				return r.ignoreAfter(err)
			}
			buf := make([]byte, size)
			for {
				n, err := st.Read(buf)
				r.cnt.Add(0, uint64(n))
				if err != nil {
					return r.ignoreAfter(err)
				}
			}
		})
		r.g.Go(func() error {
			st, err := r.client.OpenStream(r.ctx)
			if err != nil {
				return r.ignoreAfter(err)
			}
			buf := make([]byte, size)
			for !r.stop.Load() {
				if _, err := st.Write(buf); err != nil {
					return r.ignoreAfter(err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return failed(err)
	}
	return report.Result{Value: s.Rate() / 1e6, Note: note(hang)}
}

func runMsgs(p muxpeer.Peer, c config) report.Result {
	s, hang, err := measure(p, c, msgStreams, func(r *session) {
		r.g.Go(func() error {
			for i := range msgStreams {
				st, err := r.server.AcceptStream(r.ctx)
				if err != nil {
					return r.ignoreAfter(err)
				}
				r.g.Go(func() error {
					buf := make([]byte, msgSize)
					for {
						m, err := st.RecvMsg(buf)
						if err != nil {
							return r.ignoreAfter(err)
						}
						if len(m) != msgSize {
							return fmt.Errorf("received a %d-byte message, sent %d", len(m), msgSize)
						}
						r.cnt.Add(i, 1)
					}
				})
			}
			return nil
		})
		for range msgStreams {
			r.g.Go(func() error {
				st, err := r.client.OpenStream(r.ctx)
				if err != nil {
					return r.ignoreAfter(err)
				}
				msg := make([]byte, msgSize)
				for !r.stop.Load() {
					if err := st.SendMsg(msg); err != nil {
						return r.ignoreAfter(err)
					}
				}
				return nil
			})
		}
	})
	if err != nil {
		return failed(err)
	}
	return report.Result{Value: s.Rate(), Note: note(fmt.Sprintf("%.2f allocs/msg", s.AllocsPer()), hang)}
}

func runRTT(p muxpeer.Peer, c config) report.Result {
	s, hang, err := measure(p, c, 1, func(r *session) {
		r.g.Go(func() error {
			st, err := r.server.AcceptStream(r.ctx)
			if err != nil {
				return r.ignoreAfter(err)
			}
			buf := make([]byte, rttSize)
			for {
				if _, err := io.ReadFull(st, buf); err != nil {
					return r.ignoreAfter(err)
				}
				if _, err := st.Write(buf); err != nil {
					return r.ignoreAfter(err)
				}
			}
		})
		r.g.Go(func() error {
			st, err := r.client.OpenStream(r.ctx)
			if err != nil {
				return r.ignoreAfter(err)
			}
			buf := make([]byte, rttSize)
			for !r.stop.Load() {
				if _, err := st.Write(buf); err != nil {
					return r.ignoreAfter(err)
				}
				if _, err := io.ReadFull(st, buf); err != nil {
					return r.ignoreAfter(err)
				}
				r.cnt.Add(0, 1)
			}
			return nil
		})
	})
	if err != nil {
		return failed(err)
	}
	return report.Result{Value: 1e6 / s.Rate(), Note: note(hang)}
}

func runOpen(p muxpeer.Peer, c config) report.Result {
	s, hang, err := measure(p, c, 1, func(r *session) {
		r.g.Go(func() error {
			buf := make([]byte, 4096)
			for {
				st, err := r.server.AcceptStream(r.ctx)
				if err != nil {
					return r.ignoreAfter(err)
				}
				n, err := readToEOF(st, buf)
				if err != nil {
					return r.ignoreAfter(err)
				}
				if n != openSize {
					return fmt.Errorf("read %d bytes before EOF, sent %d", n, openSize)
				}
				st.Close()
				r.cnt.Add(0, 1)
			}
		})
		r.g.Go(func() error {
			msg := make([]byte, openSize)
			for !r.stop.Load() {
				st, err := r.client.OpenStream(r.ctx)
				if err != nil {
					return r.ignoreAfter(err)
				}
				if _, err := st.Write(msg); err != nil {
					return r.ignoreAfter(err)
				}
				if err := st.Close(); err != nil {
					return r.ignoreAfter(err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return failed(err)
	}
	return report.Result{Value: s.Rate(), Note: note(fmt.Sprintf("%.1f allocs/stream", s.AllocsPer()), hang)}
}

func readToEOF(r io.Reader, buf []byte) (int, error) {
	total := 0
	for {
		n, err := r.Read(buf)
		total += n
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// runIdle opens c.streams streams, accepts them all, and reports the growth of
// heap and stack in use (after GC) divided by the number of streams.
func runIdle(p muxpeer.Peer, c config) report.Result {
	n := c.streams
	clientSide := make([]muxpeer.Stream, n)
	serverSide := make([]muxpeer.Stream, n)
	client, server, cleanup, err := setup(p, muxpeer.Options{MaxStreams: n})
	if err != nil {
		return failed(err)
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	before := harness.RetainedMemory()
	start := time.Now()
	accepted := make(chan error, 1)
	go func() {
		for i := range n {
			st, err := server.AcceptStream(ctx)
			if err != nil {
				accepted <- fmt.Errorf("accepted %d of %d streams: %w", i, n, err)
				return
			}
			serverSide[i] = st
		}
		accepted <- nil
	}()
	for i := range n {
		st, err := client.OpenStream(ctx)
		if err != nil {
			cancel()
			client.Close()
			server.Close()
			<-accepted
			return failed(fmt.Errorf("opened %d of %d streams: %w", i, n, err))
		}
		clientSide[i] = st
	}
	select {
	case err := <-accepted:
		if err != nil {
			return failed(err)
		}
	case <-time.After(time.Minute):
		client.Close()
		server.Close()
		<-accepted
		return failed(errors.New("the server did not accept every stream within a minute"))
	}
	took := time.Since(start)
	after := harness.RetainedMemory()
	var per float64
	if after > before {
		per = float64(after-before) / float64(n)
	}
	r := report.Result{Value: per, Note: fmt.Sprintf("HeapInuse+StackInuse grew %s; open+accept took %s",
		mib(after-min(before, after)), took.Round(time.Millisecond))}
	for i := range n {
		clientSide[i].Close()
	}
	return r
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
