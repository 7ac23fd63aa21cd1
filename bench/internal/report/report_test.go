package report

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRatio(t *testing.T) {
	tab := &Table{Baseline: "raw"}
	tab.Add(Result{Workload: "bulk", Peer: "raw", Value: 100, Higher: true})
	tab.Add(Result{Workload: "bulk", Peer: "a", Value: 50, Higher: true})
	tab.Add(Result{Workload: "bulk", Peer: "b", Skipped: "missing"})
	tab.Add(Result{Workload: "idle", Peer: "raw", Skipped: "kernel"})
	tab.Add(Result{Workload: "idle", Peer: "a", Value: 400})
	tab.Add(Result{Workload: "idle", Peer: "c", Value: 100})
	tab.Add(Result{Workload: "push", Mode: "1", Peer: "raw", Value: 10})
	tab.Add(Result{Workload: "push", Mode: "2", Peer: "a", Value: 30})
	tab.Add(Result{Workload: "push", Mode: "2", Peer: "raw", Value: 20})
	tests := []struct {
		i        int
		want     float64
		wantBase string
	}{
		{0, 1, "raw"},
		{1, 0.5, "raw"},
		{2, 0, ""},  // skipped: no ratio
		{4, 1, "a"}, // baseline skipped: the first peer that ran
		{5, 0.25, "a"},
		{7, 1.5, "raw"}, // the baseline of the same mode, not of mode "1"
	}
	for _, tt := range tests {
		got, base := tab.Ratio(tab.Results[tt.i])
		if got != tt.want || base != tt.wantBase {
			t.Errorf("Ratio(%+v) = %v, %q; want %v, %q", tab.Results[tt.i], got, base, tt.want, tt.wantBase)
		}
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{6.1e6, "6.10M"},
		{254321, "254k"},
		{2900, "2900"},
		{14.33, "14.3"},
		{0.5, "0.50"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v); got != tt.want {
			t.Errorf("FormatValue(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestPrintAndMarkdown(t *testing.T) {
	tab := &Table{Title: "t", Baseline: "raw TCP"}
	tab.Add(Result{Workload: "rtt", Peer: "raw TCP", Value: 10, Unit: "µs"})
	tab.Add(Result{Workload: "rtt", Peer: "yamux", Value: 24, Unit: "µs", Note: "n"})
	tab.Add(Result{Workload: "rtt", Peer: "x", Skipped: "no lib", Unit: "µs"})
	var txt, md bytes.Buffer
	tab.Print(&txt)
	tab.Markdown(&md)
	for _, want := range []string{"2.40×", "skipped: no lib", "µs ↓", "ratio: result / raw TCP"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text table lacks %q:\n%s", want, txt.String())
		}
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown table lacks %q:\n%s", want, md.String())
		}
	}
	if got := strings.Count(md.String(), "\n| rtt |"); got != 3 {
		t.Errorf("markdown has %d rtt rows, want 3:\n%s", got, md.String())
	}
}

func TestMedian(t *testing.T) {
	hi := func(v float64) Result { return Result{Value: v, Higher: true} }
	lo := func(v float64) Result { return Result{Value: v} }
	tests := []struct {
		name     string
		rounds   []Result
		want     float64
		wantSkip bool
	}{
		{"one", []Result{hi(5)}, 5, false},
		{"odd", []Result{hi(5), hi(1), hi(9)}, 5, false},
		{"even, higher is better: the lower middle", []Result{hi(1), hi(2), hi(3), hi(4)}, 2, false},
		{"even, lower is better: the higher middle", []Result{lo(1), lo(2), lo(3), lo(4)}, 3, false},
		{"a failed round fails all", []Result{hi(1), {Skipped: "failed"}}, 0, true},
		{"none", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Median(tt.rounds)
			if (got.Skipped != "") != tt.wantSkip || got.Value != tt.want {
				t.Fatalf("Median = %+v, want value %v (skipped %v)", got, tt.want, tt.wantSkip)
			}
		})
	}
}
