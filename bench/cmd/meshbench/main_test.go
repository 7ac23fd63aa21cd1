package main

import (
	"os"
	"testing"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/meshpeer"
	"github.com/plexusnet/plexus/bench/internal/report"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	switch os.Getenv("MESHBENCH_RELAY_CHILD") { // this test binary as the relay of the idle workload
	case "":
	case "libp2p":
		os.Exit(runLibp2pRelayChild())
	default:
		os.Exit(runRelayChild())
	}
	goleak.VerifyTestMain(m)
}

// TestWorkloadsRun runs every workload on every path very briefly: it
// checks that each one runs and ends, not how fast.
func TestWorkloadsRun(t *testing.T) {
	cfg := config{win: harness.Window{Warmup: 20 * time.Millisecond, Duration: 50 * time.Millisecond}, ends: 3}
	for _, w := range workloads {
		for _, p := range meshpeer.All() {
			t.Run(w.name+"/"+p.Name, func(t *testing.T) {
				if why := w.skip(p); why != "" {
					t.Skip(why)
				}
				if p.Extra && w.name != "bulk" && w.name != "rtt" {
					t.Skip("a path of the resumption comparison: bulk and rtt only")
				}
				r := w.run(p, cfg)
				if r.Skipped != "" {
					t.Fatal(r.Skipped)
				}
				if r.Value <= 0 && w.name != "idle" {
					t.Fatalf("result %v, want a positive number", r.Value)
				}
				t.Logf("%.2f %s; %s", r.Value, w.unit, r.Note)
			})
		}
	}
}

// TestNotes checks the ratios main adds to the notes: a relayed row to
// its direct row, and a connection per request to the path's round trip.
func TestNotes(t *testing.T) {
	tab := &report.Table{Baseline: "mux", Results: []report.Result{
		{Workload: "rtt", Peer: "neighbour+TLS", Value: 40},
		{Workload: "rtt", Peer: "relay+TLS", Value: 60, Note: "median of 3 rounds"},
		{Workload: "connreq", Peer: "relay+TLS", Value: 90},
		{Workload: "connreq", Peer: "relay", Value: 90}, // no round trip of relay: no ratio
		{Workload: "connreq", Peer: "neighbour", Skipped: "failed"},
	}}
	compareWith(tab, "relay+TLS", "neighbour+TLS")
	perRoundTrip(tab)
	for i, want := range []string{"", "1.50× neighbour+TLS; median of 3 rounds", "1.50× its round trip (60.0 µs)", "", ""} {
		if got := tab.Results[i].Note; got != want {
			t.Errorf("%s/%s: note %q, want %q", tab.Results[i].Workload, tab.Results[i].Peer, got, want)
		}
	}
}
