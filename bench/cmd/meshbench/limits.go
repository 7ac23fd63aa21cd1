package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/limit"
	"github.com/plexusnet/plexus/bench/internal/report"
)

// The limits take their turns in the rounds of bulk and rtt beside the
// paths, under the same load, as these peers; their rows then leave the
// table for the lines above it, and join the rows the goals and the
// charts read.
const (
	rawTCP   = "raw TCP"    // one loopback TCP connection
	tlsLimit = "crypto/tls" // one crypto/tls connection over loopback
	aeadPeer = "AES-GCM"    // AES-128-GCM seal and open on one core (bulk only)
)

// limits measures the limits of the machine in a run and says them.
type limits struct {
	win     harness.Window
	secured bool      // measure crypto/tls and AES-GCM too (a secured path runs)
	suite   string    // the cipher suite crypto/tls negotiated
	seal    []float64 // AES-GCM seal MB/s of each round
	open    []float64 // AES-GCM open MB/s of each round
}

// peers returns the names of the limits' peers in a run.
func (l *limits) peers() []string {
	if l.secured {
		return []string{rawTCP, tlsLimit, aeadPeer}
	}
	return []string{rawTCP}
}

// run measures the limit peer at workload in one round; the other
// workloads have no limit and are skipped.
func (l *limits) run(peer, workload string) report.Result {
	fail := func(err error) report.Result { return report.Result{Skipped: "failed: " + err.Error()} }
	bulk := func(best float64, size int, err error) report.Result {
		if err != nil {
			return fail(err)
		}
		return report.Result{Value: best, Note: "best at " + limit.SizeName(size)}
	}
	if peer == tlsLimit && l.suite == "" {
		s, err := limit.TLSSuite()
		if err != nil {
			return fail(err)
		}
		l.suite = s
	}
	switch {
	case workload == "bulk" && peer == rawTCP:
		return bulk(limit.BestBulk(l.win))
	case workload == "rtt" && peer == rawTCP:
		v, err := limit.RoundTrip(l.win)
		if err != nil {
			return fail(err)
		}
		return report.Result{Value: v}
	case workload == "bulk" && peer == tlsLimit:
		return bulk(limit.TLSBestBulk(l.win))
	case workload == "rtt" && peer == tlsLimit:
		v, err := limit.TLSRoundTrip(l.win)
		if err != nil {
			return fail(err)
		}
		return report.Result{Value: v}
	case workload == "bulk" && peer == aeadPeer:
		seal, err := limit.AEADThroughput(l.win, true)
		if err != nil {
			return fail(err)
		}
		open, err := limit.AEADThroughput(l.win, false)
		if err != nil {
			return fail(err)
		}
		l.seal, l.open = append(l.seal, seal), append(l.open, open)
		a := limit.AEAD{Seal: limit.Figure{Median: seal}, Open: limit.Figure{Median: open}, Procs: runtime.GOMAXPROCS(0)}
		return report.Result{Value: a.RelayBound(), Note: fmt.Sprintf("seal %.0f, open %.0f MB/s on one core", seal, open)}
	}
	return report.Result{Skipped: "no limit"}
}

// isLimit reports whether peer is one of the limits' peers.
func isLimit(peer string) bool { return peer == rawTCP || peer == tlsLimit || peer == aeadPeer }

// take moves the limits' rows out of t and returns the lines that say
// them, for above the table, and the rows that were measured.
func (l *limits) take(t *report.Table, rounds int) ([]string, []report.Result) {
	var rows, kept []report.Result
	failed := map[string]string{}
	for _, r := range t.Results {
		switch {
		case !isLimit(r.Peer):
			kept = append(kept, r)
		case r.Skipped == "":
			rows = append(rows, r)
		case r.Skipped != "no limit":
			failed[r.Peer] = r.Skipped
		}
	}
	t.Results = kept
	find := func(workload, peer string) (f limit.Figure, size int) {
		for _, r := range rows {
			if r.Workload == workload && r.Peer == peer {
				f = limit.Figure{Median: r.Value, Lo: r.Value, Hi: r.Value}
				if r.Hi > 0 {
					f.Lo, f.Hi = r.Lo, r.Hi
				}
				for _, n := range limit.BulkSizes {
					if strings.Contains(r.Note, "best at "+limit.SizeName(n)) {
						size = n
					}
				}
			}
		}
		return f, size
	}
	rounds = max(rounds, 1)
	var lines []string
	for _, peer := range l.peers() {
		if why, ok := failed[peer]; ok {
			lines = append(lines, fmt.Sprintf("Limit %s: not measured (%s).", peer, why))
			continue
		}
		rtt, _ := find("rtt", peer)
		bulk, size := find("bulk", peer)
		switch {
		case peer == rawTCP && (rtt.Median > 0 || bulk.Median > 0):
			lines = append(lines, limit.Line(rtt, bulk, size, rounds))
		case peer == tlsLimit && (rtt.Median > 0 || bulk.Median > 0):
			lines = append(lines, limit.TLS{RTT: rtt, Bulk: bulk, BulkSize: size, Suite: l.suite, Rounds: rounds}.Line())
		case peer == aeadPeer && len(l.seal) > 0:
			lines = append(lines, limit.AEAD{Seal: limit.FigureOf(l.seal), Open: limit.FigureOf(l.open), Procs: runtime.GOMAXPROCS(0), Rounds: len(l.seal)}.Line())
		}
	}
	return lines, rows
}
