// Command meshbench runs the mesh workloads (bulk, rtt, open, firstdial,
// idle) over a plain mux session and over mesh paths (to a neighbour,
// through one relay, through one relay with TLS) in one run, over loopback
// TCP with every node in this process (the relay of the idle workload in a
// child process), and prints one table with absolute numbers, ratios to the
// plain mux session, and in the notes the ratios that the goals of issue 7
// name.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/plexusnet/plexus/bench/internal/meshpeer"
	"github.com/plexusnet/plexus/bench/internal/report"
	"github.com/plexusnet/plexus/bench/internal/runner"
)

func main() { os.Exit(command()) }

// command is the whole program; it returns the exit code, so that deferred calls run.
func command() int {
	var f runner.Flags
	f.Define(flag.CommandLine, "bulk,rtt,open,firstdial,idle", "mux,neighbour,relay,relay+tls")
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
	compareWith(t, "neighbour", "relay", "relay+TLS")
	runner.Print(t, f.Markdown)
	return 0
}

// compareWith adds to the notes of the results of others the ratio to the
// result of base in the same workload: the goals compare a relayed stream
// with a direct one, not with plain mux.
func compareWith(t *report.Table, base string, others ...string) {
	for i, r := range t.Results {
		if r.Skipped != "" || !contains(others, r.Peer) {
			continue
		}
		for _, b := range t.Results {
			if b.Workload == r.Workload && b.Mode == r.Mode && b.Peer == base && b.Skipped == "" && b.Value > 0 {
				t.Results[i].Note = fmt.Sprintf("%.2f× %s; %s", r.Value/b.Value, base, r.Note)
			}
		}
	}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
