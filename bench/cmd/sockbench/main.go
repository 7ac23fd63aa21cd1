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

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/report"
	"github.com/plexusnet/plexus/bench/internal/sockpeer"
)

func main() {
	var (
		duration = flag.Duration("duration", 2*time.Second, "measured time of each workload for each peer")
		warmup   = flag.Duration("warmup", 500*time.Millisecond, "warm-up before each measurement (not counted)")
		workload = flag.String("workload", "", "comma-separated workloads to run (pushpull,reqrep,pubsub); empty: all")
		peers    = flag.String("peers", "", "comma-separated peers to run (zmq,nng,mangos,plexus); empty: all")
		subs     = flag.Int("subs", 100, "pubsub: number of subscribers")
		markdown = flag.Bool("markdown", false, "print the table as Markdown (for docs/performance.md)")
		count    = flag.Int("count", 1, "rounds of every workload (peers take turns in each round); the table shows each peer's median")
		child    = flag.String("child", "", "internal: run one socket of a two-process workload (e.g. push)")
		childURL = flag.String("url", "", "internal: the URL the -child socket dials")
	)
	flag.Parse()
	if *child != "" {
		os.Exit(runChild(*child, *peers, *childURL))
	}
	var run []sockpeer.Peer
	for _, p := range sockpeer.All() {
		if match(*peers, peerKeys(p.Name)...) {
			run = append(run, p)
		}
	}
	if len(run) == 0 {
		fmt.Fprintf(os.Stderr, "sockbench: no peer matches -peers %q\n", *peers)
		os.Exit(2)
	}
	for _, p := range run {
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
		rounds := make([][]report.Result, len(run))
		for round := range max(*count, 1) {
			for i, p := range run {
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
		for i, p := range run {
			r := report.Median(rounds[i])
			r.Workload, r.Peer, r.Mode = w.name, p.Name, w.mode(cfg)
			t.Add(r)
		}
	}
	if ran == 0 {
		fmt.Fprintf(os.Stderr, "sockbench: no workload matches -workload %q\n", *workload)
		os.Exit(2)
	}
	if *markdown {
		t.Markdown(os.Stdout)
	} else {
		t.Print(os.Stdout)
	}
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
