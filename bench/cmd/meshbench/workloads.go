package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/limit"
	"github.com/plexusnet/plexus/bench/internal/meshpeer"
	"github.com/plexusnet/plexus/bench/internal/report"
)

type config struct {
	win  harness.Window
	ends int // idle workload: clients, and servers, of the relayed circuits
}

type workload struct {
	name   string
	unit   string
	higher bool
	mode   func(config) string
	skip   func(meshpeer.Path) string // why the workload does not apply to a path; "" if it does
	run    func(meshpeer.Path, config) report.Result
}

// bulkSizes are the write and read sizes bulk tries; each path is shown
// at its best, as muxbench and the limits do.
var bulkSizes = limit.BulkSizes

const (
	msgSize     = 64
	msgConns    = 8
	rttSize     = 32
	openSize    = 32
	openDialers = 32
)

var workloads = []workload{
	{"bulk", "MB/s", true, fixed("1 stream, best of 64 KiB and 1 MiB writes"), always, runBulk},
	{"msgs", "msg/s", true, fixed(fmt.Sprintf("%d B msgs, %d conns", msgSize, msgConns)), always, runMsgs},
	{"rtt", "µs", false, fixed("32 B round trip, 1 stream"), always, runRTT},
	{"connreq", "µs", false, fixed("1 caller: dial, 1 B request, 1 B reply, close"), always, runConnReq},
	{"open", "streams/s", true, fixed(fmt.Sprintf("%d dialers: dial %s, write 32 B, close", openDialers, meshpeer.Service)), always, runOpen},
	{"firstdial", "ms", false, fixed("a new node dials " + meshpeer.Service + " to first byte"), meshOnly, runFirstDial},
	{"idle", "B/circuit", false, func(c config) string {
		return fmt.Sprintf("%d idle relayed circuits (%d × %d nodes), relay process", c.ends*c.ends-c.ends, c.ends, c.ends)
	}, plainRelayOnly, runIdle},
}

func fixed(s string) func(config) string { return func(config) string { return s } }

func always(meshpeer.Path) string { return "" }

func meshOnly(p meshpeer.Path) string {
	if !p.Mesh && !p.Libp2p {
		return "a mux open has no round trip to wait for"
	}
	return ""
}

// plainRelayOnly takes plexus's relay of plain links, and libp2p's relay
// (its links are TLS: libp2p has no plain links here).
func plainRelayOnly(p meshpeer.Path) string {
	if p.Libp2p && !p.Relay {
		return "measured at libp2p's relay (libp2p-relay)"
	}
	if !p.Relay || (p.TLS && !p.Libp2p) {
		return "measured on the relay of plain links (TLS adds nothing per circuit at a relay)"
	}
	return ""
}

func failed(err error) report.Result { return report.Result{Skipped: "failed: " + err.Error()} }

// run is one measured run of a workload over a path: its goroutines run
// in g, count in cnt, and end once stop is set and the path is closed.
type run struct {
	n    *meshpeer.Net
	ctx  context.Context
	stop atomic.Bool
	cnt  *harness.Counter
	g    *harness.Group
}

// ignoreAfter turns the error of a goroutine stopped by the harness into nil.
func (r *run) ignoreAfter(err error) error {
	if r.stop.Load() {
		return nil
	}
	return err
}

// measure starts p, lets start start the workload's goroutines, measures
// over c's window, then stops it. hang is a note when goroutines did not end.
func measure(p meshpeer.Path, c config, shards int, start func(r *run)) (s harness.Sample, hang string, err error) {
	n, err := p.Start()
	if err != nil {
		return harness.Sample{}, "", err
	}
	r := &run{n: n, ctx: context.Background(), cnt: harness.NewCounter(shards), g: harness.NewGroup()}
	start(r)
	s, err = harness.Measure(c.win, r.cnt.Sum, r.g.Failed())
	r.stop.Store(true)
	n.Close()
	if !r.g.Wait(10 * time.Second) {
		hang = "goroutines still blocked 10 s after close"
	}
	return s, hang, err
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

// runBulk measures one connection at each of bulkSizes (each for the
// whole window) and returns the best, with the others in the note.
func runBulk(p meshpeer.Path, c config) report.Result {
	var best report.Result
	var sizes []string
	for _, size := range bulkSizes {
		r := runBulkSize(p, c, size)
		if r.Skipped != "" {
			return r
		}
		sizes = append(sizes, fmt.Sprintf("%s: %s", limit.SizeName(size), report.FormatValue(r.Value)))
		if r.Value > best.Value {
			best = r
			best.Note = note("best at "+limit.SizeName(size), r.Note)
		}
	}
	best.Note = note(best.Note, strings.Join(sizes, ", "))
	return best
}

// runBulkSize is one connection, the client writing size-byte buffers and
// the server reading into a size-byte buffer.
func runBulkSize(p meshpeer.Path, c config, size int) report.Result {
	s, hang, err := measure(p, c, 1, func(r *run) {
		r.g.Go(func() error {
			st, err := r.n.Listener.Accept()
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
			st, err := r.n.Dial(r.ctx)
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
	cpu := float64(s.CPU.Microseconds()) / (float64(s.Count) / 1e6)
	return report.Result{Value: s.Rate() / 1e6, Note: note(fmt.Sprintf("CPU %.0f µs/MB", cpu), hang)}
}

// messenger is a connection that sends and receives whole messages (a
// mux stream, and so a mesh connection); RecvInto receives into the
// caller's buffer, as the other peers read into one with io.ReadFull.
type messenger interface {
	Send(p []byte) error
	RecvInto(buf []byte) ([]byte, error)
}

// runMsgs sends msgSize-byte messages on msgConns connections, one sending
// and one receiving goroutine each, as muxbench's msgs: with Send and
// RecvInto where the path's connections have them, else as msgSize-byte
// writes read with io.ReadFull.
func runMsgs(p meshpeer.Path, c config) report.Result {
	var api atomic.Value // how the connections were driven, for the note
	s, hang, err := measure(p, c, msgConns, func(r *run) {
		r.g.Go(func() error {
			for i := range msgConns {
				st, err := r.n.Listener.Accept()
				if err != nil {
					return r.ignoreAfter(err)
				}
				r.g.Go(func() error {
					buf := make([]byte, msgSize)
					m, ok := st.(messenger)
					for {
						if ok {
							b, err := m.RecvInto(buf)
							if err != nil {
								return r.ignoreAfter(err)
							}
							if len(b) != msgSize {
								return fmt.Errorf("received a %d-byte message, sent %d", len(b), msgSize)
							}
						} else if _, err := io.ReadFull(st, buf); err != nil {
							return r.ignoreAfter(err)
						}
						r.cnt.Add(i, 1)
					}
				})
			}
			return nil
		})
		for range msgConns {
			r.g.Go(func() error {
				st, err := r.n.Dial(r.ctx)
				if err != nil {
					return r.ignoreAfter(err)
				}
				msg := make([]byte, msgSize)
				m, ok := st.(messenger)
				if ok {
					api.Store("Send/RecvInto")
				} else {
					api.Store(fmt.Sprintf("%d B writes, io.ReadFull", msgSize))
				}
				for !r.stop.Load() {
					if ok {
						err = m.Send(msg)
					} else {
						_, err = st.Write(msg)
					}
					if err != nil {
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
	how, _ := api.Load().(string)
	return report.Result{Value: s.Rate(), Note: note(how, fmt.Sprintf("CPU %.2f µs/msg, %.2f allocs/msg", float64(s.CPUPer().Nanoseconds())/1e3, s.AllocsPer()), hang)}
}

func runRTT(p meshpeer.Path, c config) report.Result {
	s, hang, err := measure(p, c, 1, func(r *run) {
		r.g.Go(func() error {
			st, err := r.n.Listener.Accept()
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
			st, err := r.n.Dial(r.ctx)
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

func runOpen(p meshpeer.Path, c config) report.Result {
	s, hang, err := measure(p, c, 1, func(r *run) {
		r.g.Go(func() error {
			buf := make([]byte, 4096)
			for {
				st, err := r.n.Listener.Accept()
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
		for range openDialers {
			r.g.Go(func() error {
				msg := make([]byte, openSize)
				for !r.stop.Load() {
					st, err := r.n.Dial(r.ctx)
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
		}
	})
	if err != nil {
		return failed(err)
	}
	return report.Result{Value: s.Rate(), Note: note(fmt.Sprintf("CPU %.1f µs/stream, %.1f allocs/stream", float64(s.CPUPer().Nanoseconds())/1e3, s.AllocsPer()), hang)}
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

// runConnReq is a connection per request: one caller, in a loop, dials,
// writes a 1-byte request, reads the 1-byte reply and closes; the server
// accepts, reads the request, writes the reply and closes. The result is
// µs per loop; main adds the ratio to the path's round trip.
func runConnReq(p meshpeer.Path, c config) report.Result {
	s, hang, err := measure(p, c, 1, func(r *run) {
		r.g.Go(func() error {
			buf := make([]byte, 1)
			for {
				st, err := r.n.Listener.Accept()
				if err != nil {
					return r.ignoreAfter(err)
				}
				if _, err := io.ReadFull(st, buf); err != nil {
					st.Close()
					return r.ignoreAfter(err)
				}
				_, err = st.Write(buf)
				st.Close()
				if err != nil {
					return r.ignoreAfter(err)
				}
			}
		})
		r.g.Go(func() error {
			buf := make([]byte, 1)
			for !r.stop.Load() {
				st, err := r.n.Dial(r.ctx)
				if err != nil {
					return r.ignoreAfter(err)
				}
				if _, err := st.Write(buf); err != nil {
					st.Close()
					return r.ignoreAfter(err)
				}
				if _, err := io.ReadFull(st, buf); err != nil {
					st.Close()
					return r.ignoreAfter(err)
				}
				if err := st.Close(); err != nil {
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
	return report.Result{Value: 1e6 / s.Rate(), Note: note(fmt.Sprintf("CPU %.1f µs/request, %.1f allocs/request", float64(s.CPUPer().Nanoseconds())/1e3, s.AllocsPer()), hang)}
}

// runFirstDial measures first dials: in a loop, a new client node joins
// (not timed), then dials the service by name and reads the first byte
// the server sends (timed: through a relay, this sets up the circuit, with
// end-to-end TLS on a secured mesh, and waits for the dial's verdict).
// The result is the median after the warm-up.
func runFirstDial(p meshpeer.Path, c config) report.Result {
	n, err := p.Start()
	if err != nil {
		return failed(err)
	}
	defer n.Close()
	g := harness.NewGroup()
	g.Go(func() error {
		for {
			st, err := n.Listener.Accept()
			if err != nil {
				return nil
			}
			st.Write([]byte{1})
			st.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), c.win.Warmup+c.win.Duration+time.Minute)
	defer cancel()
	var lat []time.Duration
	warm := time.Now().Add(c.win.Warmup)
	end := warm.Add(c.win.Duration)
	for i := 0; time.Now().Before(end) || len(lat) < 5; i++ {
		dial, stop, err := n.FreshClient(ctx)
		if err != nil {
			return failed(err)
		}
		t0 := time.Now()
		st, err := dial(ctx)
		if err == nil {
			_, err = io.ReadFull(st, make([]byte, 1))
			st.Close()
		}
		d := time.Since(t0)
		stop()
		if err != nil {
			return failed(fmt.Errorf("dial %d: %w", i, err))
		}
		if t0.After(warm) {
			lat = append(lat, d)
		}
	}
	n.Close()
	g.Wait(10 * time.Second)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	return report.Result{Value: ms(lat[len(lat)/2]), Note: note(fmt.Sprintf("median of %d dials, p90 %.2f ms", len(lat), ms(lat[len(lat)*9/10])), firstDialTimed(p))}
}

// firstDialTimed says what a libp2p first dial times, which is not what a
// mesh node's does: a libp2p host has no link to a neighbour before it
// dials, so its direct first dial includes the connection.
func firstDialTimed(p meshpeer.Path) string {
	switch {
	case p.Libp2p && p.Relay:
		return "timed: the circuit through the relay (its link not), the end-to-end handshake and yamux, identify, the stream"
	case p.Libp2p:
		return "timed: the TCP connection, the handshake and yamux, identify, the stream"
	}
	return ""
}
