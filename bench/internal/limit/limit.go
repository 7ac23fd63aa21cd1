// Package limit measures what this machine's loopback TCP can do with
// nothing in between, the limit every table is read against: the round
// trip of 32 bytes on one connection, and bulk on one connection at the
// best of several write and read sizes. For secured paths it measures the
// same over one crypto/tls connection (tls.go), and what AES-GCM itself
// allows on this machine (aead.go).
package limit

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
)

// BulkSizes are the write and read sizes bulk tries; the limit is the best.
var BulkSizes = []int{64 << 10, 1 << 20}

// RTTSize is the payload of the round trip.
const RTTSize = 32

// Machine is the limits measured in one run.
type Machine struct {
	RTT      Figure // µs per 32 B round trip
	Bulk     Figure // MB/s at the best size
	BulkSize int    // the size that gave Bulk (of the median round)
	Rounds   int
}

// Figure is the median of the rounds and their spread.
type Figure struct{ Median, Lo, Hi float64 }

// FigureOf is the median of v and its spread.
func FigureOf(v []float64) Figure { return figure(v) }

func figure(v []float64) Figure {
	if len(v) == 0 {
		return Figure{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return Figure{Median: s[(len(s)-1)/2], Lo: s[0], Hi: s[len(s)-1]}
}

// Measure measures the limits rounds times (at least once), each
// measurement over w, and returns the medians.
func Measure(w harness.Window, rounds int) (Machine, error) {
	rtt, bulk, size, err := measure(w, rounds, tcpPair)
	if err != nil {
		return Machine{}, err
	}
	return Machine{RTT: rtt, Bulk: bulk, BulkSize: size, Rounds: max(rounds, 1)}, nil
}

// measure measures the round trip and the best bulk on connections of p,
// rounds times (at least once), and returns the medians and the size that
// gave the median bulk.
func measure(w harness.Window, rounds int, p pair) (rtt, bulk Figure, size int, err error) {
	var rtts, bulks []float64
	sizes := map[float64]int{}
	for range max(rounds, 1) {
		r, err := roundTrip(w, p)
		if err != nil {
			return Figure{}, Figure{}, 0, err
		}
		rtts = append(rtts, r)
		best, at, err := bestBulk(w, p)
		if err != nil {
			return Figure{}, Figure{}, 0, err
		}
		bulks = append(bulks, best)
		sizes[best] = at
	}
	rtt, bulk = figure(rtts), figure(bulks)
	return rtt, bulk, sizes[bulk.Median], nil
}

// Line says the limits in one sentence, for above a table.
func (m Machine) Line() string {
	return Line(m.RTT, m.Bulk, m.BulkSize, m.Rounds)
}

// Line says limits measured elsewhere (a table's own raw TCP rows) the same way.
func Line(rtt, bulk Figure, bulkSize, rounds int) string {
	return fmt.Sprintf("Limits of this machine in this run, raw TCP over loopback (median of %d): %s.", rounds, figures(rtt, bulk, bulkSize))
}

// figures says a round trip and a best bulk, the parts that are measured.
func figures(rtt, bulk Figure, bulkSize int) string {
	var parts []string
	if rtt.Median > 0 {
		parts = append(parts, fmt.Sprintf("32 B round trip **%.1f µs** (%.1f..%.1f)", rtt.Median, rtt.Lo, rtt.Hi))
	}
	if bulk.Median > 0 {
		parts = append(parts, fmt.Sprintf("bulk on one connection **%.0f MB/s** at its best size, %s writes and reads (%.0f..%.0f)", bulk.Median, SizeName(bulkSize), bulk.Lo, bulk.Hi))
	}
	return strings.Join(parts, "; ")
}

// SizeName is 65536 as "64 KiB", 1048576 as "1 MiB".
func SizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// pair makes the two ends of a fresh connection.
type pair func() (client, server net.Conn, err error)

// tcpPair is a fresh loopback TCP connection.
func tcpPair() (net.Conn, net.Conn, error) {
	ln, err := harness.Loopback()
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	return harness.DialPair(ln)
}

// run measures count over w while the loops of start run on a fresh
// connection of p, then closes it and waits for them.
func run(w harness.Window, p pair, start func(client, server net.Conn, cnt *atomic.Uint64, stop *atomic.Bool, g *harness.Group)) (harness.Sample, error) {
	c, s, err := p()
	if err != nil {
		return harness.Sample{}, err
	}
	var cnt atomic.Uint64
	var stop atomic.Bool
	g := harness.NewGroup()
	start(c, s, &cnt, &stop, g)
	sample, err := harness.Measure(w, cnt.Load, g.Failed())
	stop.Store(true)
	c.Close()
	s.Close()
	g.Wait(10 * time.Second)
	return sample, err
}

// quiet turns the error of a loop ended by closing its connection into nil.
func quiet(stop *atomic.Bool, err error) error {
	if stop.Load() {
		return nil
	}
	return err
}

// RoundTrip returns µs per 32-byte echo on one connection.
func RoundTrip(w harness.Window) (float64, error) { return roundTrip(w, tcpPair) }

func roundTrip(w harness.Window, p pair) (float64, error) {
	s, err := run(w, p, func(c, s net.Conn, cnt *atomic.Uint64, stop *atomic.Bool, g *harness.Group) {
		g.Go(func() error {
			buf := make([]byte, RTTSize)
			for {
				if _, err := io.ReadFull(s, buf); err != nil {
					return quiet(stop, err)
				}
				if _, err := s.Write(buf); err != nil {
					return quiet(stop, err)
				}
			}
		})
		g.Go(func() error {
			buf := make([]byte, RTTSize)
			for !stop.Load() {
				if _, err := c.Write(buf); err != nil {
					return quiet(stop, err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					return quiet(stop, err)
				}
				cnt.Add(1)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return 1e6 / s.Rate(), nil
}

// Bulk returns MB/s (10^6 bytes) on one connection with size-byte writes and reads.
func Bulk(w harness.Window, size int) (float64, error) { return bulk(w, tcpPair, size) }

func bulk(w harness.Window, p pair, size int) (float64, error) {
	s, err := run(w, p, func(c, s net.Conn, cnt *atomic.Uint64, stop *atomic.Bool, g *harness.Group) {
		g.Go(func() error {
			buf := make([]byte, size)
			for {
				n, err := s.Read(buf)
				cnt.Add(uint64(n))
				if err != nil {
					return quiet(stop, err)
				}
			}
		})
		g.Go(func() error {
			buf := make([]byte, size)
			for !stop.Load() {
				if _, err := c.Write(buf); err != nil {
					return quiet(stop, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return s.Rate() / 1e6, nil
}

// BestBulk returns the best of Bulk over BulkSizes and the size that gave it.
func BestBulk(w harness.Window) (float64, int, error) { return bestBulk(w, tcpPair) }

func bestBulk(w harness.Window, p pair) (float64, int, error) {
	best, at := 0.0, 0
	for _, size := range BulkSizes {
		v, err := bulk(w, p, size)
		if err != nil {
			return 0, 0, err
		}
		if v > best {
			best, at = v, size
		}
	}
	return best, at, nil
}
