package main

import (
	"testing"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/muxpeer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWorkloadsRun runs every workload for every peer very briefly: it checks
// that each one runs and ends, not how fast.
func TestWorkloadsRun(t *testing.T) {
	cfg := config{win: harness.Window{Warmup: 20 * time.Millisecond, Duration: 30 * time.Millisecond}, streams: 300}
	for _, w := range workloads {
		for _, p := range muxpeer.All() {
			t.Run(w.name+"/"+p.Name, func(t *testing.T) {
				if p.Unavailable != "" {
					t.Skip(p.Unavailable)
				}
				if w.name == "idle" && p.NoIdle != "" {
					t.Skip(p.NoIdle)
				}
				r := w.run(p, cfg)
				if r.Skipped != "" {
					t.Fatal(r.Skipped)
				}
				if w.name != "idle" && r.Value <= 0 {
					t.Fatalf("result %v, want a positive number", r.Value)
				}
			})
		}
	}
}
