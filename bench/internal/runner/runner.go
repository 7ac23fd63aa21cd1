// Package runner is what the bench commands (muxbench, sockbench) share
// around their workloads: the common flags, the -peers and -workload
// filters, the CPU profile, and the rounds in which every peer takes its
// turn at each workload before the table gets each peer's median.
package runner

import (
	"flag"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/plexusnet/plexus/bench/internal/chart"
	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/report"
)

// Flags are the flags every bench command has.
type Flags struct {
	Window     harness.Window // -warmup and -duration
	Workload   string         // -workload: comma-separated names; empty: all
	Peers      string         // -peers: comma-separated names; empty: all
	Markdown   bool           // -markdown: print the table as Markdown
	CPUProfile string         // -cpuprofile: write a CPU profile of the whole run there
	Count      int            // -count: rounds of every workload
	Charts     string         // -charts: write an SVG chart per workload into this folder
}

// Define defines the flags on fs; workloads and peers name what the
// -workload and -peers filters take, for the help text.
func (f *Flags) Define(fs *flag.FlagSet, workloads, peers string) {
	fs.DurationVar(&f.Window.Duration, "duration", 2*time.Second, "measured time of each workload for each peer")
	fs.DurationVar(&f.Window.Warmup, "warmup", 500*time.Millisecond, "warm-up before each measurement (not counted)")
	fs.StringVar(&f.Workload, "workload", "", "comma-separated workloads to run ("+workloads+"); empty: all")
	fs.StringVar(&f.Peers, "peers", "", "comma-separated peers to run ("+peers+"); empty: all")
	fs.BoolVar(&f.Markdown, "markdown", false, "print the table as Markdown (for docs/performance.md)")
	fs.StringVar(&f.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (use -peers and -workload to narrow it)")
	fs.StringVar(&f.Charts, "charts", "", "write an SVG chart of each workload into this folder (-markdown links them as <folder name>/<file>, for a Markdown file beside the folder)")
	fs.IntVar(&f.Count, "count", 1, "rounds of every workload (peers take turns in each round); the table shows each peer's median")
}

// Match reports whether a comma-separated filter takes any of names
// (case does not matter); the empty filter takes everything.
func Match(filter string, names ...string) bool {
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

// StartCPUProfile starts a CPU profile written to path; the returned function ends it.
func StartCPUProfile(path string) (func(), error) {
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

// Workload is how the table shows a workload.
type Workload struct {
	Name   string
	Unit   string
	Higher bool   // higher is better
	Mode   string // what exactly is measured
}

// Run runs every workload of ws that filter (a -workload value) takes,
// for each of peers (their names in the table), count rounds (at least
// one) in which the peers take turns, and adds each peer's median to t.
// run(w, i, round) returns the result of peers[i] at ws[w] in a round;
// Run sets its unit and direction from the workload. Run returns how many
// workloads the filter took.
func Run(t *report.Table, ws []Workload, filter string, peers []string, count int, run func(w, i, round int) report.Result) int {
	ran := 0
	for wi, w := range ws {
		if !Match(filter, w.Name) {
			continue
		}
		ran++
		rounds := make([][]report.Result, len(peers))
		for round := range max(count, 1) {
			for i := range peers {
				r := run(wi, i, round)
				r.Unit, r.Higher = w.Unit, w.Higher
				rounds[i] = append(rounds[i], r)
			}
		}
		for i, name := range peers {
			r := report.Median(rounds[i])
			r.Workload, r.Peer, r.Mode = w.Name, name, w.Mode
			t.Add(r)
		}
	}
	return ran
}

// Charts draws each workload of t into dir (see package chart); limit
// returns the line of a workload and mode, and the peer whose bar it
// replaces (empty: none). The charts are added to t.Charts as Markdown
// beside dir links them.
func Charts(t *report.Table, dir, prefix string, limit func(g chart.Group) (chart.Limit, string)) error {
	return ChartsOf(t, dir, prefix, limit, nil)
}

// ChartsOf is Charts with the bars that ours takes drawn in plexus's
// colour (nil: the peers whose name starts with "plexus").
func ChartsOf(t *report.Table, dir, prefix string, limit func(g chart.Group) (chart.Limit, string), ours func(peer string) bool) error {
	gs := chart.Groups(t)
	for i := range gs {
		gs[i].Ours = ours
	}
	modes := map[string]int{} // modes of each workload: the file names need the mode only when there are several
	for _, g := range gs {
		modes[g.Workload]++
	}
	for _, g := range gs {
		l, skip := limit(g)
		title := g.Workload
		if g.Mode != "" {
			title += ": " + g.Mode
		}
		name := chart.FileName(prefix, g, modes[g.Workload] > 1)
		if _, err := chart.Write(dir, name, title, g, skip, l); err != nil {
			return err
		}
		t.Charts = append(t.Charts, filepath.ToSlash(filepath.Join(filepath.Base(dir), name+".svg")))
	}
	return nil
}

// Print writes t to standard output, as Markdown when markdown is set.
func Print(t *report.Table, markdown bool) {
	if markdown {
		t.Markdown(os.Stdout)
	} else {
		t.Print(os.Stdout)
	}
}
