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

// TestRounds: every peer takes a turn in each round, and the table gets
// each peer's median with the workload's name, mode, unit and direction.
func TestRounds(t *testing.T) {
	tab := &report.Table{}
	w := Workload{Name: "rtt", Unit: "µs", Higher: false, Mode: "32 B"}
	var calls []int
	Rounds(tab, w, []string{"a", "b"}, 3, func(i, round int) report.Result {
		calls = append(calls, i)
		return report.Result{Value: float64(10*(i+1) + round)}
	})
	if want := []int{0, 1, 0, 1, 0, 1}; !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	if len(tab.Results) != 2 {
		t.Fatalf("%d results", len(tab.Results))
	}
	for i, r := range tab.Results {
		if r.Workload != "rtt" || r.Peer != []string{"a", "b"}[i] || r.Mode != "32 B" || r.Unit != "µs" || r.Higher {
			t.Errorf("result %d: %+v", i, r)
		}
		if want := float64(10*(i+1) + 1); r.Value != want {
			t.Errorf("result %d: median %v, want %v", i, r.Value, want)
		}
	}
	// Zero rounds is one round.
	tab = &report.Table{}
	n := 0
	Rounds(tab, w, []string{"a"}, 0, func(int, int) report.Result { n++; return report.Result{Value: 1} })
	if n != 1 || len(tab.Results) != 1 {
		t.Fatalf("count 0: %d runs, %d results", n, len(tab.Results))
	}
}
