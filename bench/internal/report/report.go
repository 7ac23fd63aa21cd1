// Package report collects benchmark results and prints them as a table with
// absolute numbers and ratios to a baseline peer measured in the same run.
package report

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Result is one measured number: one workload, one peer, one mode.
type Result struct {
	Workload string  // e.g. "bulk"
	Mode     string  // e.g. "1 proc"; may be empty
	Peer     string  // e.g. "yamux"
	Value    float64 // the measured number, in Unit
	Unit     string  // e.g. "MB/s", "µs"
	Higher   bool    // true when a higher Value is better
	Note     string  // extra detail, e.g. "0.98 allocs/msg"
	Lo, Hi   float64 // the spread of the rounds Median combined (zero: one round)
	Skipped  string  // when non-empty the peer did not run; this says why
}

// Table is the ordered list of results of one run plus the name of the baseline peer.
type Table struct {
	Title string
	// Preamble is printed between the title and the table: the machine's
	// limits (raw TCP round trip and bulk), so that every table is read
	// against them.
	Preamble []string
	// Charts are images of the table (paths as Markdown should link them);
	// Markdown links them below the table.
	Charts   []string
	Baseline string // ratios are Value / Value(Baseline) of the same workload and mode
	Results  []Result
}

// Add appends a result.
func (t *Table) Add(r Result) { t.Results = append(t.Results, r) }

func (t *Table) base(r Result) (Result, bool) {
	for _, b := range t.Results {
		if b.Workload == r.Workload && b.Mode == r.Mode && b.Peer == t.Baseline && b.Skipped == "" && b.Value > 0 {
			return b, true
		}
	}
	// No baseline in this row group: fall back to the first peer that ran.
	for _, b := range t.Results {
		if b.Workload == r.Workload && b.Mode == r.Mode && b.Skipped == "" && b.Value > 0 {
			return b, true
		}
	}
	return Result{}, false
}

// Ratio returns r's value divided by the baseline's value for the same
// workload and mode, and the name of the peer used as baseline.
func (t *Table) Ratio(r Result) (float64, string) {
	if r.Skipped != "" {
		return 0, ""
	}
	b, ok := t.base(r)
	if !ok {
		return 0, ""
	}
	return r.Value / b.Value, b.Peer
}

// FormatValue prints v with a precision that suits its size.
func FormatValue(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func (t *Table) rows() [][]string {
	var rows [][]string
	for _, r := range t.Results {
		mode := r.Mode
		if r.Skipped != "" {
			rows = append(rows, []string{r.Workload, mode, r.Peer, "-", unit(r), "-", "skipped: " + r.Skipped})
			continue
		}
		ratio := "-"
		if q, b := t.Ratio(r); b != "" {
			ratio = fmt.Sprintf("%.2f×", q)
			if b != t.Baseline {
				ratio += " (vs " + b + ")"
			}
		}
		note := r.Note
		rows = append(rows, []string{r.Workload, mode, r.Peer, FormatValue(r.Value), unit(r), ratio, note})
	}
	return rows
}

// unit is the unit with an arrow that says which way is better.
func unit(r Result) string {
	if r.Higher {
		return r.Unit + " ↑"
	}
	return r.Unit + " ↓"
}

var header = []string{"workload", "mode", "peer", "result", "unit", "ratio", "notes"}

// Print writes the table as aligned plain text.
func (t *Table) Print(w io.Writer) {
	rows := t.rows()
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = runeLen(h)
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], runeLen(c))
		}
	}
	if t.Title != "" {
		fmt.Fprintf(w, "%s\nratio: result / %s in the same run; ↑ higher is better, ↓ lower is better\n", t.Title, t.Baseline)
	}
	for _, l := range t.Preamble {
		fmt.Fprintln(w, l)
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-runeLen(c)))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	prev := ""
	for i, r := range rows {
		key := t.Results[i].Workload + "|" + t.Results[i].Mode
		if prev != "" && key != prev {
			fmt.Fprintln(w)
		}
		prev = key
		line(r)
	}
}

// Markdown writes the table as a GitHub-flavoured Markdown table.
func (t *Table) Markdown(w io.Writer) {
	if t.Title != "" {
		fmt.Fprintf(w, "%s\n\nratio: result / %s in the same run; ↑ higher is better, ↓ lower is better\n\n", t.Title, t.Baseline)
	}
	for _, l := range t.Preamble {
		fmt.Fprintf(w, "%s\n\n", l)
	}
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(header)))
	for _, r := range t.rows() {
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
	if len(t.Charts) > 0 {
		fmt.Fprintln(w)
		for _, c := range t.Charts {
			fmt.Fprintf(w, "![%s](%s)\n", strings.TrimSuffix(path.Base(c), path.Ext(c)), c)
		}
	}
}

func runeLen(s string) int { return len([]rune(s)) }

// Median combines the results of several rounds of one workload and peer:
// the round with the median value, with the spread of all rounds added to
// its note. A round that failed makes the whole result fail (with its reason).
func Median(rounds []Result) Result {
	if len(rounds) == 0 {
		return Result{Skipped: "no rounds"}
	}
	ok := make([]Result, 0, len(rounds))
	for _, r := range rounds {
		if r.Skipped != "" {
			return r
		}
		ok = append(ok, r)
	}
	if len(ok) == 1 {
		return ok[0]
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i].Value < ok[j].Value })
	m := ok[(len(ok)-1)/2]
	if !m.Higher {
		m = ok[len(ok)/2] // of an even count, the worse middle one either way
	}
	m.Lo, m.Hi = ok[0].Value, ok[len(ok)-1].Value
	spread := fmt.Sprintf("median of %d rounds, %s..%s", len(ok), FormatValue(ok[0].Value), FormatValue(ok[len(ok)-1].Value))
	if m.Note != "" {
		m.Note = spread + "; " + m.Note
	} else {
		m.Note = spread
	}
	return m
}
