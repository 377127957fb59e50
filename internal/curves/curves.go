// Package curves draws training curves (a metric against the optimiser step, for one run
// or several side by side) with gonum/plot, for `aigc plot`.
package curves

import (
	"fmt"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Curve is one line of a chart: a metric against the step.
type Curve struct {
	Label  string
	Steps  []int
	Values []float64
	Run    int  // which run it is of: runs keep one colour across charts
	Eval   bool // evaluations: dashed, a mark at each (sparse) point
}

// Chart is one panel: curves sharing axes.
type Chart struct {
	Title, YLabel string
	Curves        []Curve
}

// Write draws the charts one above the other into w, as png, svg or pdf.
func Write(w io.Writer, format string, charts []Chart) error {
	const width, rowHeight = 8 * vg.Inch, 4.5 * vg.Inch
	height := rowHeight * vg.Length(len(charts))
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))}
	case "svg":
		c = vgsvg.New(width, height)
	case "pdf":
		c = vgpdf.New(width, height)
	default:
		return fmt.Errorf("curves: format %q (want png, svg or pdf)", format)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(charts), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4)}
	for i, ch := range charts {
		p, err := chartPlot(ch)
		if err != nil {
			return err
		}
		p.Draw(tiles.At(dc, 0, i))
	}
	_, err := c.WriteTo(w)
	return err
}

func chartPlot(ch Chart) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = ch.Title
	p.X.Label.Text = "step"
	p.Y.Label.Text = ch.YLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.XOffs = -vg.Points(8)
	p.Legend.YOffs = -vg.Points(4)
	for _, c := range ch.Curves {
		xys := make(plotter.XYs, 0, len(c.Steps))
		for i, s := range c.Steps {
			if v := c.Values[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				xys = append(xys, plotter.XY{X: float64(s), Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(c.Run)
		line.Width = vg.Points(1)
		if !c.Eval {
			p.Add(line)
			p.Legend.Add(c.Label, line)
			continue
		}
		line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		line.Width = vg.Points(1.8)
		marks, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		marks.Color = line.Color
		marks.Shape = draw.CircleGlyph{}
		marks.Radius = vg.Points(2.5)
		p.Add(line, marks)
		p.Legend.Add(c.Label, line, marks)
	}
	p.X.Min = 0
	if top, ok := settled(ch.Curves); ok && top < p.Y.Max {
		p.Y.Max = top
	}
	return p, nil
}

// settled is the highest value the curves take after the first 5% of their steps: the
// chart's top, so that the first steps' loss, often ten times the rest, does not flatten
// everything after it (their line leaves the chart at the top).
func settled(cs []Curve) (float64, bool) {
	last := 0
	for _, c := range cs {
		for _, s := range c.Steps {
			last = max(last, s)
		}
	}
	top, ok := math.Inf(-1), false
	for _, c := range cs {
		for i, s := range c.Steps {
			if v := c.Values[i]; 20*s >= last && !math.IsNaN(v) && !math.IsInf(v, 0) {
				top, ok = max(top, v), true
			}
		}
	}
	if !ok {
		return 0, false
	}
	return top + 0.05*math.Abs(top), true // a little room above
}
