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
	"runtime/pprof"
	"strings"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/muxpeer"
	"github.com/plexusnet/plexus/bench/internal/report"
)

func main() { os.Exit(command()) }

// command is the whole program; it returns the exit code, so that deferred calls run.
func command() int {
	var (
		duration = flag.Duration("duration", 2*time.Second, "measured time of each workload for each peer")
		warmup   = flag.Duration("warmup", 500*time.Millisecond, "warm-up before each measurement (not counted)")
		workload = flag.String("workload", "", "comma-separated workloads to run (bulk,msgs,rtt,open,idle); empty: all")
		peers    = flag.String("peers", "", "comma-separated peers to run (raw,yamux,smux,plexus); empty: all")
		streams  = flag.Int("streams", 10000, "idle workload: streams held open at once")
		markdown = flag.Bool("markdown", false, "print the table as Markdown (for docs/performance.md)")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (use -peers and -workload to narrow it)")
		count    = flag.Int("count", 1, "rounds of every workload (peers take turns in each round); the table shows each peer's median")
	)
	flag.Parse()
	cfg := config{
		win:     harness.Window{Warmup: *warmup, Duration: *duration},
		streams: *streams,
	}
	explicit := *peers != ""
	if *cpuprof != "" {
		stop, err := startCPUProfile(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "muxbench:", err)
			return 1
		}
		defer stop()
	}
	var selected []muxpeer.Peer
	for _, p := range muxpeer.All() {
		if match(*peers, peerKey(p.Name)) {
			selected = append(selected, p)
		}
	}
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "muxbench: no peer matches -peers %q\n", *peers)
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
	ran := 0
	for _, w := range workloads {
		if !match(*workload, w.name) {
			continue
		}
		ran++
		rounds := make([][]report.Result, len(selected))
		for round := range max(*count, 1) {
			for i, p := range selected {
				var r report.Result
				switch {
				case p.Unavailable != "":
					r = report.Result{Skipped: p.Unavailable}
				case w.name == "idle" && p.NoIdle != "":
					r = report.Result{Skipped: p.NoIdle}
				case w.name == "idle" && cfg.streams > 100000 && p.Name != "plexus" && !explicit:
					r = report.Result{Skipped: fmt.Sprintf("not run at %d streams unless named in -peers", cfg.streams)}
				default:
					fmt.Fprintf(os.Stderr, "muxbench: %s / %s (round %d) ...\n", w.name, p.Name, round+1)
					r = w.run(p, cfg)
					// Let this peer's goroutines and connections go before the next one starts.
					runtime.GC()
					time.Sleep(50 * time.Millisecond)
				}
				r.Unit, r.Higher = w.unit, w.higher
				rounds[i] = append(rounds[i], r)
			}
		}
		for i, p := range selected {
			r := report.Median(rounds[i])
			r.Workload, r.Peer, r.Mode = w.name, p.Name, w.mode(cfg)
			t.Add(r)
		}
	}
	if ran == 0 {
		fmt.Fprintf(os.Stderr, "muxbench: no workload matches -workload %q\n", *workload)
		return 2
	}
	if *markdown {
		t.Markdown(os.Stdout)
	} else {
		t.Print(os.Stdout)
	}
	return 0
}

func peerKey(name string) string {
	return strings.Fields(strings.ToLower(name))[0] // "raw TCP" -> "raw"
}

func match(filter, name string) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		if strings.EqualFold(strings.TrimSpace(f), name) {
			return true
		}
	}
	return false
}

// startCPUProfile starts a CPU profile written to path; the returned function ends it.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
