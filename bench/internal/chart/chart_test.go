package chart

import (
	"os"
	"strings"
	"testing"

	"github.com/plexusnet/plexus/bench/internal/report"
)

func TestWrite(t *testing.T) {
	tab := &report.Table{Baseline: "raw TCP"}
	tab.Add(report.Result{Workload: "bulk", Mode: "1 stream", Peer: "raw TCP", Value: 4000, Unit: "MB/s", Higher: true})
	tab.Add(report.Result{Workload: "bulk", Mode: "1 stream", Peer: "yamux", Value: 3000, Lo: 2900, Hi: 3100, Unit: "MB/s", Higher: true})
	tab.Add(report.Result{Workload: "bulk", Mode: "1 stream", Peer: "smux", Skipped: "missing"})
	tab.Add(report.Result{Workload: "bulk", Mode: "1 stream", Peer: "plexus", Value: 3800, Unit: "MB/s", Higher: true})
	tab.Add(report.Result{Workload: "rtt", Peer: "plexus", Value: 5, Unit: "µs"})
	gs := Groups(tab)
	if len(gs) != 2 || len(gs[0].Results) != 4 || gs[1].Workload != "rtt" {
		t.Fatalf("Groups = %+v", gs)
	}
	if got := FileName("muxbench", gs[0], true); got != "muxbench-bulk-1-stream" {
		t.Errorf("FileName = %q", got)
	}
	file, err := Write(t.TempDir(), "bulk", "bulk", gs[0], "raw TCP", Limit{Label: "raw TCP", Value: 4000})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(b)
	for _, want := range []string{"<svg", "yamux", "plexus", "0.95×", "raw TCP: 4000 MB/s"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	if strings.Contains(svg, "smux") {
		t.Error("the chart shows a skipped peer")
	}
	if _, err := Write(t.TempDir(), "none", "none", Group{Workload: "x"}, "", Limit{}); err == nil {
		t.Error("a chart with no peer did not fail")
	}
}

// TestOurs checks that the bars Ours takes, and only those, get plexus's colour.
func TestOurs(t *testing.T) {
	rs := []report.Result{
		{Workload: "rtt", Peer: "neighbour", Value: 30, Unit: "µs"},
		{Workload: "rtt", Peer: "libp2p", Value: 40, Unit: "µs"},
	}
	for _, tc := range []struct {
		name string
		ours func(string) bool
		want bool
	}{
		{"default", nil, false}, // no peer is named plexus
		{"none", func(string) bool { return false }, false},
		{"not libp2p", func(p string) bool { return !strings.HasPrefix(p, "libp2p") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, err := Write(t.TempDir(), "rtt", "rtt", Group{Workload: "rtt", Results: rs, Ours: tc.ours}, "", Limit{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(b), "#1F6FB4"); got != tc.want {
				t.Errorf("plexus's colour drawn: %v, want %v", got, tc.want)
			}
		})
	}
}
