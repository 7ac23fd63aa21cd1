package limit

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/bench/internal/harness"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMeasure checks that the limits are measured and said, not how fast they are.
func TestMeasure(t *testing.T) {
	m, err := Measure(harness.Window{Warmup: 10 * time.Millisecond, Duration: 30 * time.Millisecond}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.RTT.Median <= 0 || m.Bulk.Median <= 0 || m.BulkSize == 0 {
		t.Fatalf("Measure = %+v", m)
	}
	if l := m.Line(); !strings.Contains(l, "round trip") || !strings.Contains(l, "bulk") {
		t.Errorf("Line = %q", l)
	}
}
