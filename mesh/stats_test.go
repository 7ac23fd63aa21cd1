package mesh

import (
	"errors"
	"testing"
	"time"
)

// TestStatsChain counts what a chain a - b - c does: links, records,
// routes, a dial through a circuit that b relays, and b's refusals, one
// by a limit; a cut link keeps its traffic in the sums.
func TestStatsChain(t *testing.T) {
	a := newNode(t)
	b := newNode(t, WithLimits(Limits{MaxCircuitsPerSource: 1}))
	c := newNode(t)
	ps := chain(t, []*Node{a, b, c})
	ln, err := c.Listen("", ":7")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	conn, err := a.DialContext(ctxT(t), "", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, "counted")
	if _, err := a.Dial("", FormatID(c.ID())+":8"); !errors.Is(err, ErrConnRefused) {
		t.Fatalf("dial to a closed port: %v", err)
	}

	// A second circuit with a as its source: over b's limit.
	err = setupVia(t, a, []uint64{a.ID(), b.ID(), c.ID()})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "MaxCircuitsPerSource" {
		t.Fatalf("second circuit: %v", err)
	}
	if err := setupVia(t, a, []uint64{a.ID(), b.ID(), 55}); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("setup to a non-neighbour: %v", err)
	}

	sa := a.Stats()
	if sa.Links != 1 || sa.LinkUps != 1 || sa.LinkDowns != 0 || sa.Dials != 2 || sa.DialErrors != 1 {
		t.Errorf("a: links %d, ups %d, downs %d, dials %d, errors %d", sa.Links, sa.LinkUps, sa.LinkDowns, sa.Dials, sa.DialErrors)
	}
	if h := sa.DialLatency; h.Count != 1 || h.Sum <= 0 || len(h.Counts) != len(h.Bounds)+1 {
		t.Errorf("a's dial latency: %+v", h)
	}
	if sa.CircuitsOpened != 1 || sa.Circuits != 1 || sa.Conns != 1 {
		t.Errorf("a: circuits opened %d, now %d, conns %d", sa.CircuitsOpened, sa.Circuits, sa.Conns)
	}
	if sa.BytesIn == 0 || sa.BytesOut == 0 || sa.FramesIn == 0 || sa.FramesOut == 0 || sa.Streams < 2 {
		t.Errorf("a's traffic: %+v", sa)
	}
	if sa.RecordsReceived == 0 || sa.RecordsSent == 0 || sa.RecordsOriginated == 0 || sa.RouteChanges == 0 {
		t.Errorf("a's records: received %d, sent %d, originated %d, route changes %d", sa.RecordsReceived, sa.RecordsSent, sa.RecordsOriginated, sa.RouteChanges)
	}
	if sa.Records != 2 || sa.Routes != 2 {
		t.Errorf("a holds %d records and %d routes, want 2 and 2", sa.Records, sa.Routes)
	}

	// b counts a relayed circuit once its splice is in place, which may be
	// just after the first bytes went through it.
	eventually(t, "b counts the relayed circuit", func() bool { return b.Stats().CircuitsRelayedTotal == 1 })
	sb := b.Stats()
	if sb.Links != 2 || sb.CircuitsRelayed != 1 || sb.CircuitsRelayedTotal != 1 {
		t.Errorf("b: links %d, relayed %d, in all %d", sb.Links, sb.CircuitsRelayed, sb.CircuitsRelayedTotal)
	}
	if sb.CircuitsRefused != 2 || sb.CircuitsRefusedLimit != 1 {
		t.Errorf("b refused %d circuits, %d by a limit; want 2 and 1", sb.CircuitsRefused, sb.CircuitsRefusedLimit)
	}
	eventually(t, "c counts the circuit", func() bool { return c.Stats().CircuitsAccepted == 1 })

	// The link a - b goes down: a's traffic sums do not go back.
	ps[0].cut()
	waitRoute(t, a, b.ID(), -1)
	eventually(t, "a counts the link down", func() bool { return a.Stats().LinkDowns == 1 })
	after := a.Stats()
	if after.Links != 0 || after.BytesIn < sa.BytesIn || after.BytesOut < sa.BytesOut || after.FramesIn < sa.FramesIn {
		t.Errorf("after the cut: %+v, before %+v", after, sa)
	}
}

// TestStatsHandshakeFailure: a connection that is not a link counts.
func TestStatsHandshakeFailure(t *testing.T) {
	a := newNode(t, WithName("one"))
	b := newNode(t, WithName("two"))
	p := attach(t, a, b)
	if ea, eb := p.wait(); !errors.Is(ea, ErrMeshMismatch) || !errors.Is(eb, ErrMeshMismatch) {
		t.Fatalf("attach: %v, %v", ea, eb)
	}
	if s := a.Stats(); s.LinkHandshakes != 1 || s.LinkUps != 0 {
		t.Errorf("a: %d failed handshakes, %d links up", s.LinkHandshakes, s.LinkUps)
	}
}

func TestHistogramBuckets(t *testing.T) {
	var h histogram
	for _, d := range []time.Duration{0, dialBounds[0], dialBounds[0] + 1, time.Hour} {
		h.observe(d)
	}
	s := h.snapshot()
	if s.Count != 4 || s.Counts[0] != 2 || s.Counts[1] != 1 || s.Counts[len(s.Counts)-1] != 1 {
		t.Errorf("%+v", s)
	}
	if s.Sum != 2*dialBounds[0]+1+time.Hour {
		t.Errorf("sum %v", s.Sum)
	}
}
