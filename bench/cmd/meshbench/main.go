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
	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/limit"
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
	child := flag.Bool("relay-child", false, "internal: run the relay of the idle workload")
	flag.Parse()
	if *child {
		return runRelayChild()
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
	ran := runner.Run(t, ws, f.Workload, names, f.Count, func(wi, i, round int) report.Result {
		w, p := workloads[wi], selected[i]
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
	compareWith(t, "relay", "neighbour")
	compareWith(t, "relay+TLS", "neighbour+TLS")
	compareWith(t, "neighbour+TLS", "mux+TLS")
	perRoundTrip(t)
	rows := t.Results
	if runner.Match(f.Workload, "bulk", "rtt") {
		secured := false
		for _, p := range selected {
			secured = secured || p.TLS
		}
		var lines []string
		lines, rows = limits(cfg.win, f.Count, secured, rows)
		t.Preamble = append(t.Preamble, lines...)
	}
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

// limits measures the limits of the machine (raw TCP; if secured, one
// crypto/tls connection and AES-GCM too) and returns the lines that say
// them, and rows with the limits' round trip and bulk added as results of
// the peers rawTCP and tlsLimit, for the goals and the charts.
func limits(w harness.Window, count int, secured bool, rows []report.Result) ([]string, []report.Result) {
	rows = append([]report.Result(nil), rows...)
	add := func(peer string, rtt, bulk limit.Figure) {
		rows = append(rows,
			report.Result{Workload: "rtt", Peer: peer, Value: rtt.Median, Unit: "µs"},
			report.Result{Workload: "bulk", Peer: peer, Value: bulk.Median, Unit: "MB/s", Higher: true})
	}
	var lines []string
	fmt.Fprintln(os.Stderr, "meshbench: measuring the limits: raw TCP ...")
	if m, err := limit.Measure(w, count); err != nil {
		lines = append(lines, "Limits of raw TCP: not measured ("+err.Error()+").")
	} else {
		lines = append(lines, m.Line())
		add(rawTCP, m.RTT, m.Bulk)
	}
	if !secured {
		return lines, rows
	}
	fmt.Fprintln(os.Stderr, "meshbench: measuring the limits: one crypto/tls connection ...")
	if m, err := limit.MeasureTLS(w, count); err != nil {
		lines = append(lines, "Limits of one crypto/tls connection: not measured ("+err.Error()+").")
	} else {
		lines = append(lines, m.Line())
		add(tlsLimit, m.RTT, m.Bulk)
	}
	fmt.Fprintln(os.Stderr, "meshbench: measuring the limits: AES-GCM ...")
	if m, err := limit.MeasureAEAD(w, count); err != nil {
		lines = append(lines, "AES-GCM: not measured ("+err.Error()+").")
	} else {
		lines = append(lines, m.Line())
	}
	return lines, rows
}

// rawTCP is the peer name of raw TCP's limits among the rows.
const rawTCP = "raw TCP"

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
