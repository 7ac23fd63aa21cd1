package main

import (
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/report"
)

// TestLimits runs the limits' turns of bulk and rtt very briefly and
// checks that take moves their rows out of the table into the lines above
// it and the rows the goals read.
func TestLimits(t *testing.T) {
	for _, secured := range []bool{false, true} {
		l := &limits{win: harness.Window{Warmup: 5 * time.Millisecond, Duration: 20 * time.Millisecond}, secured: secured}
		tab := &report.Table{Baseline: "mux"}
		tab.Add(report.Result{Workload: "bulk", Peer: "mux", Value: 1000})
		for _, w := range []string{"bulk", "rtt", "open"} {
			for _, p := range l.peers() {
				r := l.run(p, w)
				r.Workload, r.Peer = w, p
				tab.Add(r)
			}
		}
		lines, rows := l.take(tab, 1)
		if len(tab.Results) != 1 || tab.Results[0].Peer != "mux" {
			t.Errorf("secured %v: the table kept %+v, want the mux row only", secured, tab.Results)
		}
		wantRows, wantLines := 2, []string{"raw TCP over loopback"}
		if secured {
			wantRows, wantLines = 5, append(wantLines, "crypto/tls", "AES-128-GCM")
		}
		if len(rows) != wantRows {
			t.Errorf("secured %v: %d rows of limits, want %d: %+v", secured, len(rows), wantRows, rows)
		}
		if len(lines) != len(wantLines) {
			t.Fatalf("secured %v: lines %q, want %d", secured, lines, len(wantLines))
		}
		for i, want := range wantLines {
			if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], "**") {
				t.Errorf("secured %v: line %d = %q, want it to say %q", secured, i, lines[i], want)
			}
		}
		if secured && !strings.Contains(lines[1], "TLS_") {
			t.Errorf("the crypto/tls line does not name the suite: %q", lines[1])
		}
	}
}

// TestLimitsFailed checks that a limit that failed is said, not dropped.
func TestLimitsFailed(t *testing.T) {
	l := &limits{}
	tab := &report.Table{Results: []report.Result{{Workload: "rtt", Peer: rawTCP, Skipped: "failed: boom"}}}
	lines, rows := l.take(tab, 1)
	if len(rows) != 0 || len(lines) != 1 || !strings.Contains(lines[0], "not measured (failed: boom)") {
		t.Errorf("take = %q, %+v", lines, rows)
	}
}
