// Package chart draws a bench table as SVG bar charts, one per workload:
// the peers side by side (median bars, with the spread of the rounds as
// error bars and each bar's ratio to the limit above it), and the limit,
// raw TCP on the same machine in the same run, as a dashed line across.
// It uses gonum.org/v1/plot, a dependency of the bench module only.
package chart

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/plexusnet/plexus/bench/internal/report"
)

// Limit is the line drawn across a chart.
type Limit struct {
	Label string  // e.g. "raw TCP, 1 MiB writes"
	Value float64 // in the workload's unit
}

// Group is the results of one workload and mode, in table order.
type Group struct {
	Workload, Mode string
	Results        []report.Result
	// Ours reports whether a peer is plexus, drawn in plexus's colour;
	// nil: the peers whose name starts with "plexus".
	Ours func(peer string) bool
}

// ours reports whether peer is drawn in plexus's colour.
func (g Group) ours(peer string) bool {
	if g.Ours == nil {
		return strings.HasPrefix(peer, "plexus")
	}
	return g.Ours(peer)
}

// Groups splits t into its workload-and-mode groups, in table order.
func Groups(t *report.Table) []Group {
	var gs []Group
	for _, r := range t.Results {
		if n := len(gs); n == 0 || gs[n-1].Workload != r.Workload || gs[n-1].Mode != r.Mode {
			gs = append(gs, Group{Workload: r.Workload, Mode: r.Mode})
		}
		g := &gs[len(gs)-1]
		g.Results = append(g.Results, r)
	}
	return gs
}

var (
	barColor    = color.RGBA{R: 0x8c, G: 0x9e, B: 0xb5, A: 0xff}
	plexusColor = color.RGBA{R: 0x1f, G: 0x6f, B: 0xb4, A: 0xff}
	limitColor  = color.RGBA{R: 0xc0, G: 0x30, B: 0x30, A: 0xff}
)

// Write draws g into dir/name.svg: a bar for each peer that ran, except
// the peer named skip (drawn as the limit line instead, when it is the
// limit); limit, if its value is positive, as a dashed line. It returns
// the file's path.
func Write(dir, name, title string, g Group, skip string, limit Limit) (string, error) {
	p := plot.New()
	p.Title.Text = title
	var unit string
	var names []string
	var vals plotter.Values
	var errs spread
	var labels plotter.XYLabels
	var plexus []bool
	top := limit.Value
	for _, r := range g.Results {
		if r.Skipped != "" || r.Peer == skip {
			continue
		}
		unit = r.Unit
		i := len(vals)
		names = append(names, r.Peer)
		vals = append(vals, r.Value)
		lo, hi := r.Value, r.Value
		if r.Hi > 0 {
			lo, hi = r.Lo, r.Hi
		}
		errs = append(errs, [3]float64{r.Value, lo, hi})
		top = max(top, hi)
		text := report.FormatValue(r.Value)
		if limit.Value > 0 {
			text += fmt.Sprintf(" (%.2f×)", r.Value/limit.Value)
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: hi})
		labels.Labels = append(labels.Labels, text)
		plexus = append(plexus, g.ours(r.Peer))
	}
	if len(vals) == 0 {
		return "", fmt.Errorf("chart %s: no peer ran", name)
	}
	higher := g.Results[0].Higher
	arrow := "lower is better"
	if higher {
		arrow = "higher is better"
	}
	p.Y.Label.Text = fmt.Sprintf("%s (%s)", unit, arrow)
	p.Y.Min = 0
	p.Y.Tick.Marker = ticks{}
	p.Y.Max = top * 1.25
	w := vg.Points(40)
	for i := range vals { // one bar chart per peer, so that plexus gets its own colour
		one := make(plotter.Values, len(vals))
		one[i] = vals[i]
		bars, err := plotter.NewBarChart(one, w)
		if err != nil {
			return "", err
		}
		bars.LineStyle.Width = 0
		bars.Color = barColor
		if plexus[i] {
			bars.Color = plexusColor
		}
		p.Add(bars)
	}
	eb, err := plotter.NewYErrorBars(errs)
	if err != nil {
		return "", err
	}
	p.Add(eb)
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return "", err
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = -0.5 // centred on the bar
		lab.TextStyle[i].YAlign = 0.2  // just above the error bar
	}
	p.Add(lab)
	if limit.Value > 0 {
		line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: limit.Value}, {X: float64(len(vals)) - 0.5, Y: limit.Value}})
		if err != nil {
			return "", err
		}
		line.Color = limitColor
		line.Width = vg.Points(1.5)
		line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s: %s %s", limit.Label, report.FormatValue(limit.Value), unit), line)
		p.Legend.Top = true
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(vals))-0.4
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	file := filepath.Join(dir, name+".svg")
	width := vg.Points(max(360, 110*float64(len(vals))+120))
	if err := p.Save(width, vg.Points(300), file); err != nil {
		return "", err
	}
	return file, nil
}

// ticks are gonum's default ticks labelled as the table prints numbers (1.8M, 900k).
type ticks struct{}

func (ticks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = report.FormatValue(ts[i].Value)
		}
	}
	return ts
}

// spread is the median of each bar with its low and high round.
type spread [][3]float64

func (s spread) Len() int                        { return len(s) }
func (s spread) XY(i int) (float64, float64)     { return float64(i), s[i][0] }
func (s spread) YError(i int) (float64, float64) { return s[i][0] - s[i][1], s[i][2] - s[i][0] }

// FileName is a file name for a workload and mode: prefix-workload, and
// the mode in lower case with its words joined by '-' when withMode is set.
func FileName(prefix string, g Group, withMode bool) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString("-")
	b.WriteString(g.Workload)
	if withMode && g.Mode != "" {
		b.WriteString("-")
		dash := false
		for _, r := range strings.ToLower(g.Mode) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
				dash = false
			} else if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.TrimRight(b.String(), "-")
}
