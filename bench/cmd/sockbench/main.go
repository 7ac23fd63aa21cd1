// Command sockbench runs the message-socket workloads (push/pull, req/rep,
// pub/sub) for libzmq, NNG, mangos v3 and plexus socket in one run and prints
// one table with absolute numbers and ratios to libzmq.
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
	"github.com/plexusnet/plexus/bench/internal/report"
	"github.com/plexusnet/plexus/bench/internal/sockpeer"
)

func main() { os.Exit(command()) }

// command is the whole program; it returns the exit code, so that deferred calls run.
func command() int {
	var (
		duration = flag.Duration("duration", 2*time.Second, "measured time of each workload for each peer")
		warmup   = flag.Duration("warmup", 500*time.Millisecond, "warm-up before each measurement (not counted)")
		workload = flag.String("workload", "", "comma-separated workloads to run (pushpull,reqrep,pubsub); empty: all")
		peers    = flag.String("peers", "", "comma-separated peers to run (zmq,nng,mangos,plexus); empty: all")
		subs     = flag.Int("subs", 100, "pubsub: number of subscribers")
		markdown = flag.Bool("markdown", false, "print the table as Markdown (for docs/performance.md)")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (use -peers and -workload to narrow it)")
		count    = flag.Int("count", 1, "rounds of every workload (peers take turns in each round); the table shows each peer's median")
		child    = flag.String("child", "", "internal: run one socket of a two-process workload (e.g. push)")
		childURL = flag.String("url", "", "internal: the URL the -child socket dials")
	)
	flag.Parse()
	if *child != "" {
		return runChild(*child, *peers, *childURL)
	}
	if *cpuprof != "" {
		stop, err := startCPUProfile(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sockbench:", err)
			return 1
		}
		defer stop()
	}
	var selected []sockpeer.Peer
	for _, p := range sockpeer.All() {
		if match(*peers, peerKeys(p.Name)...) {
			selected = append(selected, p)
		}
	}
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "sockbench: no peer matches -peers %q\n", *peers)
		return 2
	}
	for _, p := range selected {
		if p.Unavailable != "" {
			fmt.Fprintf(os.Stderr, "sockbench: peer %s missing: %s; going on without it\n", p.Name, p.Unavailable)
		}
	}
	cfg := config{win: harness.Window{Warmup: *warmup, Duration: *duration}, subs: *subs}
	t := &report.Table{
		Title:    fmt.Sprintf("sockbench: %s per workload after %s warm-up, GOMAXPROCS=%d, %s", cfg.win.Duration, cfg.win.Warmup, runtime.GOMAXPROCS(0), runtime.Version()),
		Baseline: sockpeer.ZMQ().Name,
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
				if p.Unavailable != "" {
					r = report.Result{Skipped: p.Unavailable}
				} else {
					fmt.Fprintf(os.Stderr, "sockbench: %s (%s) / %s (round %d) ...\n", w.name, w.mode(cfg), p.Name, round+1)
					r = w.run(p, cfg)
					runtime.GC()
					time.Sleep(100 * time.Millisecond)
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
		fmt.Fprintf(os.Stderr, "sockbench: no workload matches -workload %q\n", *workload)
		return 2
	}
	if *markdown {
		t.Markdown(os.Stdout)
	} else {
		t.Print(os.Stdout)
	}
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

func match(filter string, names ...string) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(f), n) {
				return true
			}
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
