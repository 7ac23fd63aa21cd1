// Command muxbench runs the stream-multiplexer workloads (bulk, msgs, rtt,
// open, idle) for raw TCP, hashicorp/yamux, xtaci/smux and plexus mux in one
// run, over loopback TCP with client and server in this process, and prints
// one table with absolute numbers and ratios to raw TCP.
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
	"github.com/plexusnet/plexus/bench/internal/muxpeer"
	"github.com/plexusnet/plexus/bench/internal/report"
	"github.com/plexusnet/plexus/bench/internal/runner"
)

func main() { os.Exit(command()) }

// command is the whole program; it returns the exit code, so that deferred calls run.
func command() int {
	var f runner.Flags
	f.Define(flag.CommandLine, "bulk,msgs,rtt,open,idle", "raw,yamux,smux,plexus")
	streams := flag.Int("streams", 10000, "idle workload: streams held open at once")
	flag.Parse()
	cfg := config{win: f.Window, streams: *streams}
	explicit := f.Peers != ""
	if f.CPUProfile != "" {
		stop, err := runner.StartCPUProfile(f.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "muxbench:", err)
			return 1
		}
		defer stop()
	}
	var selected []muxpeer.Peer
	var names []string
	for _, p := range muxpeer.All() {
		if runner.Match(f.Peers, peerKey(p.Name)) {
			selected = append(selected, p)
			names = append(names, p.Name)
		}
	}
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "muxbench: no peer matches -peers %q\n", f.Peers)
		return 2
	}
	for _, p := range selected {
		if p.Unavailable != "" {
			fmt.Fprintf(os.Stderr, "muxbench: peer %s missing: %s; going on without it\n", p.Name, p.Unavailable)
		}
	}
	t := &report.Table{
		Title:    fmt.Sprintf("muxbench: loopback TCP, %s per workload after %s warm-up, GOMAXPROCS=%d, %s", cfg.win.Duration, cfg.win.Warmup, runtime.GOMAXPROCS(0), runtime.Version()),
		Baseline: "raw TCP",
	}
	ws := make([]runner.Workload, len(workloads))
	for i, w := range workloads {
		ws[i] = runner.Workload{Name: w.name, Unit: w.unit, Higher: w.higher, Mode: w.mode(cfg)}
	}
	ran := runner.Run(t, ws, f.Workload, names, f.Count, func(wi, i, round int) report.Result {
		w, p := workloads[wi], selected[i]
		switch {
		case p.Unavailable != "":
			return report.Result{Skipped: p.Unavailable}
		case w.name == "idle" && p.NoIdle != "":
			return report.Result{Skipped: p.NoIdle}
		case w.name == "idle" && cfg.streams > 100000 && p.Name != "plexus" && !explicit:
			return report.Result{Skipped: fmt.Sprintf("not run at %d streams unless named in -peers", cfg.streams)}
		}
		fmt.Fprintf(os.Stderr, "muxbench: %s / %s (round %d) ...\n", w.name, p.Name, round+1)
		r := w.run(p, cfg)
		// Let this peer's goroutines and connections go before the next one starts.
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		return r
	})
	if ran == 0 {
		fmt.Fprintf(os.Stderr, "muxbench: no workload matches -workload %q\n", f.Workload)
		return 2
	}
	t.Preamble = append(t.Preamble, limits(t, f.Window, f.Count))
	if f.Charts != "" {
		err := runner.Charts(t, f.Charts, "muxbench", func(g chart.Group) (chart.Limit, string) {
			for _, r := range g.Results {
				if r.Peer == t.Baseline && r.Skipped == "" {
					label := "raw TCP"
					if size := bestAt(r.Note); size != "" {
						label += ", " + size + " writes"
					}
					return chart.Limit{Label: label, Value: r.Value}, t.Baseline
				}
			}
			return chart.Limit{}, t.Baseline
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "muxbench: charts:", err)
			return 1
		}
	}
	runner.Print(t, f.Markdown)
	return 0
}

// limits is the line above the table: raw TCP's round trip and best bulk,
// from the table's own raw TCP rows where it has them, else measured now.
func limits(t *report.Table, w harness.Window, count int) string {
	var rtt, bulk limit.Figure
	size := 0
	for _, r := range t.Results {
		if r.Peer != t.Baseline || r.Skipped != "" {
			continue
		}
		f := limit.Figure{Median: r.Value, Lo: r.Value, Hi: r.Value}
		if r.Hi > 0 {
			f.Lo, f.Hi = r.Lo, r.Hi
		}
		switch r.Workload {
		case "rtt":
			rtt = f
		case "bulk":
			bulk = f
			for _, n := range bulkSizes {
				if limit.SizeName(n) == bestAt(r.Note) {
					size = n
				}
			}
		}
	}
	if rtt.Median > 0 && bulk.Median > 0 {
		return limit.Line(rtt, bulk, size, max(count, 1))
	}
	fmt.Fprintln(os.Stderr, "muxbench: measuring the limits of raw TCP for the line above the table ...")
	m, err := limit.Measure(w, count)
	if err != nil {
		return "Limits of this machine: not measured (" + err.Error() + ")."
	}
	return m.Line()
}

// bestAt returns the size a bulk result's note names as its best ("best at 1 MiB").
func bestAt(note string) string {
	_, s, ok := strings.Cut(note, "best at ")
	if !ok {
		return ""
	}
	s, _, _ = strings.Cut(s, ";")
	return s
}

func peerKey(name string) string {
	return strings.Fields(strings.ToLower(name))[0] // "raw TCP" -> "raw"
}
