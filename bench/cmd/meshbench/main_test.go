package main

import (
	"os"
	"testing"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/meshpeer"
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
