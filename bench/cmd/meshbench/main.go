// Command meshbench runs the mesh workloads (bulk, msgs, rtt, connreq,
// open, firstdial, idle) over a plain mux session and over mesh paths (to a
// neighbour, through one relay), each plain and with TLS, in one run, over
// loopback TCP with every node in this process (the relay of the idle
// workload in a child process). It prints the limits of the machine
// measured in the same run (raw TCP, one crypto/tls connection, AES-GCM),
// one table with absolute numbers, ratios to the plain mux session and in
// the notes the ratios the goals compare, and then the goals of issue 16
// that the run's rows allow, met or not.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/plexusnet/plexus/bench/internal/chart"
	"github.com/plexusnet/plexus/bench/internal/meshpeer"
	"github.com/plexusnet/plexus/bench/internal/report"
	"github.com/plexusnet/plexus/bench/internal/runner"
)

func main() { os.Exit(command()) }

// command is the whole program; it returns the exit code, so that deferred calls run.
func command() int {
	var f runner.Flags
	var wnames, pnames []string
	for _, w := range workloads {
		wnames = append(wnames, w.name)
	}
	for _, p := range meshpeer.All() {
		pnames = append(pnames, strings.ToLower(p.Name))
	}
	f.Define(flag.CommandLine, strings.Join(wnames, ","), strings.Join(pnames, ","))
	ends := flag.Int("ends", 16, "idle workload: client nodes, and server nodes; every client has a circuit to every server")
	var child relayChild
	flag.Var(&child, "relay-child", "internal: run the relay of the idle workload (=libp2p: a go-libp2p relay)")
	flag.Parse()
	switch child {
	case "mesh":
		return runRelayChild()
	case "libp2p":
		return runLibp2pRelayChild()
	}
	cfg := config{win: f.Window, ends: *ends}
	if f.CPUProfile != "" {
		stop, err := runner.StartCPUProfile(f.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshbench:", err)
			return 1
		}
		defer stop()
	}
	var selected []meshpeer.Path
	var names []string
	for _, p := range meshpeer.All() {
		if p.Extra && f.Peers == "" {
			continue // run only when named
		}
		if runner.Match(f.Peers, strings.ToLower(p.Name)) {
			selected = append(selected, p)
			names = append(names, p.Name)
		}
	}
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "meshbench: no path matches -peers %q\n", f.Peers)
		return 2
	}
	t := &report.Table{
		Title:    fmt.Sprintf("meshbench: loopback TCP, %s per workload after %s warm-up, GOMAXPROCS=%d, %s", cfg.win.Duration, cfg.win.Warmup, runtime.GOMAXPROCS(0), runtime.Version()),
		Baseline: "mux",
	}
	ws := make([]runner.Workload, len(workloads))
	for i, w := range workloads {
		ws[i] = runner.Workload{Name: w.name, Unit: w.unit, Higher: w.higher, Mode: w.mode(cfg)}
	}
	// The limits take their turns after the paths, in the rounds of bulk and rtt.
	lim := &limits{win: cfg.win}
	for _, p := range selected {
		lim.secured = lim.secured || p.TLS
	}
	names = append(names, lim.peers()...)
	ran := runner.Run(t, ws, f.Workload, names, f.Count, func(wi, i, round int) report.Result {
		w := workloads[wi]
		if i >= len(selected) {
			if w.name == "bulk" || w.name == "rtt" {
				fmt.Fprintf(os.Stderr, "meshbench: %s / limit %s (round %d) ...\n", w.name, names[i], round+1)
			}
			return lim.run(names[i], w.name)
		}
		p := selected[i]
		if why := w.skip(p); why != "" {
			return report.Result{Skipped: why}
		}
		fmt.Fprintf(os.Stderr, "meshbench: %s / %s (round %d) ...\n", w.name, p.Name, round+1)
		r := w.run(p, cfg)
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		return r
	})
	if ran == 0 {
		fmt.Fprintf(os.Stderr, "meshbench: no workload matches -workload %q\n", f.Workload)
		return 2
	}
	lines, lims := lim.take(t, f.Count)
	t.Preamble = append(t.Preamble, lines...)
	compareWith(t, "relay", "neighbour")
	compareWith(t, "relay+TLS", "neighbour+TLS")
	compareWith(t, "neighbour+TLS", "mux+TLS")
	compareWith(t, "libp2p-relay", "libp2p")
	perRoundTrip(t)
	rows := append(append([]report.Result(nil), t.Results...), lims...) // what the goals and the charts read
	if f.Charts != "" {
		if err := runner.ChartsOf(t, f.Charts, "meshbench", chartLimit(rows), notLibp2p); err != nil {
			fmt.Fprintln(os.Stderr, "meshbench: charts:", err)
			return 1
		}
	}
	runner.Print(t, f.Markdown)
	printGoals(os.Stdout, evaluate(goals, rows), f.Count, f.Markdown)
	return 0
}

// chartLimit draws raw TCP's round trip and bulk, from rows, as the line
// of the rtt and bulk charts; the other charts have none.
func chartLimit(rows []report.Result) func(chart.Group) (chart.Limit, string) {
	return func(g chart.Group) (chart.Limit, string) {
		for _, r := range rows {
			if r.Peer == rawTCP && r.Workload == g.Workload && r.Value > 0 {
				return chart.Limit{Label: "raw TCP over loopback", Value: r.Value}, ""
			}
		}
		return chart.Limit{}, ""
	}
}

// notLibp2p takes every path but go-libp2p's: the bars drawn in plexus's colour.
func notLibp2p(peer string) bool { return !strings.HasPrefix(peer, "libp2p") }

// perRoundTrip adds to the notes of the connreq results the ratio to the
// same path's round trip: a connection per request is at best one.
func perRoundTrip(t *report.Table) {
	for i, r := range t.Results {
		if r.Workload != "connreq" || r.Skipped != "" {
			continue
		}
		for _, b := range t.Results {
			if b.Workload == "rtt" && b.Peer == r.Peer && b.Skipped == "" && b.Value > 0 {
				t.Results[i].Note = note(fmt.Sprintf("%.2f× its round trip (%s µs)", r.Value/b.Value, report.FormatValue(b.Value)), r.Note)
			}
		}
	}
}

// compareWith adds to the notes of the results of peer the ratio to the
// result of base in the same workload: the goals compare a relayed stream
// with a direct one, and secured paths with secured ones, not with plain mux.
func compareWith(t *report.Table, peer, base string) {
	for i, r := range t.Results {
		if r.Skipped != "" || r.Peer != peer {
			continue
		}
		for _, b := range t.Results {
			if b.Workload == r.Workload && b.Mode == r.Mode && b.Peer == base && b.Skipped == "" && b.Value > 0 {
				t.Results[i].Note = note(fmt.Sprintf("%.2f× %s", r.Value/b.Value, base), r.Note)
			}
		}
	}
}
