package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/plexusnet/plexus/bench/internal/report"
)

// synthetic is a table of a run: every row the goals read, with values
// chosen so that each goal's verdict is known.
func synthetic(libp2p bool) []report.Result {
	rs := []report.Result{
		{Workload: "bulk", Peer: "mux", Value: 2000, Unit: "MB/s"},
		{Workload: "bulk", Peer: "neighbour", Value: 1900, Unit: "MB/s"},       // 0.95×: met
		{Workload: "bulk", Peer: "neighbour+TLS", Value: 1000, Unit: "MB/s"},   // 0.80× crypto/tls: short of 0.85 by 6%
		{Workload: "bulk", Peer: "relay", Value: 1140, Unit: "MB/s"},           // 0.60× neighbour: short of 0.8 by 25%
		{Workload: "bulk", Peer: "relay+TLS", Value: 750, Unit: "MB/s"},        // 0.60× crypto/tls: met, at the edge
		{Workload: "bulk", Peer: tlsLimit, Value: 1250, Unit: "MB/s"},          // the limit
		{Workload: "rtt", Peer: "mux", Value: 20, Unit: "µs"},                  //
		{Workload: "rtt", Peer: "neighbour", Value: 30, Unit: "µs"},            // 1.5×: over 1.2 by 25%
		{Workload: "rtt", Peer: "neighbour+TLS", Value: 26, Unit: "µs"},        // 1.3× crypto/tls: met
		{Workload: "rtt", Peer: "relay", Value: 45, Unit: "µs"},                // 1.5× neighbour: met
		{Workload: "rtt", Peer: "relay+TLS", Value: 60, Unit: "µs"},            // 3× crypto/tls: over 2.5 by 20%
		{Workload: "rtt", Peer: tlsLimit, Value: 20, Unit: "µs"},               //
		{Workload: "open", Peer: "mux", Value: 600e3, Unit: "streams/s"},       //
		{Workload: "open", Peer: "mux+TLS", Value: 500e3, Unit: "streams/s"},   //
		{Workload: "open", Peer: "neighbour", Value: 300e3, Unit: "streams/s"}, // 0.5×: short by 38%
		{Workload: "open", Peer: "relay", Skipped: "failed: boom"},             // no verdict
		{Workload: "open", Peer: "neighbour+TLS", Value: 400e3, Unit: "streams/s"},
		{Workload: "open", Peer: "relay+TLS", Value: 400e3, Unit: "streams/s"},
		{Workload: "firstdial", Peer: "relay+TLS", Value: 3, Unit: "ms"}, // over 2 ms by 50%
		{Workload: "idle", Peer: "relay", Value: 1365, Unit: "B/circuit", Note: "median of 3 rounds, 1092..1673; 0.00 goroutines/circuit; relay HeapInuse"},
		{Workload: "msgs", Peer: "mux", Value: 2e6, Unit: "msg/s"},
		{Workload: "msgs", Peer: "neighbour", Value: 1.8e6, Unit: "msg/s"},
		{Workload: "connreq", Peer: "relay", Value: 90, Unit: "µs"},     // 2× relay's rtt: over 1.2 by 67%
		{Workload: "connreq", Peer: "relay+TLS", Value: 72, Unit: "µs"}, // 1.2×: met
	}
	if libp2p {
		rs = append(rs,
			report.Result{Workload: "rtt", Peer: "libp2p", Value: 40, Unit: "µs"},                  // 0.65×: met
			report.Result{Workload: "open", Peer: "libp2p", Value: 100e3, Unit: "streams/s"},       // 4×: met
			report.Result{Workload: "bulk", Peer: "libp2p", Value: 1100, Unit: "MB/s"},             // 0.91×: short of 1 by 9%
			report.Result{Workload: "rtt", Peer: "libp2p-relay", Value: 70, Unit: "µs"},            // 0.86×: over 0.8 by 7%
			report.Result{Workload: "open", Peer: "libp2p-relay", Value: 250e3, Unit: "streams/s"}, // 1.6×: short of 2 by 20%
			report.Result{Workload: "bulk", Peer: "libp2p-relay", Value: 200, Unit: "MB/s"},        // 3.75×: met
			report.Result{Workload: "idle", Peer: "libp2p-relay", Value: 9000, Unit: "B/circuit", Note: "2.00 goroutines/circuit"},
		)
	}
	return rs
}

// TestEvaluate checks the verdict of every goal on a synthetic table, and
// that goals whose rows are missing or skipped are left out.
func TestEvaluate(t *testing.T) {
	want := map[string]string{
		"neighbour bulk ≥ 0.9× mux":                                 "met",
		"neighbour round trip ≤ 1.2× mux":                           "not met by 25%",
		"neighbour+TLS bulk ≥ 0.85× one crypto/tls connection":      "not met by 6%",
		"neighbour+TLS round trip ≤ 1.3× one crypto/tls connection": "met",
		"relay bulk ≥ 0.8× neighbour":                               "not met by 25%",
		"relay round trip ≤ 2× neighbour":                           "met",
		"relay+TLS bulk ≥ 0.6× one crypto/tls connection":           "met",
		"relay+TLS round trip ≤ 2.5× one crypto/tls connection":     "not met by 20%",
		"neighbour later opens ≥ 0.8× mux":                          "not met by 38%",
		"neighbour+TLS later opens ≥ 0.8× mux+TLS":                  "met",
		"relay+TLS later opens ≥ 0.8× mux+TLS":                      "met",
		"relay+TLS first dial by name ≤ 2 ms":                       "not met by 50%",
		"relay memory per idle circuit ≤ 1 KiB":                     "not met by 33%",
		"relay goroutines per idle circuit: 0":                      "met",
		"neighbour 64 B msgs on 8 conns ≥ 0.8× mux":                 "met",
		"relay connection per request ≤ 1.2× its round trip":        "not met by 67%",
		"relay+TLS connection per request ≤ 1.2× its round trip":    "met",
	}
	withLibp2p := map[string]string{
		"neighbour+TLS round trip ≤ 0.8× libp2p":   "met",
		"neighbour+TLS opens ≥ 2× libp2p":          "met",
		"neighbour+TLS bulk ≥ 1.0× libp2p":         "not met by 9%",
		"relay+TLS round trip ≤ 0.8× libp2p-relay": "not met by 7%",
		"relay+TLS opens ≥ 2× libp2p-relay":        "not met by 20%",
		"relay+TLS bulk ≥ 1.2× libp2p-relay":       "met",
	}
	for _, tc := range []struct {
		name   string
		libp2p bool
	}{{"without libp2p", false}, {"with libp2p", true}} {
		t.Run(tc.name, func(t *testing.T) {
			w := map[string]string{}
			for k, v := range want {
				w[k] = v
			}
			if tc.libp2p {
				for k, v := range withLibp2p {
					w[k] = v
				}
			}
			got := map[string]verdict{}
			for _, v := range evaluate(goals, synthetic(tc.libp2p)) {
				got[v.goal] = v
				if v.met != (v.verdict == "met") {
					t.Errorf("%s: met %v but verdict %q", v.goal, v.met, v.verdict)
				}
			}
			for g, v := range w {
				if got[g].verdict != v {
					t.Errorf("%s: verdict %q (measured %q), want %q", g, got[g].verdict, got[g].measured, v)
				}
			}
			for g := range got {
				if _, ok := w[g]; !ok {
					t.Errorf("%s: evaluated, but its rows are missing or skipped", g)
				}
			}
		})
	}
}

// TestEvaluateMeasured checks what the measured column says: the ratio
// and both values, and the libp2p figure beside the relay's idle memory.
func TestEvaluateMeasured(t *testing.T) {
	got := map[string]string{}
	for _, v := range evaluate(goals, synthetic(true)) {
		got[v.goal] = v.measured
	}
	for g, want := range map[string]string{
		"relay bulk ≥ 0.8× neighbour":           "0.60× (1140 MB/s against 1900 MB/s)",
		"relay+TLS first dial by name ≤ 2 ms":   "3.00 ms",
		"relay memory per idle circuit ≤ 1 KiB": "1365 B/circuit; libp2p-relay: 9000 B/circuit",
		"relay goroutines per idle circuit: 0":  "0.00 goroutines/circuit; libp2p-relay: 2.00 goroutines/circuit",
	} {
		if got[g] != want {
			t.Errorf("%s: measured %q, want %q", g, got[g], want)
		}
	}
}

// TestJudge checks the verdicts at and around their targets.
func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		atMost      bool
		target, got float64
		want        string
	}{
		{false, 0.9, 0.9, "met"},
		{false, 0.9, 1.5, "met"},
		{false, 0.9, 0.45, "not met by 50%"},
		{false, 1, 0.999, "not met by 1%"}, // never "by 0%"
		{true, 1.2, 1.2, "met"},
		{true, 1.2, 0.1, "met"},
		{true, 1.2, 2.4, "not met by 100%"},
		{true, 0, 0, "met"},
		{true, 0, 0.01, "not met"}, // no percentage of zero
	} {
		v := judge(goal{atMost: tc.atMost, target: tc.target}, tc.got, "")
		if v.verdict != tc.want || v.met != (tc.want == "met") {
			t.Errorf("judge(atMost %v, target %v, %v) = %q (met %v), want %q", tc.atMost, tc.target, tc.got, v.verdict, v.met, tc.want)
		}
	}
}

// TestPrintGoals checks both forms of the goals table.
func TestPrintGoals(t *testing.T) {
	vs := evaluate(goals, synthetic(false))
	var text, md bytes.Buffer
	printGoals(&text, vs, 1, false)
	printGoals(&md, vs, 3, true)
	if !strings.Contains(text.String(), "neighbour round trip ≤ 1.2× mux") || !strings.Contains(text.String(), "not met by 25%") {
		t.Errorf("text:\n%s", text.String())
	}
	if !strings.Contains(text.String(), "one round") || !strings.Contains(md.String(), "median of 3 rounds") {
		t.Errorf("the titles do not say the rounds:\n%s\n%s", text.String(), md.String())
	}
	if !strings.Contains(md.String(), "| goal | measured | verdict |") || !strings.Contains(md.String(), "**not met by 25%**") {
		t.Errorf("markdown:\n%s", md.String())
	}
	var none bytes.Buffer
	printGoals(&none, nil, 1, false)
	if none.Len() != 0 {
		t.Errorf("no verdicts printed %q", none.String())
	}
}
