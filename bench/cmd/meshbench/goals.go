package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/plexusnet/plexus/bench/internal/report"
)

// row names one row of the table: a workload and a peer (a path, or
// tlsLimit).
type row struct{ workload, peer string }

// goal is one goal of issue 16, section 2: the value of a row, divided by
// the value of base when base is set, is at most (or at least) target.
type goal struct {
	text   string
	of     row
	base   row  // zero: target bounds the row's value itself
	atMost bool // the goal is ≤ target (else ≥)
	target float64
	// value reads the row's figure, in unit; nil: the result's Value and Unit.
	value func(report.Result) (float64, bool)
	unit  string
	// beside names a row whose value the measured column shows as well.
	beside row
}

// goals are the goals of issue 16's section 2, in its order.
var goals = []goal{
	{text: "neighbour bulk ≥ 0.9× mux", of: row{"bulk", "neighbour"}, base: row{"bulk", "mux"}, target: 0.9},
	{text: "neighbour round trip ≤ 1.2× mux", of: row{"rtt", "neighbour"}, base: row{"rtt", "mux"}, atMost: true, target: 1.2},
	{text: "neighbour+TLS bulk ≥ 0.85× one crypto/tls connection", of: row{"bulk", "neighbour+TLS"}, base: row{"bulk", tlsLimit}, target: 0.85},
	{text: "neighbour+TLS round trip ≤ 1.3× one crypto/tls connection", of: row{"rtt", "neighbour+TLS"}, base: row{"rtt", tlsLimit}, atMost: true, target: 1.3},
	{text: "relay bulk ≥ 0.8× neighbour", of: row{"bulk", "relay"}, base: row{"bulk", "neighbour"}, target: 0.8},
	{text: "relay round trip ≤ 2× neighbour", of: row{"rtt", "relay"}, base: row{"rtt", "neighbour"}, atMost: true, target: 2},
	{text: "relay+TLS bulk ≥ 0.6× one crypto/tls connection", of: row{"bulk", "relay+TLS"}, base: row{"bulk", tlsLimit}, target: 0.6},
	{text: "relay+TLS round trip ≤ 2.5× one crypto/tls connection", of: row{"rtt", "relay+TLS"}, base: row{"rtt", tlsLimit}, atMost: true, target: 2.5},
	{text: "neighbour+TLS round trip ≤ 0.8× libp2p", of: row{"rtt", "neighbour+TLS"}, base: row{"rtt", "libp2p"}, atMost: true, target: 0.8},
	{text: "neighbour+TLS opens ≥ 2× libp2p", of: row{"open", "neighbour+TLS"}, base: row{"open", "libp2p"}, target: 2},
	{text: "neighbour+TLS bulk ≥ 1.0× libp2p", of: row{"bulk", "neighbour+TLS"}, base: row{"bulk", "libp2p"}, target: 1},
	{text: "relay+TLS round trip ≤ 0.8× libp2p-relay", of: row{"rtt", "relay+TLS"}, base: row{"rtt", "libp2p-relay"}, atMost: true, target: 0.8},
	{text: "relay+TLS opens ≥ 2× libp2p-relay", of: row{"open", "relay+TLS"}, base: row{"open", "libp2p-relay"}, target: 2},
	{text: "relay+TLS bulk ≥ 1.2× libp2p-relay", of: row{"bulk", "relay+TLS"}, base: row{"bulk", "libp2p-relay"}, target: 1.2},
	{text: "neighbour later opens ≥ 0.8× mux", of: row{"open", "neighbour"}, base: row{"open", "mux"}, target: 0.8},
	{text: "relay later opens ≥ 0.8× mux", of: row{"open", "relay"}, base: row{"open", "mux"}, target: 0.8},
	{text: "neighbour+TLS later opens ≥ 0.8× mux+TLS", of: row{"open", "neighbour+TLS"}, base: row{"open", "mux+TLS"}, target: 0.8},
	{text: "relay+TLS later opens ≥ 0.8× mux+TLS", of: row{"open", "relay+TLS"}, base: row{"open", "mux+TLS"}, target: 0.8},
	{text: "relay+TLS first dial by name ≤ 2 ms", of: row{"firstdial", "relay+TLS"}, atMost: true, target: 2},
	{text: "relay memory per idle circuit ≤ 1 KiB", of: row{"idle", "relay"}, atMost: true, target: 1024, beside: row{"idle", "libp2p-relay"}},
	{text: "relay goroutines per idle circuit: 0", of: row{"idle", "relay"}, atMost: true, target: 0, value: goroutinesPerCircuit, unit: "goroutines/circuit", beside: row{"idle", "libp2p-relay"}},
	{text: "neighbour 64 B msgs on 8 conns ≥ 0.8× mux", of: row{"msgs", "neighbour"}, base: row{"msgs", "mux"}, target: 0.8},
	{text: "relay connection per request ≤ 1.2× its round trip", of: row{"connreq", "relay"}, base: row{"rtt", "relay"}, atMost: true, target: 1.2},
	{text: "relay+TLS connection per request ≤ 1.2× its round trip", of: row{"connreq", "relay+TLS"}, base: row{"rtt", "relay+TLS"}, atMost: true, target: 1.2},
}

// verdict is one evaluated goal: a row of the goals table.
type verdict struct {
	goal     string
	measured string // the ratio (or the value) and the values it comes from
	met      bool
	verdict  string // "met", or "not met by X%"
}

// evaluate returns a verdict for each goal whose rows results has (not
// skipped); the others are left out.
func evaluate(gs []goal, results []report.Result) []verdict {
	find := func(r row) (report.Result, bool) {
		for _, x := range results {
			if x.Workload == r.workload && x.Peer == r.peer && x.Skipped == "" {
				return x, true
			}
		}
		return report.Result{}, false
	}
	var vs []verdict
	for _, g := range gs {
		r, ok := find(g.of)
		if !ok {
			continue
		}
		v, unit, ok := g.read(r)
		if !ok {
			continue
		}
		got, measured := v, value(v, unit)
		if g.base != (row{}) {
			b, ok := find(g.base)
			if !ok || b.Value <= 0 {
				continue
			}
			got = v / b.Value
			measured = fmt.Sprintf("%.2f× (%s against %s)", got, value(v, unit), value(b.Value, b.Unit))
		}
		if b, ok := find(g.beside); ok && g.beside != (row{}) {
			if bv, bunit, ok := g.read(b); ok {
				measured += fmt.Sprintf("; %s: %s", b.Peer, value(bv, bunit))
			}
		}
		vs = append(vs, judge(g, got, measured))
	}
	return vs
}

// read returns the figure of g's row r and its unit.
func (g goal) read(r report.Result) (float64, string, bool) {
	if g.value == nil {
		return r.Value, r.Unit, true
	}
	v, ok := g.value(r)
	return v, g.unit, ok
}

// judge says whether got meets g, and by how much it falls short.
func judge(g goal, got float64, measured string) verdict {
	v := verdict{goal: g.text, measured: measured}
	short := 0.0 // the fraction of the target by which got misses it
	switch {
	case g.atMost && got > g.target && g.target > 0:
		short = (got - g.target) / g.target
	case g.atMost && got > g.target:
		v.verdict = "not met"
		return v
	case !g.atMost && got < g.target:
		short = (g.target - got) / g.target
	}
	if short == 0 {
		v.met, v.verdict = true, "met"
		return v
	}
	v.verdict = fmt.Sprintf("not met by %.0f%%", max(100*short, 1))
	return v
}

// value prints a number with its unit.
func value(v float64, unit string) string {
	return strings.TrimSpace(report.FormatValue(v) + " " + unit)
}

// goroutinesPerCircuit reads the idle workload's note ("0.00 goroutines/circuit").
func goroutinesPerCircuit(r report.Result) (float64, bool) {
	before, _, ok := strings.Cut(r.Note, " goroutines/circuit")
	if !ok {
		return 0, false
	}
	f := strings.Fields(strings.ReplaceAll(before, ";", " "))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[len(f)-1], 64)
	return v, err == nil
}

// printGoals writes the verdicts as a table, aligned text or Markdown;
// rounds is the run's -count, which the title says.
func printGoals(w io.Writer, vs []verdict, rounds int, markdown bool) {
	if len(vs) == 0 {
		return
	}
	met := 0
	for _, v := range vs {
		if v.met {
			met++
		}
	}
	of := fmt.Sprintf("the median of %d rounds of each row", rounds)
	if rounds <= 1 {
		of = "one round of each row; the goals ask for the median of 3 or more (-count 3)"
	}
	title := fmt.Sprintf("Goals of issue 16 that this run's rows allow: %d of %d met (%s; the limits are the lines above the table).", met, len(vs), of)
	header := []string{"goal", "measured", "verdict"}
	rows := make([][]string, len(vs))
	for i, v := range vs {
		verdict := v.verdict
		if markdown && !v.met {
			verdict = "**" + verdict + "**"
		}
		rows[i] = []string{v.goal, v.measured, verdict}
	}
	if markdown {
		fmt.Fprintf(w, "\n%s\n\n| %s |\n|---|---|---|\n", title, strings.Join(header, " | "))
		for _, r := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		return
	}
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintf(w, "\n%s\n", title)
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}
