// Command sockbench runs the message-socket workloads (push/pull, req/rep,
// pub/sub) for libzmq, NNG, mangos v3 and plexus socket in one run and prints
// one table with absolute numbers and ratios to libzmq.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/plexusnet/plexus/bench/internal/chart"
	"github.com/plexusnet/plexus/bench/internal/limit"
	"github.com/plexusnet/plexus/bench/internal/report"
	"github.com/plexusnet/plexus/bench/internal/runner"
	"github.com/plexusnet/plexus/bench/internal/sockpeer"
)

func main() { os.Exit(command()) }

// command is the whole program; it returns the exit code, so that deferred calls run.
func command() int {
	var f runner.Flags
	f.Define(flag.CommandLine, "pushpull,reqrep,pubsub", "zmq,nng,mangos,plexus")
	var (
		subs     = flag.Int("subs", 100, "pubsub: number of subscribers")
		child    = flag.String("child", "", "internal: run one socket of a two-process workload (e.g. push)")
		childURL = flag.String("url", "", "internal: the URL the -child socket dials")
	)
	flag.Parse()
	if *child != "" {
		return runChild(*child, f.Peers, *childURL)
	}
	if f.CPUProfile != "" {
		stop, err := runner.StartCPUProfile(f.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sockbench:", err)
			return 1
		}
		defer stop()
	}
	var selected []sockpeer.Peer
	var names []string
	for _, p := range sockpeer.All() {
		if runner.Match(f.Peers, peerKeys(p.Name)...) {
			selected = append(selected, p)
			names = append(names, p.Name)
		}
	}
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "sockbench: no peer matches -peers %q\n", f.Peers)
		return 2
	}
	for _, p := range selected {
		if p.Unavailable != "" {
			fmt.Fprintf(os.Stderr, "sockbench: peer %s missing: %s; going on without it\n", p.Name, p.Unavailable)
		}
	}
	cfg := config{win: f.Window, subs: *subs}
	t := &report.Table{
		Title:    fmt.Sprintf("sockbench: %s per workload after %s warm-up, GOMAXPROCS=%d, %s", cfg.win.Duration, cfg.win.Warmup, runtime.GOMAXPROCS(0), runtime.Version()),
		Baseline: sockpeer.ZMQ().Name,
	}
	ws := make([]runner.Workload, len(workloads))
	for i, w := range workloads {
		ws[i] = runner.Workload{Name: w.name, Unit: w.unit, Higher: w.higher, Mode: w.mode(cfg)}
	}
	// The limits first, so that they are measured on the same machine in
	// the same run as the table; the rounds of the workloads follow.
	var machine limit.Machine
	if f.Workload == "" || runner.Match(f.Workload, "pushpull", "reqrep") {
		fmt.Fprintln(os.Stderr, "sockbench: measuring the limits of raw TCP ...")
		m, err := limit.Measure(cfg.win, f.Count)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sockbench: limits:", err)
		} else {
			machine = m
			t.Preamble = append(t.Preamble, m.Line())
		}
	}
	ran := runner.Run(t, ws, f.Workload, names, f.Count, func(wi, i, round int) report.Result {
		w, p := workloads[wi], selected[i]
		if p.Unavailable != "" {
			return report.Result{Skipped: p.Unavailable}
		}
		fmt.Fprintf(os.Stderr, "sockbench: %s (%s) / %s (round %d) ...\n", w.name, w.mode(cfg), p.Name, round+1)
		r := w.run(p, cfg)
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		return r
	})
	if ran == 0 {
		fmt.Fprintf(os.Stderr, "sockbench: no workload matches -workload %q\n", f.Workload)
		return 2
	}
	if f.Charts != "" {
		err := runner.Charts(t, f.Charts, "sockbench", func(g chart.Group) (chart.Limit, string) {
			switch g.Workload {
			case "reqrep":
				return chart.Limit{Label: "raw TCP 32 B round trip", Value: machine.RTT.Median}, ""
			case "pushpull":
				return chart.Limit{Label: "raw TCP bulk ÷ 64 B", Value: machine.Bulk.Median * 1e6 / pushSize}, ""
			}
			return chart.Limit{}, "" // pubsub is inproc: no TCP limit
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "sockbench: charts:", err)
			return 1
		}
	}
	runner.Print(t, f.Markdown)
	return 0
}

// peerKeys returns the names a -peers filter may use for a peer.
func peerKeys(name string) []string {
	k := strings.Fields(strings.ToLower(name))[0] // "libzmq 4.3.4" -> "libzmq"
	if k == "libzmq" {
		return []string{k, "zmq"}
	}
	return []string{k}
}
