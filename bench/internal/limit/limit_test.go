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

// TestMeasureTLS checks that one TLS connection's limits are measured and
// said, with the suite crypto/tls negotiated.
func TestMeasureTLS(t *testing.T) {
	m, err := MeasureTLS(harness.Window{Warmup: 10 * time.Millisecond, Duration: 30 * time.Millisecond}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.RTT.Median <= 0 || m.Bulk.Median <= 0 || m.BulkSize == 0 || !strings.HasPrefix(m.Suite, "TLS_") {
		t.Fatalf("MeasureTLS = %+v", m)
	}
	if l := m.Line(); !strings.Contains(l, "crypto/tls") || !strings.Contains(l, m.Suite) || !strings.Contains(l, "round trip") {
		t.Errorf("Line = %q", l)
	}
}

// TestTLSPairFails checks that a failed handshake closes both ends and
// returns, rather than leaving the server's handshake waiting.
func TestTLSPairFails(t *testing.T) {
	c, s, err := tcpPair()
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // the client end is gone before the handshake
	if _, _, err := TLSPair(c, s); err == nil {
		t.Fatal("TLSPair over a closed connection succeeded")
	}
	if _, err := s.Write([]byte{1}); err == nil {
		t.Error("the server end is still open after the failure")
	}
}

// TestMeasureAEAD checks that sealing and opening are measured, and that
// the bound is as many cores as GOMAXPROCS over six passes.
func TestMeasureAEAD(t *testing.T) {
	a, err := MeasureAEAD(harness.Window{Warmup: 5 * time.Millisecond, Duration: 20 * time.Millisecond}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Seal.Median <= 0 || a.Open.Median <= 0 || a.Procs <= 0 {
		t.Fatalf("MeasureAEAD = %+v", a)
	}
	if l := a.Line(); !strings.Contains(l, "AES-128-GCM") || !strings.Contains(l, "6 AEAD passes") {
		t.Errorf("Line = %q", l)
	}
}

// TestRelayBound checks the arithmetic of the bound.
func TestRelayBound(t *testing.T) {
	for _, tc := range []struct {
		seal, open float64
		procs      int
		want       float64
	}{
		{5400, 5400, 2, 1800}, // the figure
		{6000, 3000, 1, 666.67},
		{1000, 1000, 6, 1000},
		{0, 1000, 2, 0}, // not measured
	} {
		a := AEAD{Seal: Figure{Median: tc.seal}, Open: Figure{Median: tc.open}, Procs: tc.procs}
		if got := a.RelayBound(); got < tc.want-0.01 || got > tc.want+0.01 {
			t.Errorf("RelayBound(seal %v, open %v, %d procs) = %.2f, want %.2f", tc.seal, tc.open, tc.procs, got, tc.want)
		}
	}
}
