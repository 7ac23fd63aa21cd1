package runner

import (
	"flag"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/bench/internal/report"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		filter string
		names  []string
		want   bool
	}{
		{"", []string{"raw"}, true},
		{"raw", []string{"raw"}, true},
		{"RAW", []string{"raw"}, true},
		{"yamux, raw", []string{"raw"}, true},
		{"zmq", []string{"libzmq", "zmq"}, true},
		{"smux", []string{"raw"}, false},
		{"ra", []string{"raw"}, false},
		{"raw", nil, false},
	} {
		if got := Match(tc.filter, tc.names...); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.filter, tc.names, got, tc.want)
		}
	}
}

func TestDefine(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f.Define(fs, "a,b", "x,y")
	if f.Window.Duration != 2*time.Second || f.Window.Warmup != 500*time.Millisecond || f.Count != 1 {
		t.Fatalf("defaults %+v", f)
	}
	if err := fs.Parse([]string{"-duration", "1s", "-peers", "x", "-workload", "b", "-count", "3", "-markdown"}); err != nil {
		t.Fatal(err)
	}
	if f.Window.Duration != time.Second || f.Peers != "x" || f.Workload != "b" || f.Count != 3 || !f.Markdown {
		t.Fatalf("parsed %+v", f)
	}
}

// TestRun: the workloads the filter takes run in order; every peer takes
// a turn in each round; the table gets each peer's median with the
// workload's name, mode, unit and direction.
func TestRun(t *testing.T) {
	ws := []Workload{
		{Name: "bulk", Unit: "MB/s", Higher: true, Mode: "64 KiB"},
		{Name: "rtt", Unit: "µs", Higher: false, Mode: "32 B"},
		{Name: "open", Unit: "streams/s", Higher: true, Mode: "32 B"},
	}
	tab := &report.Table{}
	var calls [][2]int
	ran := Run(tab, ws, "rtt,open", []string{"a", "b"}, 3, func(w, i, round int) report.Result {
		calls = append(calls, [2]int{w, i})
		return report.Result{Value: float64(10*(i+1) + round)}
	})
	if ran != 2 {
		t.Fatalf("ran %d workloads, want 2", ran)
	}
	want := [][2]int{{1, 0}, {1, 1}, {1, 0}, {1, 1}, {1, 0}, {1, 1}, {2, 0}, {2, 1}, {2, 0}, {2, 1}, {2, 0}, {2, 1}}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	if len(tab.Results) != 4 {
		t.Fatalf("%d results", len(tab.Results))
	}
	for k, r := range tab.Results {
		w, peer := ws[1+k/2], []string{"a", "b"}[k%2]
		if r.Workload != w.Name || r.Peer != peer || r.Mode != w.Mode || r.Unit != w.Unit || r.Higher != w.Higher {
			t.Errorf("result %d: %+v", k, r)
		}
		if want := float64(10*(k%2+1) + 1); r.Value != want {
			t.Errorf("result %d: median %v, want %v", k, r.Value, want)
		}
	}
	// Zero rounds is one round; a filter that takes nothing runs nothing.
	n := 0
	count := func(int, int, int) report.Result { n++; return report.Result{Value: 1} }
	if ran := Run(&report.Table{}, ws, "bulk", []string{"a"}, 0, count); ran != 1 || n != 1 {
		t.Fatalf("count 0: ran %d, %d runs", ran, n)
	}
	if ran := Run(&report.Table{}, ws, "none", []string{"a"}, 1, count); ran != 0 || n != 1 {
		t.Fatalf("no match: ran %d, %d runs", ran, n)
	}
}
