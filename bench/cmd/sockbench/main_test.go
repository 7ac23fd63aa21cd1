package main

import (
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/sockpeer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWorkloadsRun runs the one-process workloads for every available peer
// very briefly: it checks that each one runs and ends, not how fast.
func TestWorkloadsRun(t *testing.T) {
	cfg := config{win: harness.Window{Warmup: 20 * time.Millisecond, Duration: 50 * time.Millisecond}, subs: 10}
	for _, w := range workloads {
		if w.child {
			continue // needs this program's -child mode, not the test binary
		}
		for _, p := range sockpeer.All() {
			t.Run(w.name+"/"+p.Name, func(t *testing.T) {
				if p.Unavailable != "" {
					t.Skip(p.Unavailable)
				}
				r := w.run(p, cfg)
				if strings.Contains(r.Skipped, sockpeer.ErrNotBuilt.Error()) {
					t.Skip(r.Skipped)
				}
				if r.Skipped != "" {
					t.Fatal(r.Skipped)
				}
				if r.Value <= 0 {
					t.Fatalf("result %v, want a positive number", r.Value)
				}
			})
		}
	}
}
